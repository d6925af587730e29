"""The thread summary's deltas (migration 006): reads add the pending ones without folding them,
folding is exact in batches and one folder at a time, and hubs fold in the background."""

from __future__ import annotations

import datetime as dt
import threading
import urllib.parse

import psycopg
import pytest
from helpers import HubProcess, get_json, publish, query, recv_until, records, sql_insert, wait_until, wire_records, ws

from logctl.store import LogStore
from logctl.store.migrate import LOCK_NAMESPACE
from logctl.store.runs import fold_summary, list_runs, runs_statement

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

#: thread_logs grouped as the summary counts it, in the list's order (newest activity first).
_TRUTH = """
SELECT thread_id, min(created_at), max(created_at), count(*),
       count(*) FILTER (WHERE logctl_level(level) = 'DEBUG'), count(*) FILTER (WHERE logctl_level(level) = 'INFO'),
       count(*) FILTER (WHERE logctl_level(level) = 'WARN'), count(*) FILTER (WHERE logctl_level(level) = 'ERROR')
FROM thread_logs WHERE thread_id IS NOT NULL GROUP BY thread_id
ORDER BY max(created_at) DESC NULLS LAST, thread_id DESC
"""
_DELTAS = "SELECT count(*) FROM thread_log_summary_delta"


def _listed(store: LogStore) -> list[tuple[object, ...]]:
    """Every thread as list_runs gives it, paged by 3, as rows shaped like _TRUTH's."""
    out: list[tuple[object, ...]] = []
    page = list_runs(store, limit=3)
    while True:
        out += [(r.thread_id, r.first_at, r.last_at, r.count, *(r.levels[k] for k in ("DEBUG", "INFO", "WARN", "ERROR")))
                for r in page.runs]
        if page.before is None:
            return out
        page = list_runs(store, limit=3, before=page.before)


def _deltas(dsn: str) -> int:
    value = query(dsn, _DELTAS)[0][0]
    assert isinstance(value, int)
    return value


def test_a_read_adds_pending_deltas_and_folds_nothing(dsn: str, store: LogStore) -> None:
    """Inserts, a delete that empties a thread and one that removes a thread's first and last rows, an update:
    the list equals a GROUP BY before any fold, the read leaves every delta in place, and folding changes nothing."""
    sql_insert(dsn, [("a", "1", NOW), ("a", "2", NOW - dt.timedelta(hours=2)), ("a", "3", NOW + dt.timedelta(hours=1)),
                     ("gone", "x", NOW), ("c", "y", None)])
    store.insert(records("b", 4, created_at=NOW, level="ERROR") + records("a", 2, created_at=NOW, level="WARN"))
    query(dsn, "DELETE FROM thread_logs WHERE thread_id = 'gone' OR message IN ('2', '3')")
    query(dsn, "UPDATE thread_logs SET level = 'debug', thread_id = 'd' WHERE thread_id = 'b' AND message = 'm0'")
    pending = _deltas(dsn)
    assert pending >= 6
    truth = query(dsn, _TRUTH)
    assert [row[0] for row in truth] == ["d", "b", "a", "c"]
    assert _listed(store) == truth
    assert _deltas(dsn) == pending  # nothing folded, nothing written
    assert fold_summary(store) == pending
    assert _deltas(dsn) == 0
    assert _listed(store) == truth


def test_fold_in_small_batches_is_exact_and_waits_for_no_other_folder(dsn: str, store: LogStore) -> None:
    """fold_summary folds everything, a few deltas per transaction; while another session holds the folding
    lock it folds nothing and says so (None) instead of waiting."""
    for i in range(10):
        sql_insert(dsn, [(f"t{i % 4}", "m", NOW + dt.timedelta(seconds=i))])
    query(dsn, "DELETE FROM thread_logs WHERE thread_id = 't3'")
    with psycopg.connect(dsn, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s, hashtext(current_schema() || ':summary'))", [LOCK_NAMESPACE])
        assert fold_summary(store, batch=3) is None
        assert _deltas(dsn) == 11
        other.execute("SELECT pg_advisory_unlock(%s, hashtext(current_schema() || ':summary'))", [LOCK_NAMESPACE])
    assert fold_summary(store, batch=3) == 11
    assert _deltas(dsn) == 0
    assert _listed(store) == query(dsn, _TRUTH)
    assert [row[0] for row in query(dsn, "SELECT thread_id FROM thread_log_summary ORDER BY 1")] == ["t0", "t1", "t2"]


