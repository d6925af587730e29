"""``logctl tail`` of several threads in plain mode, as a real subprocess against a real hub."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import queue
import re
import time
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from helpers import HubProcess, TailProcess, publish, query, recv_until, run_cli, wait_for_horizon, wire_records, ws
from textual.pilot import Pilot

from logctl.core.records import LogRecord
from logctl.store import LogStore
from logctl.tail import tail_settings
from logctl.tail.app import TailApp
from logctl.tail.log_view import LogView
from logctl.tail.status_bar import StatusBar
from logctl.tail.thread_picker import ThreadPicker
from logctl.tail.title import TitleLine

T0 = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
#: ``thread │ time level message``, as plain output prints a record of a tail of several threads.
LINE = re.compile(r"^(?P<thread>\S+) +│ (?P<time>\S+) (?P<level>\S+) +(?P<message>.*)$")


def parsed(lines: list[str]) -> list[tuple[str, str]]:
    """(thread, message) of each line; fails on a line without the ``thread │`` prefix."""
    out = []
    for line in lines:
        match = LINE.match(line)
        assert match, f"not a tagged line: {line!r}"
        out.append((match["thread"], match["message"]))
    return out


def test_match_follows_three_producers_and_a_thread_that_starts_mid_stream(
    hub: HubProcess, store: LogStore, dsn: str, cli_env: dict[str, str], tails: list[TailProcess]
) -> None:
    """`tail --match 'job-*' --plain`: history and three producers' live records, each once, in the table's
    global order, tagged `thread │`; a fourth matching thread started later shows from its first record."""
    store.insert([LogRecord(t, f"{t} old {i}") for i in range(3) for t in ("job-a", "job-b", "job-c")])
    store.insert([LogRecord("other", "not matched")])
    tail = TailProcess(["--match", "job-*", "--plain", "--color", "never", "--server", hub.url], cli_env)
    tails.append(tail)
    history = parsed(tail.take(9))
    assert history == [(t, f"{t} old {i}") for i in range(3) for t in ("job-a", "job-b", "job-c")]

    with contextlib.ExitStack() as stack:
        producers = {t: stack.enter_context(ws(hub)) for t in ("job-a", "job-b", "job-c")}
        for rnd in range(5):
            for thread, conn in producers.items():
                publish(conn, wire_records(thread, rnd * 4, rnd * 4 + 4, message=f"{thread} live {{i}}"), producer=f"p-{thread}")
            if rnd == 2:  # a thread that did not exist when tail started
                with ws(hub) as late:
                    publish(late, wire_records("job-late", 0, 3, message="job-late live {i}"), producer="p-late")
                    recv_until(late, "ack")
        for conn in producers.values():
            for _ in range(5):
                recv_until(conn, "ack")  # one ack per publish frame, once its records are stored

    live = parsed(tail.take(5 * 4 * 3 + 3))
    table = query(dsn, "SELECT thread_id, message FROM thread_logs WHERE thread_id LIKE %s ORDER BY txid, id", ("job-%",))
    assert [*history, *live] == [(str(t), str(m)) for t, m in table]
    assert ("job-late", "job-late live 0") in live  # its very first record
    with pytest.raises(queue.Empty):
        tail.lines.get(timeout=1)  # nothing doubled, nothing from 'other'
    assert tail.proc.poll() is None


def test_named_threads_no_follow_and_json(hub: HubProcess, store: LogStore, dsn: str, cli_env: dict[str, str]) -> None:
    """`tail a b --no-follow`: both threads merged and tagged, padded to the longest name; --json is the usual record shape."""
    store.insert([LogRecord(t, f"{t}-{i}") for i in range(2) for t in ("a", "bbb", "c")])
    wait_for_horizon(dsn, timeout=60)  # history shows what lies below the xmin horizon (other sessions may hold it)
    out = run_cli(["tail", "a", "bbb", "--no-follow", "--server", hub.url], cli_env)
    assert out.returncode == 0, out.stderr
    assert [line.split(" 20", 1)[0] + " " + line.rsplit(" ", 1)[1] for line in out.stdout.splitlines()] == [
        "a   │ a-0", "bbb │ bbb-0", "a   │ a-1", "bbb │ bbb-1",
    ]
    out = run_cli(["tail", "a", "bbb", "--no-follow", "--json", "--server", hub.url], cli_env)
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [(r["thread_id"], r["message"]) for r in rows] == [("a", "a-0"), ("bbb", "bbb-0"), ("a", "a-1"), ("bbb", "bbb-1")]
    assert set(rows[0]) >= {"id", "thread_id", "message", "created_at", "level", "cursor"}


def test_a_glob_with_no_threads_yet_says_so(hub: HubProcess, cli_env: dict[str, str]) -> None:
    """A glob that matches nothing yet is named on stderr, and --no-follow exits 0."""
    out = run_cli(["tail", "--match", "none-*", "--no-follow", "--server", hub.url], cli_env)
    assert out.returncode == 0 and out.stdout == ""
    assert "threads matching 'none-*' have no records yet" in out.stderr


def test_limits_are_one_clear_line_and_exit_1(dsn: str, store: LogStore, cli_env: dict[str, str]) -> None:
    """Past the hub's limits (named threads, threads a glob matches), tail stops with the hub's reason, no traceback."""
    store.insert([LogRecord(f"job-{i}", "x") for i in range(3)])
    hub = HubProcess(dsn, cli_env, "--max-selection-threads", "2", "--max-match-threads", "2")
    try:
        out = run_cli(["tail", "--match", "job-*", "--no-follow", "--server", hub.url], cli_env)
        assert out.returncode == 1, out
        assert "matches more than 2 threads" in out.stderr and len(out.stderr.splitlines()) == 1, out.stderr
        out = run_cli(["tail", "a", "b", "c", "--no-follow", "--server", hub.url], cli_env)
        assert out.returncode == 1, out
        assert "names 3 threads" in out.stderr and len(out.stderr.splitlines()) == 1, out.stderr
        out = run_cli(["tail", "a", "b", "--no-follow", "--server", hub.url], cli_env)
        assert out.returncode == 0 and "threads 'a', 'b' have no records yet" in out.stderr
    finally:
        hub.kill()


def _run(coro: Coroutine[Any, Any, None]) -> None:
    asyncio.run(coro)


async def _until(pilot: Pilot[None], condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.05)


def test_viewer_gains_a_thread_that_starts_later_and_t_shows_only_one(hub: HubProcess, store: LogStore) -> None:
    """The viewer (headless) of `--match 'p-*'`: a new matching thread joins the title, the column and the T list;
    `o` in the list shows that thread alone, `a` all again, with every record still loaded."""

    async def scenario() -> None:
        store.insert([LogRecord(t, f"{t} {i}", "INFO", T0) for i in range(3) for t in ("p-a", "p-b")])
        app = TailApp(tail_settings([], match="p-*", server=hub.url), tz=dt.timezone.utc)
        async with app.run_test(size=(110, 24)) as pilot:
            view = app.query_one(LogView)
            title = app.query_one("#title", TitleLine)
            await _until(pilot, lambda: view.model.records_loaded == 6 and "● live" in str(app.query_one(StatusBar).render()))
            assert "p-* (2 threads: p-a, p-b)" in str(title.render())
            store.insert([LogRecord("p-latecomer", "first words", "WARN", T0)])
            await _until(pilot, lambda: view.model.records_loaded == 7)
            await _until(pilot, lambda: "p-* (3 threads: p-a, p-b, p-latecomer)" in str(title.render()))
            rows = "\n".join(view.render_line(y).text for y in range(view.size.height))
            assert "p-latecomer WARN   first words" in rows and "p-a         INFO   p-a 0" in rows, rows
            await pilot.press("T")
            await _until(pilot, lambda: isinstance(app.screen, ThreadPicker))
            await pilot.press("down", "down", "o")  # sorted: p-a, p-b, p-latecomer
            await _until(pilot, lambda: len(view.model.visible) == 1)
            assert view.model.entry(0).message == "first words" and view.model.records_loaded == 7  # type: ignore[union-attr]
            await pilot.press("a", "escape")
            await _until(pilot, lambda: len(view.model.visible) == 7 and not isinstance(app.screen, ThreadPicker))

    _run(scenario())
