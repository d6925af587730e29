"""Selections against a real hub: several threads and a glob as one stream, in global order, exactly once."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.parse
from collections.abc import Iterator

import pytest

from helpers import HubProcess, get_json, publish, query, recv_json, recv_until, wait_for_horizon, wait_until, ws
from logctl.core.cursor import Cursor
from logctl.core.merge import StreamMerge
from logctl.core.records import LogRecord
from logctl.core.selection import Selection
from logctl.store import LogStore
from logctl.tail.client import Event, Shown, TailClient, ThreadsKnown
from test_hub_subscribers import metric

#: Rows reach subscribers once below the xmin horizon, which other sessions' transactions on the
#: shared test server may hold back for a while: waits are generous (bounds, not speed tests).
pytestmark = pytest.mark.timeout(240)
WAIT = 60.0


def canary(hub: HubProcess) -> float:
    """A subscriber of its own thread still gets a record published now (within WAIT: the horizon may lag); seconds taken."""
    with ws(hub) as sub, ws(hub) as pub:
        sub.send(json.dumps({"type": "subscribe", "thread_id": "canary", "cursor": "now"}))
        recv_until(sub, "subscribed", WAIT)
        start = time.monotonic()
        publish(pub, [{"thread_id": "canary", "message": "still alive"}], ref="canary")
        assert recv_until(pub, "ack", WAIT)["accepted"] == 1
        assert recv_until(sub, "records", WAIT)["records"][-1]["message"] == "still alive"
        return time.monotonic() - start


def table_cursors(dsn: str, like: str | None = None, threads: tuple[str, ...] = ()) -> list[Cursor]:
    """The stream order of the selection's rows in the table: (txid, id) of every matching row."""
    rows = query(
        dsn,
        "SELECT txid::text::int8, id FROM thread_logs WHERE thread_id = ANY(%s) OR (%s::text IS NOT NULL AND thread_id LIKE %s)"
        " ORDER BY txid, id",
        (list(threads), like, like),
    )
    return [Cursor(int(t), int(i)) for t, i in rows]  # type: ignore[call-overload]


class Follower:
    """``TailClient`` following a selection in its own event loop: history, then live, collecting what it shows."""

    def __init__(self, hub: HubProcess, selection: Selection, *, limit: int = 10_000) -> None:
        self.client = TailClient(hub.url, selection)
        self.merge = StreamMerge()
        self.records: list[LogRecord] = []
        self.threads: list[tuple[str, ...]] = []
        self.limit = limit
        self.error: BaseException | None = None
        self.loaded = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._task: asyncio.Task[None] | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _sink(self, event: Event) -> None:
        if isinstance(event, Shown):
            self.records.extend(e for e in event.entries if isinstance(e, LogRecord))
        elif isinstance(event, ThreadsKnown):
            self.threads.append(event.threads)

    async def _main(self) -> None:
        page = await self.client.initial(self.limit)
        self.records.extend(self.merge.history(page))
        self.loaded.set()
        await self.client.follow(self.merge, self._sink)

    def _run(self) -> None:
        self._task = self._loop.create_task(self._main())
        try:
            self._loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            pass
        except BaseException as exc:  # reported by the test
            self.error = exc

    def stop(self) -> None:
        if self._task is not None:
            self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(10)

    def cursors(self) -> list[Cursor]:
        return [r.cursor for r in self.records if r.cursor is not None]


@pytest.fixture
def follower_stop() -> Iterator[list[Follower]]:
    followers: list[Follower] = []
    yield followers
    for f in followers:
        f.stop()


def produce(dsn: str, thread: str, n: int, stop: threading.Event) -> None:
    """One producer writing straight to PostgreSQL in small transactions (they commit out of id order with the others)."""
    with LogStore(dsn, max_size=1) as store:
        for i in range(n):
            if stop.is_set():
                return
            store.insert([LogRecord(thread_id=thread, message=f"{thread} {i}")] * (1 + i % 3))
            time.sleep(0.005)


