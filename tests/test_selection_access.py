"""A selection is never trimmed in silence: real tokens against a real hub, and a thread the hub cannot read.

Scopes are per hub, not per thread (docs/security.md): a ``read`` token reads every thread, so a
selection is served whole or refused whole, with its ``sub``. A thread that the hub cannot read is
the one way a selection's stream goes on without one of its threads, and it is named.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot
from websockets.sync.client import ClientConnection

from helpers import (
    HubProcess, TailProcess, publish, recv_json, recv_until, run_cli, scoped_tokens, sql_insert, wait_for_horizon, wait_until, ws,
)
from logctl.core.merge import Marker
from logctl.core.records import LogRecord
from logctl.store import LogStore
from logctl.tail import tail_settings
from logctl.tail.app import TailApp
from logctl.tail.log_view import LogView
from logctl.tail.status_bar import StatusBar
from test_access import _headers, http, open_ws
from test_hub_subscribers import poison

pytestmark = pytest.mark.timeout(240)
#: Rows reach subscribers once below the xmin horizon, which other sessions may hold back: generous bounds.
WAIT = 60.0
SELECTION = {"type": "subscribe", "sub": "mine", "threads": ["a", "b"], "match": "build-*", "cursor": None}
QUERY = "/admin/logs?" + urllib.parse.urlencode([("thread", "a"), ("thread", "b"), ("match", "build-*")])


@pytest.fixture
def tokens(tmp_path: Path) -> dict[str, str]:
    """Tokens by scope name (helpers.scoped_tokens)."""
    return scoped_tokens(tmp_path)


@pytest.fixture
def secure_hub(dsn: str, cli_env: dict[str, str], tokens: dict[str, str]) -> Iterator[HubProcess]:
    """A real hub that requires the tokens of :func:`tokens`."""
    proc = HubProcess(dsn, cli_env, "--tokens-file", tokens["path"])
    yield proc
    proc.close()


def connected(hub: HubProcess, token: str) -> ClientConnection:
    conn = open_ws(hub, _headers(token))
    assert not isinstance(conn, int), conn
    return conn


class Canary:
    """A subscriber of its own thread on a read+write token: it must get every record published meanwhile."""

    def __init__(self, hub: HubProcess, token: str) -> None:
        self.sub, self.pub = connected(hub, token), connected(hub, token)
        self.sub.send(json.dumps({"type": "subscribe", "thread_id": "canary", "cursor": "now"}))
        recv_until(self.sub, "subscribed", WAIT)
        self.sent = 0

    def chirp(self) -> None:
        publish(self.pub, [{"thread_id": "canary", "message": f"alive {self.sent}"}])
        assert recv_until(self.pub, "ack", WAIT)["accepted"] == 1
        self.sent += 1

    def heard(self) -> list[str]:
        got: list[str] = []
        deadline = time.monotonic() + WAIT
        while len(got) < self.sent and time.monotonic() < deadline:
            got += [r["message"] for r in recv_until(self.sub, "records", WAIT)["records"]]
        return got

    def close(self) -> None:
        self.sub.close()
        self.pub.close()


def _env(cli_env: dict[str, str], hub: HubProcess, token: str) -> dict[str, str]:
    env = {k: v for k, v in cli_env.items() if k not in ("LOGCTL_TOKEN", "LOGCTL_TOKEN_FILE")}
    return {**env, "LOGCTL_SERVER": hub.url, "LOGCTL_TOKEN": token}


def test_a_read_token_gets_every_thread_of_a_selection_and_a_token_without_read_is_refused_by_sub(
    secure_hub: HubProcess, store: LogStore, dsn: str, cli_env: dict[str, str], tokens: dict[str, str]
) -> None:
    """Read token: the named threads and the glob's, all of them, over the stream, /admin/logs and `tail a b`.
    Write-only token: the selection is refused whole (`forbidden` carrying its sub, 403, tail exits 5); a canary goes on."""
    store.insert([LogRecord(t, f"{t} {i}") for i in range(2) for t in ("a", "b", "build-1", "build-2", "other")])
    wait_for_horizon(dsn, WAIT)
    canary = Canary(secure_hub, tokens["both"])
    try:
        with connected(secure_hub, tokens["read"]) as reader:
            reader.send(json.dumps(SELECTION))
            subscribed = recv_until(reader, "subscribed", WAIT)
            assert subscribed["sub"] == "mine" and subscribed["threads"] == ["a", "b", "build-1", "build-2"]
            got = recv_until(reader, "records", WAIT)["records"]
            assert {r["thread_id"] for r in got} == {"a", "b", "build-1", "build-2"} and len(got) == 8
        status, _, body = http(secure_hub, "GET", QUERY, _headers(tokens["read"]))
        page = json.loads(body)
        assert status == 200 and page["threads"] == ["a", "b", "build-1", "build-2"] and page["count"] == 8
        canary.chirp()

        with connected(secure_hub, tokens["write"]) as writer:
            writer.send(json.dumps(SELECTION))
            refused = recv_json(writer, WAIT)
            assert (refused["type"], refused["code"], refused["sub"]) == ("error", "forbidden", "mine"), refused
            assert "read scope" in refused["message"] and "thread_id" not in refused
            canary.chirp()
            writer.send(json.dumps({"type": "ping", "ref": 7}))
            assert recv_until(writer, "pong", WAIT)["ref"] == 7  # the connection stays open
        status, _, body = http(secure_hub, "GET", QUERY, _headers(tokens["write"]))
        assert status == 403 and json.loads(body)["error"]["code"] == "forbidden"
        canary.chirp()

        shown = run_cli(["tail", "a", "b", "--no-follow", "--json"], _env(cli_env, secure_hub, tokens["read"]))
        assert shown.returncode == 0, shown.stderr
        assert sorted(json.loads(line)["thread_id"] for line in shown.stdout.splitlines()) == ["a", "a", "b", "b"]
        refused_tail = run_cli(["tail", "a", "b", "--plain"], _env(cli_env, secure_hub, tokens["write"]), timeout=60)
        assert refused_tail.returncode == 5 and refused_tail.stdout == ""
        (line,) = [x for x in refused_tail.stderr.splitlines() if x.strip()]
        assert "the hub refused the token" in line and "read scope" in line
        canary.chirp()
        assert canary.heard() == [f"alive {i}" for i in range(canary.sent)], "the canary missed records"
    finally:
        canary.close()
    assert secure_hub.stop() == 0
    log = secure_hub.stderr()
    for secret in (tokens["read"], tokens["write"], tokens["both"]):
        assert secret not in log


def test_a_thread_the_hub_cannot_read_is_named_to_its_selections_which_go_on(
    hub: HubProcess, dsn: str, cli_env: dict[str, str], tails: list[TailProcess]
) -> None:
    """One thread of a selection turns unreadable: its subscriber gets thread_unreadable with its sub and the thread,
    `tail fine poisoned --plain` prints a warning and keeps following; the other thread's records still arrive."""
    sql_insert(dsn, [("fine", "before", None), ("poisoned", "still readable", None)])
    wait_for_horizon(dsn, WAIT)
    tail = TailProcess(["fine", "poisoned", "--plain", "--color", "never", "--server", hub.url], cli_env)
    alone = TailProcess(["poisoned", "--plain", "--color", "never", "--server", hub.url], cli_env)
    tails.extend([tail, alone])
    first = tail.take(2, timeout=WAIT)
    assert first[0].endswith("before") and first[1].endswith("still readable"), first
    assert alone.take(1, timeout=WAIT)[0].endswith("still readable")
    with ws(hub) as victim, ws(hub) as bystander:
        victim.send(json.dumps({"type": "subscribe", "sub": "both", "threads": ["fine", "poisoned"], "cursor": "now"}))
        assert recv_until(victim, "subscribed", WAIT)["threads"] == ["fine", "poisoned"]
        bystander.send(json.dumps({"type": "subscribe", "thread_id": "elsewhere", "cursor": "now"}))
        recv_until(bystander, "subscribed", WAIT)
        poison(dsn, "poisoned")
        error = recv_until(victim, "error", WAIT)
        assert (error["code"], error["sub"], error["thread_id"]) == ("thread_unreadable", "both", "poisoned"), error
        assert "postgres" not in error["message"] and "@" not in error["message"]
        sql_insert(dsn, [("fine", "after the poison", None), ("elsewhere", "unaffected", None)])
        assert [r["message"] for r in recv_until(victim, "records", WAIT)["records"]] == ["after the poison"]
        assert recv_until(bystander, "records", WAIT)["records"][-1]["message"] == "unaffected"
    assert tail.take(1, timeout=WAIT)[0].endswith("after the poison")
    wait_until(lambda: any("warning: thread 'poisoned'" in line for line in tail.err), timeout=WAIT)
    assert tail.proc.poll() is None, tail.err
    (warning,) = [line for line in tail.err if "poisoned" in line]
    assert "the other threads go on" in warning and warning.startswith("logctl: warning:"), warning
    wait_until(lambda: any("warning: thread 'poisoned'" in line for line in alone.err), timeout=WAIT)
    assert alone.proc.poll() is None, alone.err  # one thread: told, and still waiting for it
    assert not any("the other threads go on" in line for line in alone.err), alone.err


