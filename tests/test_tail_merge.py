"""The pure history + live merge: exactly once, in order, across overlaps and reconnects."""

from __future__ import annotations

import dataclasses
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import examples
from logctl.core.cursor import Cursor
from logctl.core.merge import HistoryPage, Marker, StreamMerge, parse_history, parse_record
from logctl.core.records import LogRecord
from logctl.errors import ProtocolError


def rec(txid: int, rid: int, *, key: tuple[str, int] | None = None, message: str | None = None) -> LogRecord:
    """A committed record with cursor ``txid-rid``."""
    return LogRecord(
        thread_id="t",
        message=message or f"m{rid}",
        id=rid,
        cursor=Cursor(txid, rid),
        producer_id=key[0] if key else None,
        seq=key[1] if key else None,
    )


def pending(record: LogRecord) -> LogRecord:
    """The pending copy of a record, as broadcast during a database outage."""
    return dataclasses.replace(record, id=None, cursor=None)


def ids(records: list[LogRecord]) -> list[int | None]:
    return [r.id for r in records]


def test_history_then_live_drops_the_overlap() -> None:
    """Live records at or below the history's last cursor are dropped; later ones pass."""
    m = StreamMerge()
    shown = m.history(HistoryPage((rec(10, 1), rec(10, 2), rec(11, 3)), Cursor(11, 3), None))
    assert ids(shown) == [1, 2, 3]
    assert ids(m.live([rec(10, 2), rec(11, 3), rec(12, 4)])) == [4]
    assert m.cursor == Cursor(12, 4)
    assert m.dropped == 2


def test_resume_cursor_comes_from_the_history_horizon() -> None:
    """An empty history still yields the resume cursor to subscribe from."""
    m = StreamMerge()
    assert m.history(HistoryPage((), Cursor.horizon(500), None)) == []
    assert m.cursor == Cursor(500, 0)
    assert ids(m.live([rec(499, 7), rec(500, 8)])) == [8]


def test_cursor_order_is_txid_then_id_not_id() -> None:
    """A record with a smaller id but a later transaction is still new."""
    m = StreamMerge()
    m.history(HistoryPage((rec(10, 50),), Cursor(10, 50), None))
    assert ids(m.live([rec(11, 40)])) == [40]


def test_pending_then_committed_is_shown_once_and_advances_the_cursor() -> None:
    """A record shown as pending is not shown again when it arrives committed."""
    m = StreamMerge()
    m.history(HistoryPage((), Cursor(5, 0), None))
    r = rec(7, 3, key=("p", 1))
    assert m.live([pending(r)], pending=True) == [pending(r)]
    assert m.live([r]) == []
    assert m.cursor == Cursor(7, 3)
    assert m.live([pending(r)], pending=True) == []


def test_pending_records_without_a_key_are_always_shown() -> None:
    """A pending record without a producer key cannot be deduplicated and is shown."""
    m = StreamMerge(Cursor(1, 0))
    plain = LogRecord(thread_id="t", message="x")
    assert m.live([plain, plain], pending=True) == [plain, plain]


def test_live_frames_before_history_are_held_back() -> None:
    """Frames that arrive before the first history page are merged after it, deduplicated."""
    m = StreamMerge()
    assert m.live([rec(11, 3), rec(12, 4)]) == []
    shown = m.history(HistoryPage((rec(10, 1), rec(11, 3)), Cursor(11, 3), None))
    assert ids(shown) == [1, 3, 4]


def test_older_pages_prepend_only_records_above_the_oldest() -> None:
    """A ``before=`` page adds records older than the oldest shown, in order, once."""
    m = StreamMerge()
    m.history(HistoryPage((rec(10, 5), rec(10, 6)), Cursor(10, 6), Cursor(10, 5)))
    assert m.before == Cursor(10, 5)
    older = m.older(HistoryPage((rec(9, 3), rec(10, 4), rec(10, 5)), None, Cursor(9, 3)))
    assert ids(older) == [3, 4]
    assert m.oldest == Cursor(9, 3)
    assert m.before == Cursor(9, 3)
    assert m.older(HistoryPage((rec(9, 3),), None, None)) == []
    assert m.before is None