@pytest.mark.both_layouts
def test_a_glob_follows_three_producers_a_late_thread_and_a_hub_restart_in_global_order(
    dsn: str, hub: HubProcess, follower_stop: list[Follower]
) -> None:
    """Three producers, a glob selection from the start, a fourth thread mid-stream, a hub restart: the table, exactly."""
    query(dsn, "INSERT INTO thread_logs (thread_id, message) VALUES ('build-1', 'before'), ('other', 'not mine')")
    wait_for_horizon(dsn, WAIT)
    follower = Follower(hub, Selection((), "build-*"))
    follower_stop.append(follower)
    assert follower.loaded.wait(20), follower.error
    stop = threading.Event()
    producers = [threading.Thread(target=produce, args=(dsn, f"build-{i}", 150, stop)) for i in (1, 2, 3)]
    producers.append(threading.Thread(target=produce, args=(dsn, "other", 150, stop)))
    for p in producers:
        p.start()
    try:
        wait_until(lambda: len(follower.records) > 60, timeout=WAIT)
        late = threading.Thread(target=produce, args=(dsn, "build-4", 60, stop))
        late.start()
        producers.append(late)
        wait_until(lambda: any(r.thread_id == "build-4" for r in follower.records), timeout=WAIT)
        hub.stop()  # mid-stream: the producers go on writing to the table meanwhile
        time.sleep(0.5)
        hub.start()
    finally:
        for p in producers:
            p.join(60)
    wait_for_horizon(dsn, WAIT)
    expected = table_cursors(dsn, like="build-%")
    wait_until(lambda: len(follower.records) >= len(expected), timeout=WAIT)
    time.sleep(0.5)  # anything extra (a duplicate) would arrive now
    assert follower.error is None
    got = follower.cursors()
    assert got == expected, f"{len(got)} received, {len(expected)} in the table"
    assert {r.thread_id for r in follower.records} == {"build-1", "build-2", "build-3", "build-4"}
    firsts = query(dsn, "SELECT min(id) FROM thread_logs WHERE thread_id = 'build-4'")
    assert any(r.id == firsts[0][0] for r in follower.records), "the late thread's very first record"
    assert any("build-4" in known for known in follower.threads), "the late thread was announced"


def test_named_threads_and_a_glob_merge_live_with_a_single_thread_subscription_on_the_same_connection(
    hub: HubProcess, dsn: str
) -> None:
    """A selection's frames carry its sub, a single thread's its thread_id; each gets its own rows in order."""
    with ws(hub) as sub, ws(hub) as pub:
        sub.send(json.dumps({"type": "subscribe", "thread_id": "deploy", "cursor": "now"}))
        assert recv_until(sub, "subscribed")["thread_id"] == "deploy"
        sub.send(json.dumps({"type": "subscribe", "sub": "mine", "threads": ["deploy"], "match": "job-?", "cursor": "now"}))
        subscribed = recv_until(sub, "subscribed")
        assert subscribed["sub"] == "mine" and subscribed["threads"] == ["deploy"] and "thread_id" not in subscribed
        publish(pub, [{"thread_id": t, "message": f"{t} {i}"} for i in range(5) for t in ("job-1", "deploy", "job-22", "job-2")])
        assert recv_until(pub, "ack")["accepted"] == 20
        single: list[dict[str, object]] = []
        merged: list[dict[str, object]] = []
        started: list[str] = []
        deadline = time.monotonic() + WAIT
        while (len(single) < 5 or len(merged) < 15) and time.monotonic() < deadline:
            frame = recv_json(sub, WAIT)
            if frame["type"] == "records" and "sub" in frame:
                assert frame["sub"] == "mine" and "thread_id" not in frame
                merged.extend(frame["records"])
            elif frame["type"] == "records":
                assert frame["thread_id"] == "deploy"
                single.extend(frame["records"])
            elif frame["type"] == "thread_started":
                assert frame["sub"] == "mine"
                assert not any(r["thread_id"] == frame["thread_id"] for r in merged), "announced before its records"
                started.append(str(frame["thread_id"]))
        assert [r["message"] for r in single] == [f"deploy {i}" for i in range(5)]
        assert {str(r["thread_id"]) for r in merged} == {"job-1", "job-2", "deploy"}
        cursors = [Cursor.parse(str(r["cursor"])) for r in merged]
        assert cursors == sorted(set(cursors))
        assert sorted(started) == ["job-1", "job-2"]
        sub.send(json.dumps({"type": "unsubscribe", "sub": "mine"}))
        assert recv_until(sub, "unsubscribed") == {"type": "unsubscribed", "sub": "mine"}


def test_selection_history_is_the_latest_across_threads_and_pages_back_through_all_of_them(
    hub: HubProcess, dsn: str
) -> None:
    """GET /admin/logs: the latest N across the selection, merged; before= pages reach the first row, none twice."""
    with ws(hub) as pub:
        for batch in range(6):  # several transactions, the threads' rows interleaved unevenly
            publish(pub, [{"thread_id": t, "message": f"{t} {batch}.{i}"} for t, n in (("a", 7), ("b", 1), ("c", 3))
                          for i in range(n * (batch % 3 + 1))])
            recv_until(pub, "ack")
    wait_for_horizon(dsn, WAIT)
    expected = table_cursors(dsn, threads=("a", "b"), like="c")
    base = f"{hub.http}/admin/logs?thread=a&thread=b&match=c"
    status, body = get_json(base + "&limit=10")
    assert status == 200 and isinstance(body, dict)
    assert body["threads"] == ["a", "b", "c"]
    assert [Cursor.parse(r["cursor"]) for r in body["logs"]] == expected[-10:]
    pages = [body["logs"]]
    while body["before"] is not None:
        status, body = get_json(base + f"&limit=7&before={body['before']}")
        assert status == 200 and isinstance(body, dict)
        pages.insert(0, body["logs"])
    assert [Cursor.parse(r["cursor"]) for page in pages for r in page] == expected
    status, body = get_json(base + f"&limit=9&after={expected[3]}")
    assert isinstance(body, dict) and [Cursor.parse(r["cursor"]) for r in body["logs"]] == expected[4:13]