def test_the_viewer_shows_a_warning_line_for_a_thread_left_out_and_keeps_the_others_live(
    hub: HubProcess, store: LogStore, dsn: str
) -> None:
    """The viewer (headless) of `fine poisoned`: a WARN marker line names the unreadable thread; fine's records still come."""

    async def scenario() -> None:
        store.insert([LogRecord("fine", "before"), LogRecord("poisoned", "readable")])
        app = TailApp(tail_settings(["fine", "poisoned"], server=hub.url), tz=dt.timezone.utc)
        async with app.run_test(size=(120, 24)) as pilot:
            view = app.query_one(LogView)

            def messages() -> list[str]:
                return [e.text if isinstance(e, Marker) else e.message for e in view.model.entries]

            await until(pilot, lambda: view.model.records_loaded == 2 and "● live" in str(app.query_one(StatusBar).render()))
            poison(dsn, "poisoned")
            await until(pilot, lambda: any("warning: thread 'poisoned'" in m for m in messages()))
            store.insert([LogRecord("fine", "after the poison")])
            await until(pilot, lambda: messages()[-1] == "after the poison")
            (marker,) = [e for e in view.model.entries if isinstance(e, Marker)]
            assert marker.level == "WARN" and "the other threads go on" in marker.text
            assert "● live" in str(app.query_one(StatusBar).render())

    asyncio.run(scenario())


async def until(pilot: Pilot[None], condition: Callable[[], bool], timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.05)