def test_reconnect_marker_counts_caught_up_records() -> None:
    """The marker says how many records the reconnect caught up."""
    m = StreamMerge(Cursor(1, 0))
    m.begin_catch_up()
    m.live([rec(2, 1), rec(2, 2)])
    m.live([rec(2, 2)])
    marker = m.end_catch_up()
    assert isinstance(marker, Marker)
    assert marker.text == "reconnected: 2 records caught up"
    m.begin_catch_up()
    assert m.end_catch_up().text == "reconnected: 0 records caught up"
    m.begin_catch_up()
    m.live([rec(3, 1)])
    assert m.end_catch_up().text == "reconnected: 1 record caught up"


def test_parse_history_reads_the_api_shape() -> None:
    """The history body's records, resume cursor and paging cursor are parsed."""
    body = {
        "logs": [
            {"id": 7, "thread_id": "t1", "message": "hi", "created_at": "2026-11-30T10:30:00.123456Z",
             "level": "warn", "cursor": "48212-7", "producer_id": "p", "seq": 4}
        ],
        "count": 1,
        "cursor": "48213-0",
        "before": None,
    }
    page = parse_history(body)
    (r,) = page.records
    assert (r.id, r.level, r.cursor, r.key) == (7, "WARN", Cursor(48212, 7), ("p", 4))
    assert r.created_at is not None and r.created_at.microsecond == 123456
    assert page.resume == Cursor(48213, 0) and page.before is None


def test_parse_record_rejects_garbage() -> None:
    """A record without a message or with a bad cursor is a ProtocolError, not a crash."""
    with pytest.raises(ProtocolError):
        parse_record({"id": 1})
    with pytest.raises(ProtocolError):
        parse_record({"message": "x", "cursor": "nope"})
    with pytest.raises(ProtocolError):
        parse_record([1, 2])


# -- property: no gap, no duplicate, in order ------------------------------------------


@st.composite
def streams(draw: st.DrawFn) -> list[LogRecord]:
    """A thread's committed stream: cursors increase, ids do not (they commit out of order)."""
    n = draw(st.integers(0, 40))
    ids_ = draw(st.permutations(list(range(1, n + 1))))
    out: list[LogRecord] = []
    txid = 100
    for i, rid in enumerate(ids_):
        txid += draw(st.integers(1, 3))
        keyed = draw(st.booleans())
        out.append(rec(txid, rid, key=("prod", i) if keyed else None))
    return out


Action = tuple[str, int]
actions = st.lists(
    st.tuples(st.sampled_from(["frame", "frame", "frame", "dup", "pending", "late_pending", "reconnect", "older"]),
              st.integers(0, 6)),
    max_size=30,
)


@settings(max_examples=examples(300), deadline=None)
@given(stream=streams(), split=st.floats(0, 1), limit=st.integers(1, 50), early=st.integers(0, 3),
       plan=actions, seed=st.integers(0, 2**16))
