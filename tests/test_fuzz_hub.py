"""Fuzzing the hub's edge: no input from one client may stop the hub for anyone else (issue 7).

Hypothesis drives one live hub (a real ``logctl serve``, real WebSocket and HTTP clients) for
the whole module. Each example is an attack: adversarial frames on a connection of its own
(the grammar of docs/protocol.md with wrong types, lone surrogates as JSON escapes, control
characters, extreme numbers, timestamps and cursors, huge and deeply nested values, random
bytes, invalid UTF-8), or adversarial HTTP requests. After every example, while the attacker
is still connected:

- the attacker's connection is open (or closed with 1007/1009, where the WebSocket layer must
  close it), and every frame it sent was answered;
- the history of every thread it published to can be read (no 5xx);
- a canary publisher and a canary subscriber, on a thread and connections of their own, get
  their ack and their live record within ``BOUND`` seconds;
- ``GET /healthz`` agrees: 200 ``ok`` while the canaries work;
- the hub process is alive and its memory stays bounded.

Thread ids and producer ids get a fresh prefix per example, so rows stored by one example
cannot break another and a shrunk example is the real culprit. A hub that an example broke
is restarted before the next one. Examples: 30 in CI (``examples(30)``), a tenth locally;
``LOGCTL_FUZZ_EXAMPLES=N`` runs N.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import datetime as dt
import http.client
import json
import os
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from fuzz_vocabulary import METHODS, Namespace, Wire, attacks, paths, published_threads, queries, rename
from helpers import HubProcess, cli_environment, examples, get_json, isolated_schema, migrate, query, recv_json, ws

BOUND = 5.0  # seconds: an honest client's ack and live record, after any attack
REPLY_BOUND = 10.0  # seconds: the attacker's own answers (its acks wait for commits)
RSS_BOUND = 512 * 1024 * 1024  # bytes: the hub's resident memory after any attack (~50 MiB idle)
EXAMPLES = int(os.environ.get("LOGCTL_FUZZ_EXAMPLES") or examples(30))
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=dt.timedelta(seconds=60),  # the waits inside are bounded; this catches what is not
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
pytestmark = pytest.mark.timeout(600 + 10 * EXAMPLES)  # a failing run also shrinks (Hypothesis stops that after 5 min)

# -- the hub under attack, and its canaries --------------------------------------------------


class DrainedHub(HubProcess):
    """A hub whose stdout and stderr are read all the time (a full pipe would freeze it), last lines kept."""

    def start(self) -> None:
        super().start()
        self.log: collections.deque[str] = collections.deque(maxlen=40)
        assert self.proc is not None
        for stream in (self.proc.stdout, self.proc.stderr):
            threading.Thread(target=self._drain, args=(stream,), daemon=True).start()

    def _drain(self, stream: Any) -> None:
        for line in stream:
            self.log.append(line.rstrip("\n"))

    def rss(self) -> int:
        """Resident memory of the hub process, in bytes."""
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0


class Canary:
    """An honest publisher and subscriber of a thread of their own, run on a thread of their own."""

    def __init__(self, hub: DrainedHub, latencies: list[float]) -> None:
        self.hub = hub
        self.thread_id = f"canary-{uuid.uuid4().hex[:8]}"
        self.producer = f"canary-{uuid.uuid4()}"
        self.seq = -1
        self.pub: ClientConnection | None = None
        self.sub: ClientConnection | None = None
        self.connections = contextlib.ExitStack()
        self.pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="canary")
        self.latencies = latencies  # seconds from publish to the live record, per good round

    def check(self) -> list[str]:
        """One round on the canary's thread: what went wrong (nothing, when all is well)."""
        try:
            return self.pool.submit(self._round).result(timeout=4 * BOUND + 10)
        except concurrent.futures.TimeoutError:
            return [f"canary: a round did not end within {4 * BOUND + 10} s"]

    def close(self) -> None:
        self.pool.submit(self._disconnect).result(timeout=30)
        self.pool.shutdown()

    def _disconnect(self) -> None:
        self.connections.close()
        self.pub = self.sub = None

    def _connect(self) -> None:
        self._disconnect()
        # No keepalive pings: their payload comes from the random module, on a thread of the
        # client's own, while Hypothesis generates (it warns about that).
        self.pub = self.connections.enter_context(connect(self.hub.url + "/ws", close_timeout=1, ping_interval=None))
        self.sub = self.connections.enter_context(connect(self.hub.url + "/ws", close_timeout=1, ping_interval=None))
        self.sub.send(json.dumps({"type": "subscribe", "thread_id": self.thread_id, "cursor": "now"}))
        _await(self.sub, lambda f: f["type"] == "subscribed", BOUND)

    def _round(self) -> list[str]:
        try:
            if self.pub is None or self.sub is None:
                self._connect()
        except (OSError, ConnectionClosed, TimeoutError) as exc:
            return [f"canary could not connect and subscribe: {exc!r}"]
        assert self.pub is not None and self.sub is not None
        self.seq += 1
        seq, started = self.seq, time.monotonic()
        problems: list[str] = []
        try:
            self.pub.send(json.dumps({"type": "publish", "producer": self.producer, "records": [
                {"seq": seq, "thread_id": self.thread_id, "message": f"canary {seq}"}]}))
            _await(self.pub, lambda f: f["type"] == "ack" and isinstance(f.get("upto"), int) and f["upto"] >= seq, BOUND)
        except (TimeoutError, ConnectionClosed) as exc:
            problems.append(f"canary publisher: no ack within {BOUND} s ({exc!r})")
        try:
            _await(self.sub, lambda f: f["type"] == "records" and not f.get("pending")
                   and any(r.get("seq") == seq for r in f["records"]), BOUND)
        except (TimeoutError, ConnectionClosed) as exc:
            problems.append(f"canary subscriber: its live record did not arrive within {BOUND} s ({exc!r})")
        if problems:
            self._disconnect()  # the next round starts afresh
        else:
            self.latencies.append(time.monotonic() - started)
        return problems