def test_bad_and_huge_selections_get_precise_errors_while_a_canary_goes_on(dsn: str, cli_env: dict[str, str]) -> None:
    """Limits and malformed selections are refused with their sub and a precise code; nobody else notices."""
    hub = HubProcess(dsn, cli_env, "--max-selection-threads", "3", "--max-match-threads", "2")
    try:
        with ws(hub) as pub:
            publish(pub, [{"thread_id": f"many-{i}", "message": "x"} for i in range(3)])
            recv_until(pub, "ack")
        wait_for_horizon(dsn, WAIT)
        with ws(hub) as bad, ws(hub) as watcher, ws(hub) as pub:
            watcher.send(json.dumps({"type": "subscribe", "thread_id": "canary", "cursor": "now"}))
            recv_until(watcher, "subscribed", WAIT)
            cases: list[tuple[object, str]] = [
                ({"type": "subscribe", "sub": "s1", "threads": ["a", "b", "c", "d"]}, "too_many_threads"),
                ({"type": "subscribe", "sub": "s2", "match": "many-*"}, "too_many_matches"),
                ({"type": "subscribe", "sub": "s3", "threads": [f"t{i}" for i in range(20_000)]}, "too_many_threads"),
                ({"type": "subscribe", "sub": "s4", "threads": ["ok", {"x": 1}]}, "bad_thread_id"),
                ({"type": "subscribe", "sub": "s5", "match": "x" * 300}, "bad_match"),
                ({"type": "subscribe", "sub": "", "match": "x"}, "bad_sub"),
                ({"type": "subscribe", "sub": "s6", "thread_id": "a", "match": "x"}, "bad_frame"),
            ]
            for i, (frame, code) in enumerate(cases):
                bad.send(json.dumps(frame))
                error = recv_until(bad, "error")
                assert error["code"] == code, error
                publish(pub, [{"thread_id": "canary", "message": f"still alive {i}"}])
            got: list[str] = []
            deadline = time.monotonic() + WAIT
            while len(got) < len(cases) and time.monotonic() < deadline:
                got += [r["message"] for r in recv_until(watcher, "records", WAIT)["records"]]
            assert got == [f"still alive {i}" for i in range(len(cases))], "the canary missed records"
            first = {"type": "subscribe", "sub": "s1", "threads": ["a", "b", "c", "d"]}
            bad.send(json.dumps(first))
            assert recv_until(bad, "error")["sub"] == "s1"
            bad.send(json.dumps({"type": "ping", "ref": 1}))
            assert recv_until(bad, "pong")["ref"] == 1
        assert metric(hub, "limit_selection_threads_total") == 2
        assert metric(hub, "limit_match_threads_total") == 1
        for target, code in [
            ("thread=a&thread=b&thread=c&thread=d", "too_many_threads"),
            ("match=" + urllib.parse.quote("many-*"), "too_many_matches"),
            ("match=many-%3F&limit=0", "bad_limit"),
        ]:
            status, body = get_json(f"{hub.http}/admin/logs?{target}")
            assert status == 400 and isinstance(body, dict) and body["error"]["code"] == code, body
        status, body = get_json(f"{hub.http}/admin/logs?match=many-1")
        assert status == 200 and isinstance(body, dict) and body["count"] == 1
        assert canary(hub) < WAIT
    finally:
        hub.stop()


def test_the_tail_client_loads_a_selection_and_pages_back_across_all_its_threads(hub: HubProcess, dsn: str) -> None:
    """TailClient with a Selection: the latest N merged, older pages with before=, and the threads the hub named."""
    with ws(hub) as pub:
        for batch in range(4):
            publish(pub, [{"thread_id": t, "message": f"{t} {batch}.{i}"} for i in range(5) for t in ("job-a", "job-b", "x")])
            recv_until(pub, "ack")
    wait_for_horizon(dsn, WAIT)
    expected = table_cursors(dsn, threads=("x",), like="job-_")
    client = TailClient(hub.url, Selection(("x",), "job-?"))
    assert client.thread_id is None

    async def load() -> tuple[list[Cursor | None], list[Cursor | None]]:
        first = await client.initial(25)
        older = await client.history(limit=1000, before=first.before)
        return [r.cursor for r in first.records], [r.cursor for r in older.records]

    latest, older = asyncio.run(load())
    assert latest == expected[-25:]
    assert older == expected[:-25]
    assert client.threads == ("x", "job-a", "job-b")
    one = TailClient(hub.url, Selection(("x",)))
    assert one.thread_id == "x" and one.history_url.endswith("/admin/runs/x/logs")