def test_merge_shows_every_record_once_in_order(
    stream: list[LogRecord], split: float, limit: int, early: int, plan: list[Action], seed: int
) -> None:
    """Whatever the overlaps, replays, pending copies and reconnects: no gap, no duplicate, in order."""
    rng = random.Random(seed)
    n = len(stream)
    h = int(split * n)
    first_loaded = max(0, h - limit)
    m = StreamMerge()
    display: list[LogRecord] = []
    hub_pos = h  # next stream index the hub will deliver
    delivered = h

    def deliver(k: int) -> None:
        nonlocal hub_pos, delivered
        frame = stream[hub_pos:hub_pos + k]
        hub_pos += len(frame)
        delivered = max(delivered, hub_pos)
        display.extend(m.live(frame))

    # frames from a subscription that raced ahead of the history page
    deliver(min(early, n - h))
    page = HistoryPage(
        tuple(stream[first_loaded:h]),
        stream[h - 1].cursor if h else None,
        stream[first_loaded].cursor if first_loaded > 0 else None,
    )
    display.extend(m.history(page))

    catching_up = False
    for kind, k in plan:
        if catching_up:
            m.end_catch_up()
            catching_up = False
        if kind == "frame":
            deliver(k)
        elif kind == "dup":
            back = max(h, hub_pos - k)
            display.extend(m.live(stream[back:hub_pos]))
        elif kind == "pending":
            upcoming = [r for r in stream[hub_pos:hub_pos + k + 1] if r.key is not None]
            display.extend(m.live([pending(r) for r in upcoming], pending=True))
        elif kind == "late_pending":
            seen = [r for r in stream[first_loaded:hub_pos] if r.key is not None]
            if seen:
                display.extend(m.live([pending(rng.choice(seen))], pending=True))
        elif kind == "reconnect":
            # resume from the client's cursor, possibly replaying k records it already had
            resume = m.cursor
            hub_pos = sum(1 for r in stream if resume is not None and r.cursor is not None and r.cursor <= resume)
            hub_pos = max(first_loaded, hub_pos - k)
            m.begin_catch_up()
            catching_up = True
        elif kind == "older" and m.before is not None:
            below = [r for r in stream if r.cursor is not None and r.cursor < m.before]
            # the page may overlap the oldest shown record by one
            page_records = below[-(k + 1):] + [r for r in stream if r.cursor == m.before][: k % 2]
            more = len(below) > k + 1
            older = m.older(HistoryPage(tuple(page_records), None, page_records[0].cursor if more else None))
            display[:0] = older
            first_loaded = min(first_loaded, stream.index(older[0])) if older else first_loaded
    # the connection stays up until everything is delivered, then the user scrolls to the top
    deliver(n)
    while m.before is not None:
        below = [r for r in stream if r.cursor is not None and r.cursor < m.before]
        page_records = below[-5:]
        display[:0] = m.older(HistoryPage(tuple(page_records), None, page_records[0].cursor if len(below) > 5 else None))
    first_loaded = 0

    by_key = {r.key: r for r in stream if r.key is not None}
    shown = [by_key[r.key] if r.cursor is None and r.key is not None else r for r in display]
    assert len(shown) == len(set(r.id for r in shown)), "a record was shown twice"
    expected_ids = {r.id for r in stream[first_loaded:]}
    assert {r.id for r in shown} == expected_ids, "a record is missing"
    committed = [r.cursor for r in display if r.cursor is not None]
    assert committed == sorted(committed), "committed records are out of stream order"
    if n:
        assert m.cursor == stream[-1].cursor


def test_a_cursorless_record_in_a_committed_frame_counts_once() -> None:
    """A record without a cursor in a committed frame is shown as pending and counted once (shown and the reconnect marker)."""
    m = StreamMerge(Cursor(1, 0))
    m.begin_catch_up()
    plain = LogRecord(thread_id="t", message="x")
    assert m.live([plain, rec(2, 1)]) == [plain, rec(2, 1)]
    assert m.shown == 2
    assert m.end_catch_up().text == "reconnected: 2 records caught up"


def test_unloaded_records_come_back_with_the_next_older_page() -> None:
    """Records the viewer unloaded (past its cap) are shown again by the older page below its new oldest record."""
    m = StreamMerge()
    first = [rec(10, i, key=("p", i)) for i in range(1, 6)]
    m.history(HistoryPage(tuple(first), Cursor(10, 5), None))
    m.unloaded(first[:2], Cursor(10, 3))
    assert (m.oldest, m.before) == (Cursor(10, 3), Cursor(10, 3))
    assert ids(m.older(HistoryPage(tuple(first[:3]), None, None))) == [1, 2]
    assert m.live([rec(10, 2, key=("p", 2))]) == []  # still a duplicate by its cursor
