"""Retention on the partitioned layout: partitions dropped whole, thread_log_summary corrected once and exactly."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator

import pytest
from helpers import SUMMARY_ROWS, SUMMARY_TRUTH, migrate, query, records, sql_insert

from logctl.core.prune_plan import PrunePlan
from logctl.store import LogStore
from logctl.store.prune import run_prune
from logctl.store.runs import fold_summary

UTC = dt.timezone.utc
DAY = dt.datetime(2020, 1, 10, tzinfo=UTC)



@pytest.fixture
def store(fresh_dsn: str) -> Iterator[LogStore]:
    """An open store on a schema partitioned by day."""
    migrate(fresh_dsn, "partitioned")
    with LogStore(fresh_dsn, max_size=2) as s:
        yield s


def _at(days: float) -> dt.datetime:
    return DAY + dt.timedelta(days=days)


def _fill(store: LogStore) -> None:
    """Threads that lose everything, their oldest rows, rows of every level, or nothing; rows with no thread."""
    store.insert([*records("gone", 2, created_at=_at(-2), level="ERROR"), *records("gone", 1, start=2, created_at=_at(-1))])
    store.insert([*records("both", 3, created_at=_at(-2.5), level="WARNING"),
                  *records("both", 2, start=3, created_at=_at(-1.5), level="debug"),
                  *records("both", 2, start=5, created_at=_at(1.25)), *records("both", 1, start=7, created_at=_at(3))])
    store.insert([*records("sparse", 1, created_at=_at(-2)), *records("sparse", 1, start=1, created_at=_at(5))])
    store.insert(records("late", 2, created_at=_at(2), level="FATAL"))
    sql_insert(store.dsn, [(None, "no thread", _at(-2)), (None, "no thread", _at(2))])


def test_dropping_partitions_corrects_each_thread_once_and_exactly_and_leaves_no_delta(store: LogStore) -> None:
    """Three days dropped: counts and levels drop, first times move to the oldest row kept, emptied threads go,
    and the summary is exact at once, with no delta left to fold (nor one written per partition)."""
    _fill(store)
    fold_summary(store)
    result = run_prune(store, PrunePlan(_at(1), None, None))
    assert result.deleted == 10 and [p.name for p, _ in result.partitions] == [
        "thread_logs_p20200107", "thread_logs_p20200108", "thread_logs_p20200109"]
    assert query(store.dsn, "SELECT count(*) FROM thread_log_summary_delta") == [(0,)]
    summary = query(store.dsn, SUMMARY_ROWS)
    assert summary == query(store.dsn, SUMMARY_TRUTH)
    assert [(t, first, n) for t, first, _, n, *_ in summary] == [
        ("both", _at(1.25), 3), ("late", _at(2), 2), ("sparse", _at(5), 1)]


def test_unfolded_deltas_of_the_dropped_rows_do_not_bring_a_thread_back(store: LogStore) -> None:
    """Rows whose insert deltas nobody folded yet are dropped: the prune folds them first, so the emptied
    thread is gone and stays gone after the next fold, and the others' counts stay exact."""
    _fill(store)  # nothing folded: every count is still a pending delta
    run_prune(store, PrunePlan(_at(1), None, None))
    fold_summary(store)
    assert query(store.dsn, SUMMARY_ROWS) == query(store.dsn, SUMMARY_TRUTH)
    assert "gone" not in {r[0] for r in query(store.dsn, SUMMARY_ROWS)}


def test_a_partition_left_detached_is_dropped_with_the_others_and_every_time_read_again(store: LogStore) -> None:
    """A partition an interrupted prune detached (its bounds unknown now) is counted and dropped with the new
    ones; first and last times are then read again for every thread that lost rows, still exactly."""
    _fill(store)
    store.insert(records("last-gone", 1, created_at=_at(-2)))
    fold_summary(store)
    query(store.dsn, "ALTER TABLE thread_logs DETACH PARTITION thread_logs_p20200108")
    result = run_prune(store, PrunePlan(_at(1), None, None))
    assert result.deleted == 11
    assert query(store.dsn, "SELECT to_regclass('thread_logs_p20200108') IS NULL") == [(True,)]
    assert query(store.dsn, SUMMARY_ROWS) == query(store.dsn, SUMMARY_TRUTH)
    assert {r[0] for r in query(store.dsn, SUMMARY_ROWS)} == {"both", "late", "sparse"}


def test_rows_written_during_the_prune_stay_counted(store: LogStore) -> None:
    """Rows of a dropped thread written again after the prune, and new rows of a kept one, are listed exactly."""
    _fill(store)
    fold_summary(store)
    run_prune(store, PrunePlan(_at(1), None, None))
    store.insert([*records("gone", 1, start=9, created_at=_at(4)), *records("both", 1, start=9, created_at=_at(1.1))])
    fold_summary(store)
    assert query(store.dsn, SUMMARY_ROWS) == query(store.dsn, SUMMARY_TRUTH)


@contextlib.contextmanager
def _counting(steps: list[int]) -> Iterator[None]:
    yield
    steps.append(1)


def test_counting_partitions_page_range_by_page_range_gives_the_same_counts(store: LogStore) -> None:
    """Detached partitions counted one page per statement (each inside a pacing step) add up to the same
    per-thread counts as one statement over both tables."""
    from logctl.core.thread_sums import DroppedSums
    from logctl.store.partition_drop import count_rows

    store.insert([*records("a", 900, created_at=_at(-2)), *records("b", 100, created_at=_at(-2), level="WARN"),
                  *records("b", 1, start=100, created_at=_at(-1), level="error")])
    query(store.dsn, "ALTER TABLE thread_logs DETACH PARTITION thread_logs_p20200108")
    query(store.dsn, "ALTER TABLE thread_logs DETACH PARTITION thread_logs_p20200109")
    names = ["thread_logs_p20200108", "thread_logs_p20200109"]
    pages = query(store.dsn, "SELECT pg_relation_size('thread_logs_p20200108') / current_setting('block_size')::int8")
    assert pages[0][0] > 3  # type: ignore[operator]
    whole, paged = DroppedSums(), DroppedSums()
    chunks: list[int] = []
    with store.connection() as conn:
        assert count_rows(conn, names, whole) == 1001
        assert count_rows(conn, names, paged, pages=1, step=lambda: _counting(chunks)) == 1001
    assert paged.columns() == whole.columns() == (["a", "b"], [900, 101], [0, 0], [900, 0], [0, 100], [0, 1])
    assert len(chunks) == pages[0][0] + 1  # type: ignore[operator]


def test_thread_ids_with_quotes_backslashes_and_non_ascii_are_corrected_exactly(store: LogStore) -> None:
    """The counts travel to SQL as JSON: a hostile id, one with quotes, a backslash and non-ASCII letters,
    lose their dropped rows and keep their others, exactly."""
    from helpers import HOSTILE_THREAD_ID

    odd = 'q"\\é\'\u2028✓'
    for thread in (HOSTILE_THREAD_ID, odd):
        store.insert([*records(thread, 2, created_at=_at(-2)), *records(thread, 1, start=2, created_at=_at(2))])
    fold_summary(store)
    run_prune(store, PrunePlan(_at(1), None, None, pace=0))
    assert query(store.dsn, SUMMARY_ROWS) == query(store.dsn, SUMMARY_TRUTH)
    assert {r[0]: r[3] for r in query(store.dsn, SUMMARY_ROWS)} == {HOSTILE_THREAD_ID: 1, odd: 1}
