"""The k-way merge of per-thread pages: every row exactly once, in global order, whatever the page sizes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import examples
from logctl.core.cursor import ORIGIN, Cursor
from logctl.core.kmerge import KWayMerge, record_position
from logctl.core.records import LogRecord


def table(layout: list[tuple[int, int]]) -> list[LogRecord]:
    """Rows from (thread index, txid step) pairs: ids in insert order, txids out of id order."""
    rows = []
    for i, (thread, txid) in enumerate(layout, start=1):
        rows.append(LogRecord(thread_id=f"t{thread}", message=str(i), id=i, cursor=Cursor(txid, i)))
    return rows


def read(rows: list[LogRecord], thread: str, start: Cursor, limit: int, descending: bool) -> list[LogRecord]:
    """What the store's per-thread ordered, LIMITed index scan returns."""
    mine = [r for r in rows if r.thread_id == thread and r.cursor is not None
            and (r.cursor < start if descending else r.cursor > start)]
    mine.sort(key=lambda r: r.cursor or ORIGIN, reverse=descending)
    return mine[:limit]


layouts = st.lists(st.tuples(st.integers(0, 4), st.integers(1, 30)), max_size=120)


@settings(max_examples=examples(300), deadline=None)
@given(
    layout=layouts, extra=st.lists(st.integers(0, 6), max_size=3), start=st.integers(0, 40), page=st.integers(1, 8),
    takes=st.lists(st.integers(1, 12), min_size=1, max_size=40), descending=st.booleans(),
)
def test_the_merge_gives_every_row_of_every_thread_once_in_order(
    layout: list[tuple[int, int]], extra: list[int], start: int, page: int, takes: list[int], descending: bool
) -> None:
    """Any per-thread streams (threads with no rows included), any page sizes and takes: the merge is the sorted union."""
    rows = table(layout)
    threads = sorted({r.thread_id for r in rows} | {f"t{e}" for e in extra}) or ["t0"]
    origin = Cursor(start, 0)
    merge = KWayMerge(threads, origin, record_position, descending=descending, page=page, max_page=page * 4)
    out: list[LogRecord] = []
    i = 0
    while not merge.done:
        for thread, (after, limit) in merge.wanted().items():
            merge.add(thread, read(rows, thread, after, limit, descending), limit)
        out += merge.take(takes[i % len(takes)])
        i += 1
        assert i < 10_000, "the merge never finished"
    expected = sorted((r for r in rows if r.cursor is not None and (r.cursor < origin if descending else r.cursor > origin)),
                      key=lambda r: r.cursor or ORIGIN, reverse=descending)
    assert [r.cursor for r in out] == [r.cursor for r in expected]


def test_a_thread_that_returned_a_full_page_holds_back_rows_beyond_its_last_one() -> None:
    """Rows of other threads past a full page's last row wait until that thread is read again."""
    a = [LogRecord(thread_id="a", message="", id=i, cursor=Cursor(1, i)) for i in (1, 2, 5)]
    b = [LogRecord(thread_id="b", message="", id=i, cursor=Cursor(1, i)) for i in (3, 4)]
    merge = KWayMerge(["a", "b"], ORIGIN, record_position, page=2)
    merge.add("a", a[:2], 2)  # full: a may have more after 1-2
    merge.add("b", b, 2)  # full too
    assert [r.id for r in merge.take(10)] == [1, 2]
    assert merge.wanted() == {"a": (Cursor(1, 2), 4)}
    merge.add("a", a[2:], 4)  # exhausted
    assert [r.id for r in merge.take(10)] == [3, 4]
    assert merge.wanted() == {"b": (Cursor(1, 4), 4)}
    merge.add("b", [], 4)
    assert [r.id for r in merge.take(10)] == [5]
    assert merge.done
