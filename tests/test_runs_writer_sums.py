"""The writer's own summary deltas (migration 007): the same sums as the trigger, the trigger skipped, exact on every path."""

from __future__ import annotations

import datetime as dt
from typing import cast

import psycopg
import pytest
from helpers import SUMMARY_ROWS, SUMMARY_TRUTH, ensure_partitions, examples, query
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logctl.core.records import LEVELS, Row
from logctl.core.batch_sums import thread_sums
from logctl.store import LogStore

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

_DELTAS = "SELECT thread_id, first_at, last_at, count, debug, info, warn, error FROM thread_log_summary_delta ORDER BY thread_id"


def _assert_exact(dsn: str) -> None:
    query(dsn, "SELECT logctl_summary_compact()")
    assert query(dsn, SUMMARY_ROWS) == query(dsn, SUMMARY_TRUTH)


def _row(thread_id: str | None, level: str | None, at: dt.datetime, producer: str | None = None, seq: int | None = None) -> Row:
    return cast(Row, (thread_id, f"m {seq}", level, at, producer, seq))


rows_strategy = st.one_of(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c", None]),
            st.sampled_from([*LEVELS, None]),
            st.integers(min_value=-10**6, max_value=10**6),
        ),
        max_size=40,
    ),
    # a batch of one thread: thread_sums' fast path
    st.lists(
        st.tuples(st.just("a"), st.sampled_from([*LEVELS, None]), st.integers(min_value=-10**6, max_value=10**6)),
        min_size=1, max_size=40,
    ),
)


@settings(max_examples=examples(100), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows_strategy)
def test_the_writers_sums_are_the_triggers_sums(fresh_dsn: str, drawn: list[tuple[str | None, str | None, int]]) -> None:
    """For any batch of canonical levels (and NULL levels or threads), core's sums equal what 005's trigger appends."""
    from helpers import migrate

    if not query(fresh_dsn, "SELECT to_regclass('thread_logs') IS NOT NULL")[0][0]:
        migrate(fresh_dsn, "plain")
    rows = [_row(t, lv, NOW + dt.timedelta(microseconds=us)) for t, lv, us in drawn]
    sums = thread_sums(rows)
    assert sums is not None
    mine = sorted(zip(*sums.columns()))
    with psycopg.connect(fresh_dsn) as conn:  # plain SQL: the trigger sums it; rolled back after
        conn.execute("DELETE FROM thread_log_summary_delta")
        if rows:
            conn.execute(
                "INSERT INTO thread_logs (thread_id, message, level, created_at)"
                " SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::timestamptz[])",
                [[r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows]],
            )
        theirs = sorted(conn.execute(_DELTAS).fetchall())
        conn.rollback()
    assert mine == theirs


@settings(max_examples=examples(300), deadline=None)
@given(st.lists(
    st.tuples(
        st.sampled_from(["a", "a", "a", "b", None]),
        st.sampled_from([*LEVELS, None, "warning", "Info"]),
        # about one row in ten without created_at
        st.integers(min_value=-10**6, max_value=10**6).map(lambda us: us if us % 10 else None),
    ),
    max_size=30,
))
def test_the_fast_path_for_one_thread_sums_as_the_loop_does(drawn: list[tuple[str | None, str | None, int | None]]) -> None:
    """Whatever the batch (one thread or several, odd levels, rows without created_at), thread_sums gives
    what the one-loop summing gives: the fast path for a batch of one thread changes nothing but speed."""
    from logctl.core.batch_sums import _by_loop

    rows = [_row(t, lv, cast(dt.datetime, None) if us is None else NOW + dt.timedelta(microseconds=us)) for t, lv, us in drawn]
    assert thread_sums(rows) == _by_loop(rows)
    # the same batch as one thread, with canonical levels and times: the fast path sums it
    one = [_row("a", lv if lv in LEVELS else None, NOW + dt.timedelta(microseconds=us or 0)) for _t, lv, us in drawn]
    assert thread_sums(one) == _by_loop(one)


def test_other_spellings_are_left_to_the_trigger() -> None:
    """A level that is not one of LEVELS makes the writer decline: logctl_level() decides, not Python."""
    assert thread_sums([_row("a", "warning", NOW)]) is None
    assert thread_sums([_row("a", "INFO", NOW), _row("a", "Fatal", NOW)]) is None
    empty = thread_sums([_row(None, "INFO", NOW)])
    assert empty is not None and empty.thread_ids == []


def _deltas_per_thread(dsn: str) -> dict[str, int]:
    return {str(t): int(cast(int, n)) for t, n in query(dsn, "SELECT thread_id, count(*) FROM thread_log_summary_delta GROUP BY 1")}


@pytest.mark.both_layouts
def test_a_store_batch_appends_one_delta_per_thread_and_the_trigger_skips_it(dsn: str, store: LogStore) -> None:
    """The hub's path (one COPY per batch) writes one delta per thread itself: the trigger adds none (else two)."""
    assert store.writer_sums
    query(dsn, "SELECT logctl_summary_compact()")
    rows = [_row(f"t{i % 3}", LEVELS[i % 4], NOW + dt.timedelta(seconds=i), "p", i) for i in range(30)]
    assert store.insert_rows(rows) == 30
    assert _deltas_per_thread(dsn) == {"t0": 1, "t1": 1, "t2": 1}
    _assert_exact(dsn)


