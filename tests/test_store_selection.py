"""A selection's history read from PostgreSQL: the one-query plan and the k-way merge return the same pages."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest

from helpers import wait_for_horizon
from logctl.core.cursor import ORIGIN, Cursor
from logctl.core.records import LogRecord
from logctl.core.selection import Selection
from logctl.store import LogStore
from logctl.store.selection import ONE_QUERY_SCANS, SelectionPage, selection_history

pytestmark = [pytest.mark.both_layouts, pytest.mark.timeout(120)]
T0 = dt.datetime(2026, 11, 20, tzinfo=dt.timezone.utc)
#: one_query_scans for each plan: every selection by one query, and every one by the k-way merge.
PLANS = {"one query": 10**6, "k-way merge": 0}


def fill(store: LogStore, dsn: str) -> None:
    """Rows of a-d (and e, never selected) over several days (partitions), in transactions of uneven sizes, and two
    transactions that commit out of id order: (txid, id) order differs from id order."""
    for batch in range(5):
        store.insert([LogRecord(t, f"{t} {batch}.{i}", created_at=T0 + dt.timedelta(days=(batch + i) % 4, seconds=i))
                      for t, n in (("a", 5), ("b", 1), ("c", 3), ("d", 0), ("e", 2)) for i in range(n * (batch % 3 + 1))])
    with psycopg.connect(dsn, autocommit=True) as first, psycopg.connect(dsn, autocommit=True) as second:
        with first.transaction():
            first.execute("SELECT pg_current_xact_id()")  # the lower txid ...
            with second.transaction():
                second.execute("INSERT INTO thread_logs (thread_id, message, created_at) VALUES ('b', 'later txid, lower id', %s)", (T0,))
            first.execute("INSERT INTO thread_logs (thread_id, message, created_at) VALUES ('d', 'lower txid, higher id', %s)", (T0,))
    store.insert([LogRecord("c", f"c last {i}", created_at=T0 + dt.timedelta(days=3)) for i in range(4)])
    wait_for_horizon(dsn, 60)


def table_order(dsn: str, threads: tuple[str, ...]) -> list[Cursor]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT txid::text::int8, id FROM thread_logs WHERE thread_id = ANY(%s) ORDER BY txid, id",
                            (list(threads),)).fetchall()
    return [Cursor(int(t), int(i)) for t, i in rows]


def cursors(page: SelectionPage) -> list[Cursor]:
    return [r.cursor for r in page.page.records if r.cursor is not None]


@pytest.mark.parametrize("limit", [1, 2, 3, 7, 50])
def test_both_plans_page_back_and_forward_through_exactly_the_tables_rows(store: LogStore, dsn: str, limit: int) -> None:
    """Latest page, before= pages to the first row, after= pages from the origin: the same records and cursors
    from either plan, and together every row of the selection once, in (txid, id) order."""
    fill(store, dsn)
    selection = Selection(("a", "b", "c", "d"))
    expected = table_order(dsn, selection.threads)
    assert len(expected) > 50
    backward: dict[str, list[list[Cursor]]] = {}
    forward: dict[str, list[tuple[list[Cursor], Cursor]]] = {}
    for plan, threshold in PLANS.items():
        page = selection_history(store, selection, limit=limit, one_query_scans=threshold)
        pages = [cursors(page)]
        while page.page.before is not None:
            page = selection_history(store, selection, limit=limit, before=page.page.before, one_query_scans=threshold)
            pages.insert(0, cursors(page))
        backward[plan] = pages
        after = ORIGIN
        got: list[tuple[list[Cursor], Cursor]] = []
        while True:
            page = selection_history(store, selection, limit=limit, after=after, one_query_scans=threshold)
            full = len(page.page.records) == limit
            assert page.page.resume is not None
            got.append((cursors(page), page.page.resume if full else ORIGIN))  # a short page's resume is the horizon
            if not full:
                break
            after = page.page.resume
        forward[plan] = got
        assert [c for p in pages for c in p] == expected, plan
        assert [c for p, _ in got for c in p] == expected, plan
    assert backward["one query"] == backward["k-way merge"]
    assert forward["one query"] == forward["k-way merge"]


def test_a_glob_and_the_threshold_pick_the_plan_by_how_many_threads_the_selection_has(store: LogStore, dsn: str) -> None:
    """A glob's threads count like named ones; a glob that matches nothing reads nothing with either plan."""
    fill(store, dsn)
    glob = Selection(("a",), "?")  # a, then b, c, d, e matched
    expected = table_order(dsn, ("a", "b", "c", "d", "e"))
    for threshold in (0, 5, ONE_QUERY_SCANS):
        page = selection_history(store, glob, limit=1000, one_query_scans=threshold)
        assert page.threads == ("a", "b", "c", "d", "e") and cursors(page) == expected
        assert page.page.before is None
        none = selection_history(store, Selection((), "zz*"), limit=10, after=ORIGIN, one_query_scans=threshold)
        assert none.threads == () and none.page.records == ()