def _local_ports(pid: int) -> set[int]:
    """The local TCP ports of process ``pid``'s sockets (Linux /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[9] in inodes:
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def _await(conn: ClientConnection, wanted: Any, bound: float) -> dict[str, Any]:
    """The first frame for which ``wanted(frame)`` holds; TimeoutError after ``bound`` seconds."""
    deadline = time.monotonic() + bound
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no such frame within {bound} s")
        frame = recv_json(conn, left)
        if wanted(frame):
            return frame


class Target:
    """The hub that all examples share, with its canaries; restarted when an example broke it."""

    def __init__(self, dsn: str, env: dict[str, str]) -> None:
        self.dsn, self.env = dsn, env
        self.hub = DrainedHub(dsn, env)
        self.latencies: list[float] = []
        self.canary = Canary(self.hub, self.latencies)
        self.restarts = 0
        self.max_rss = 0
        self.suspect = False  # the last example broke the hub: restart it before the next

    def ensure_well(self) -> None:
        """Before an example: a hub whose canaries work (a fresh one if the last example broke it)."""
        assert self.hub.proc is not None
        if not self.suspect and self.hub.proc.poll() is None and not self.canary.check():
            return
        self.canary.close()
        if self.hub.proc.poll() is None:
            self.hub.kill()
        self.hub = DrainedHub(self.dsn, self.env)
        self.canary = Canary(self.hub, self.latencies)
        self.restarts += 1
        deadline = time.monotonic() + 30  # a fresh hub gets longer: it is not under attack
        while problems := self.canary.check():
            log = "\n".join(self.hub.log)
            assert time.monotonic() < deadline, f"a freshly started hub fails its canaries: {problems}\n{log}"
        self.suspect = False

    def verdict(self) -> tuple[list[str], int, Any]:
        """After an attack: the canaries' problems, and what /healthz says."""
        problems = self.canary.check()
        deadline = time.monotonic() + 60
        while problems and self._horizon_held_elsewhere() and time.monotonic() < deadline:
            problems = self.canary.check()  # not the hub's doing: ask again once that transaction ends
        try:
            status, body = get_json(self.hub.http + "/healthz")
        except OSError as exc:
            status, body = 0, repr(exc)
        return problems, status, body

    def _horizon_held_elsewhere(self) -> bool:
        """Whether a writing transaction over a second old, of some other client than this hub, holds the xmin horizon.

        Live records wait for the horizon (docs/protocol.md), and it is the whole cluster's: a
        long transaction of another test run on a shared server delays them through no fault
        of the hub.
        """
        assert self.hub.proc is not None
        holders = query(self.dsn, "SELECT client_port FROM pg_stat_activity WHERE backend_xid IS NOT NULL"
                        " AND clock_timestamp() - xact_start > interval '1 second'")
        mine = _local_ports(self.hub.proc.pid)
        return any(port not in mine for (port,) in holders)

    def close(self) -> None:
        self.canary.close()
        self.hub.close()