@pytest.mark.both_layouts
def test_the_setting_ends_with_the_batch_so_plain_sql_on_the_same_connection_is_summed(dsn: str, store: LogStore) -> None:
    """After a store batch, plain SQL on the very same pooled connection is summed by the trigger again."""
    store.insert_rows([_row("a", "INFO", NOW, "p", 1)])
    with store.connection() as conn:
        ensure_partitions(conn, [NOW])
        assert conn.execute("SELECT current_setting('logctl.summary_by_writer', true)").fetchone() in ((None,), ("",))
        conn.execute("INSERT INTO thread_logs (thread_id, message, level, created_at) VALUES ('a', 'sql', 'warning', %s)", [NOW])
    _assert_exact(dsn)
    assert query(dsn, "SELECT count, warn FROM thread_log_summary WHERE thread_id = 'a'") == [(2, 1)]


@pytest.mark.both_layouts
def test_resends_conflicts_and_other_spellings_stay_exact(dsn: str, store: LogStore) -> None:
    """A resend (the COPY fails, the fallback insert is the trigger's), a reused key, and levels only SQL maps: exact."""
    first = [_row("r", "INFO", NOW + dt.timedelta(seconds=i), "p", i) for i in range(10)]
    assert store.insert_rows(first) == 10
    resend = first[5:] + [_row("r", "ERROR", NOW + dt.timedelta(seconds=10 + i), "p", 10 + i) for i in range(5)]
    assert store.insert_rows(resend) == 5
    conflict = store.write_rows([_row("other", "INFO", NOW, "p", 3), _row("r", "DEBUG", NOW, None, None)])
    assert conflict.inserted == 1 and conflict.conflicts == (0,)
    store.insert_rows([cast(Row, ("s", "m", "Warning", NOW, None, None)), _row("s", "INFO", NOW)])
    _assert_exact(dsn)
    assert query(dsn, "SELECT count, debug, info, warn, error FROM thread_log_summary ORDER BY thread_id") == [
        (16, 1, 10, 0, 5), (2, 0, 1, 1, 0)
    ]


def test_a_partition_made_during_the_write_keeps_the_sums_exact(fresh_dsn: str) -> None:
    """On the partitioned layout a batch dated where no partition exists is retried after making one: counted once."""
    from helpers import migrate

    migrate(fresh_dsn, "daily")
    with LogStore(fresh_dsn, max_size=2) as store:
        far = dt.datetime(2001, 5, 5, tzinfo=UTC)
        assert store.insert_rows([_row("old", "ERROR", far, "p", 1), _row("new", "INFO", NOW, "p", 2)]) == 2
    _assert_exact(fresh_dsn)
    assert query(fresh_dsn, "SELECT thread_id, count, error FROM thread_log_summary ORDER BY 1") == [("new", 1, 0), ("old", 1, 1)]


def test_a_schema_whose_trigger_sums_everything_gets_no_second_delta(dsn: str) -> None:
    """Against 006's trigger (no WHEN), the store does not sum its batches too: nothing is counted twice."""
    query(dsn, "DROP TRIGGER thread_logs_summary_insert ON thread_logs;"
               " CREATE TRIGGER thread_logs_summary_insert AFTER INSERT ON thread_logs"
               " REFERENCING NEW TABLE AS logctl_new_rows FOR EACH STATEMENT EXECUTE FUNCTION logctl_summary_add()")
    with LogStore(dsn, max_size=1) as store:
        assert not store.writer_sums
        store.insert_rows([_row("a", "INFO", NOW, "p", 1), _row("a", "ERROR", NOW, "p", 2)])
    _assert_exact(dsn)
    assert query(dsn, "SELECT count FROM thread_log_summary") == [(2,)]


def test_a_copy_that_fails_in_its_savepoint_takes_the_setting_back(fresh_dsn: str) -> None:
    """Partitioned: a key written by plain SQL makes the COPY fail inside its savepoint; the fallback insert is summed."""
    from helpers import migrate

    migrate(fresh_dsn, "daily")
    with psycopg.connect(fresh_dsn, autocommit=True) as conn:
        ensure_partitions(conn, [NOW])
        conn.execute("INSERT INTO thread_logs (thread_id, message, level, created_at, producer_id, seq)"
                     " VALUES ('a', 'm 1', 'INFO', %s, 'p', 1)", [NOW])
    with LogStore(fresh_dsn, max_size=1) as store:
        assert store.insert_rows([_row("a", "INFO", NOW, "p", 1), _row("a", "ERROR", NOW, "p", 2)]) == 1
    _assert_exact(fresh_dsn)
    assert query(fresh_dsn, "SELECT count, info, error FROM thread_log_summary") == [(2, 1, 1)]