def test_each_read_equals_a_group_by_of_its_own_snapshot_while_writers_and_folders_run(dsn: str) -> None:
    """COPY batches, plain-SQL inserts and deletes run while two folders fold in small batches; each read,
    in a REPEATABLE READ transaction beside a GROUP BY of thread_logs, equals it (one snapshot for both)."""
    errors: list[BaseException] = []
    stop = threading.Event()
    sql, args = runs_statement(limit=100_000)

    def copy_writer() -> None:
        try:
            with LogStore(dsn, max_size=1) as writer:
                for batch in range(30):
                    writer.insert(records(f"copy-{batch % 5}", 20, created_at=NOW + dt.timedelta(seconds=batch), level="WARN")
                                  + records("hot", 10, created_at=NOW - dt.timedelta(seconds=batch)))
        except BaseException as exc:  # reported below
            errors.append(exc)

    def sql_writer(n: int) -> None:
        try:
            with psycopg.connect(dsn, autocommit=True) as conn:
                for i in range(40):
                    conn.execute("INSERT INTO thread_logs (thread_id, message, level, created_at) VALUES (%s, 'm', 'error', %s),"
                                 " ('hot', 'h', NULL, %s)", (f"sql-{n}-{i % 3}", NOW + dt.timedelta(minutes=i), NOW))
                    if i % 8 == 7:
                        conn.execute("DELETE FROM thread_logs WHERE id IN (SELECT id FROM thread_logs ORDER BY created_at, id LIMIT 7)")
        except BaseException as exc:  # reported below
            errors.append(exc)

    def folder() -> None:
        try:
            with LogStore(dsn, max_size=1) as own:
                while not stop.is_set():
                    fold_summary(own, batch=5)
        except BaseException as exc:  # reported below
            errors.append(exc)

    writers = [threading.Thread(target=copy_writer)] + [threading.Thread(target=sql_writer, args=(n,)) for n in range(2)]
    folders = [threading.Thread(target=folder) for _ in range(2)]
    for worker in writers + folders:
        worker.start()
    reads = 0
    try:
        with psycopg.connect(dsn) as reader:
            reader.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            while any(w.is_alive() for w in writers) or reads < 5:
                with reader.transaction():
                    listed = reader.execute(sql, args).fetchall()
                    truth = reader.execute(_TRUTH).fetchall()
                assert listed == truth
                reads += 1
    finally:
        stop.set()
        for worker in writers + folders:
            worker.join(60)
    assert not errors and not any(w.is_alive() for w in writers + folders), errors
    assert reads >= 5


@pytest.mark.timeout(90)
def test_hubs_fold_in_the_background_one_at_a_time_while_hub_and_sql_writers_run(dsn: str, cli_env: dict[str, str]) -> None:
    """Two hubs folding every 0.05 s over one schema, producers publishing through both and plain SQL inserting at
    once: the delta table empties without any read, the summary equals a GROUP BY, and /admin/runs agrees."""
    hubs = [HubProcess(dsn, cli_env, "--summary-fold-interval", "0.05") for _ in range(2)]
    errors: list[BaseException] = []
    try:
        def producer(n: int) -> None:
            try:
                with ws(hubs[n]) as conn:
                    for batch in range(10):
                        publish(conn, wire_records(f"hub-{batch % 3}", 50 * batch, 50 * batch + 50), producer=f"p{n}")
                        recv_until(conn, "ack", timeout=30)
            except BaseException as exc:  # reported below
                errors.append(exc)

        def sql_writer() -> None:
            try:
                with psycopg.connect(dsn, autocommit=True) as conn:
                    for i in range(100):
                        conn.execute("INSERT INTO thread_logs (thread_id, message, created_at) VALUES ('hub-0', 's', %s)",
                                     (NOW + dt.timedelta(seconds=i),))
            except BaseException as exc:  # reported below
                errors.append(exc)

        workers = [threading.Thread(target=producer, args=(n,)) for n in range(2)] + [threading.Thread(target=sql_writer)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        assert not errors and not any(w.is_alive() for w in workers), errors
        wait_until(lambda: _deltas(dsn) == 0, timeout=30)
        summary = query(dsn, "SELECT thread_id, first_at, last_at, count, debug, info, warn, error FROM thread_log_summary"
                             " ORDER BY last_at DESC NULLS LAST, thread_id DESC")
        truth = query(dsn, _TRUTH)
        assert summary == truth
        assert dict((row[0], row[3]) for row in truth) == {"hub-0": 2 * 200 + 100, "hub-1": 2 * 150, "hub-2": 2 * 150}
        status, body = get_json(f"{hubs[0].http}/admin/runs?{urllib.parse.urlencode({'match': 'hub-*'})}")
        assert status == 200 and isinstance(body, dict)
        assert [(r["thread_id"], r["count"]) for r in body["runs"]] == [(row[0], row[3]) for row in truth]
        for hub in hubs:
            assert hub.stop() == 0
            assert "folding" not in hub.stderr()
    finally:
        for hub in hubs:
            hub.close()


def test_a_hub_with_folding_off_leaves_the_deltas_and_still_lists_exactly(dsn: str, cli_env: dict[str, str]) -> None:
    """--summary-fold-interval 0: nothing folds the deltas, and /admin/runs is exact all the same."""
    hub = HubProcess(dsn, cli_env, "--summary-fold-interval", "0")
    try:
        sql_insert(dsn, [("x", "1", NOW), ("y", "2", NOW + dt.timedelta(seconds=1))])
        sql_insert(dsn, [("x", "3", NOW + dt.timedelta(seconds=2))])
        status, body = get_json(f"{hub.http}/admin/runs")
        assert status == 200 and isinstance(body, dict)
        assert [(r["thread_id"], r["count"]) for r in body["runs"]] == [("x", 2), ("y", 1)]
        assert _deltas(dsn) == 3
    finally:
        hub.stop()


def test_a_fold_of_many_deltas_vacuums_the_delta_table(dsn: str, store: LogStore) -> None:
    """After folding VACUUM_AFTER deltas or more, fold_summary has vacuumed the delta table (reads scan it whole)."""
    from logctl.store.runs import VACUUM_AFTER

    vacuumed = "SELECT last_vacuum IS NOT NULL FROM pg_stat_user_tables WHERE relid = 'thread_log_summary_delta'::regclass"
    query(dsn, f"DO $$ BEGIN FOR i IN 1..{VACUUM_AFTER} LOOP"
               " INSERT INTO thread_logs (thread_id, message) VALUES ('t' || mod(i, 7), 'm'); END LOOP; END $$")
    assert query(dsn, vacuumed) == [(False,)]
    assert fold_summary(store) == VACUUM_AFTER
    assert query(dsn, vacuumed) == [(True,)]
    assert _listed(store) == query(dsn, _TRUTH)