@pytest.fixture(scope="module")
def target(server_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """One live hub, over a schema of its own, for all the examples of this module."""
    with isolated_schema(server_dsn) as dsn:
        migrate(dsn)
        shared = Target(dsn, cli_environment(tmp_path_factory.mktemp("fuzz")))
        try:
            yield shared
        finally:
            shared.close()
            if shared.latencies:  # shown with pytest -s
                print(f"\nfuzz: {len(shared.latencies)} canary rounds, slowest {max(shared.latencies):.3f} s, "
                      f"hub restarts {shared.restarts}, hub RSS at most {shared.max_rss >> 20} MiB")


PRIMARY = frozenset({"ack", "pong", "subscribed", "unsubscribed"})


def _answers(conn: ClientConnection, sent: int) -> tuple[int, int | None, str | None]:
    """Read the attacker's answers until every frame has one, the bound passes, or the hub closes.

    Returns how many frames were answered (an ack, pong, subscribed, unsubscribed, or an error
    about the whole frame, i.e. with no record ``index``), the close code if the hub closed the
    connection, and a frame that was not JSON, if any.
    """
    answered, deadline = 0, time.monotonic() + REPLY_BOUND
    while answered < sent and time.monotonic() < deadline:
        try:
            text = conn.recv(timeout=max(0.01, deadline - time.monotonic()))
        except TimeoutError:
            break
        except ConnectionClosed as exc:
            return answered, exc.rcvd.code if exc.rcvd else 1006, None
        try:
            frame = json.loads(text)
        except ValueError:
            return answered, None, repr(text[:200])
        kind = frame.get("type")
        if kind in PRIMARY or (kind == "error" and "index" not in frame):
            answered += 1
    return answered, None, None


# -- the properties ---------------------------------------------------------------------------


@FUZZ_SETTINGS
@given(attack=attacks())
def test_no_frame_stops_the_hub_for_anyone_else(target: Target, attack: list[Wire]) -> None:
    """Any WebSocket frames from one client: it gets an answer to each, its thread histories stay readable, other clients keep their acks and live records, /healthz tells the truth."""
    target.ensure_well()
    names = Namespace()
    attack = [rename(w, names) for w in attack]
    hub = target.hub
    with ws(hub, close_timeout=1) as conn:
        sent = 0
        for wire in attack:
            try:
                conn.send(wire.payload, text=wire.text)
            except ConnectionClosed:
                break
            sent += 1
        try:
            conn.send(json.dumps({"type": "ping", "ref": "fuzz-end"}))
            sent += 1
        except ConnectionClosed:
            pass
        answered, close_code, garbage = _answers(conn, sent)
        histories = {tid: get_json(f"{hub.http}/admin/runs/{urllib.parse.quote(tid.encode('utf-8', 'surrogatepass'), safe='')}/logs?limit=5")[0]
                     for tid in published_threads(attack[:sent])}
        canary, health, body = target.verdict()  # the attacker is still connected
    alive = hub.proc is not None and hub.proc.poll() is None
    target.suspect = not alive or bool(canary) or health != 200  # then the next example gets a fresh hub
    rss = hub.rss() if alive else 0
    target.max_rss = max(target.max_rss, rss)
    log = "\n".join(hub.log)
    assert alive, f"the hub exited with {hub.proc.returncode if hub.proc else None}:\n{log}"
    allowed = {w.may_close for w in attack[:sent]} - {None}
    assert close_code is None or close_code in allowed, f"the hub closed the attacker's connection with {close_code}:\n{log}"
    assert garbage is None, f"the hub sent a frame that is not JSON: {garbage}"
    assert close_code is not None or answered >= sent, f"{sent - answered} of {sent} frames got no answer within {REPLY_BOUND} s:\n{log}"
    assert all(status < 500 for status in histories.values()), f"a published thread's history fails: {histories}\n{log}"
    assert not canary, f"{canary}; /healthz said {health} {body}\n{log}"
    assert health == 200 and isinstance(body, dict) and body.get("status") == "ok", f"canaries work but /healthz said {health} {body}"
    assert rss < RSS_BOUND, f"the hub holds {rss >> 20} MiB after the attack"


@FUZZ_SETTINGS
@given(method=st.sampled_from(METHODS), path=paths, query=queries)
def test_no_http_request_breaks_the_hub(target: Target, method: str, path: str, query: str) -> None:
    """Any HTTP request gets a client error at worst, never a 5xx; methods other than GET and HEAD get 405; other clients keep working."""
    target.ensure_well()
    conn = http.client.HTTPConnection("127.0.0.1", target.hub.port, timeout=BOUND * 2)
    try:
        conn.request(method, path + ("?" + query if query else ""))
        response = conn.getresponse()
        status, allow, body = response.status, response.getheader("Allow") or "", response.read()
    finally:
        conn.close()
    canary, health, health_body = target.verdict()
    target.suspect = bool(canary) or health != 200
    assert status < 500, f"{method} {path}?{query} gave {status}: {body[:300]!r}"
    if method not in ("GET", "HEAD"):
        assert status == 405 and "GET" in allow, f"{method} {path} gave {status} (Allow: {allow!r}), not 405"
    assert not canary, f"{canary}; /healthz said {health} {health_body}"
    assert health == 200, f"canaries work but /healthz said {health} {health_body}"
