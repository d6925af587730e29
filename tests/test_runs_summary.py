"""The thread summary (migration 005) stays exact: plain SQL, concurrent writers, prune, updates, truncate."""

from __future__ import annotations

import datetime as dt
import threading

import psycopg
import pytest
from helpers import query, records, run_cli, sql_insert

from logctl.core.records import LogRecord
from logctl.store import LogStore

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

_TRUTH = """
SELECT thread_id, min(created_at), max(created_at), count(*),
       count(*) FILTER (WHERE upper(coalesce(level, 'INFO')) IN ('DEBUG', 'TRACE', 'NOTSET')),
       count(*) FILTER (WHERE upper(coalesce(level, 'INFO')) NOT IN ('DEBUG', 'TRACE', 'NOTSET', 'WARN', 'WARNING',
                                                                    'ERROR', 'ERR', 'CRITICAL', 'FATAL')),
       count(*) FILTER (WHERE upper(level) IN ('WARN', 'WARNING')),
       count(*) FILTER (WHERE upper(level) IN ('ERROR', 'ERR', 'CRITICAL', 'FATAL'))
FROM thread_logs WHERE thread_id IS NOT NULL GROUP BY thread_id ORDER BY thread_id
"""
_SUMMARY = "SELECT thread_id, first_at, last_at, count, debug, info, warn, error FROM thread_log_summary ORDER BY thread_id"


def _assert_exact(dsn: str) -> list[tuple[object, ...]]:
    query(dsn, "SELECT logctl_summary_compact()")
    truth = query(dsn, _TRUTH)
    assert query(dsn, _SUMMARY) == truth
    return truth


def test_plain_sql_inserts_are_summed_per_thread_and_level(dsn: str) -> None:
    """Rows inserted by plain SQL (any level spelling, NULL times, NULL threads) are counted exactly; NULL threads are not listed."""
    sql_insert(dsn, [("a", "one", NOW), ("a", "two", NOW - dt.timedelta(hours=1)), ("b", "three", None), (None, "x", NOW)])
    query(dsn, "INSERT INTO thread_logs (thread_id, message, level, created_at) VALUES"
               " ('a', 'w', 'warning', %s), ('a', 'e', 'fatal', %s), ('b', 'd', 'trace', NULL), ('b', 'n', NULL, %s)",
          (NOW + dt.timedelta(minutes=1), NOW, NOW))
    truth = _assert_exact(dsn)
    assert [row[0] for row in truth] == ["a", "b"]
    assert truth[0][1:] == (NOW - dt.timedelta(hours=1), NOW + dt.timedelta(minutes=1), 4, 0, 2, 1, 1)


def test_concurrent_writers_on_the_same_and_different_threads_stay_exact(dsn: str) -> None:
    """Eight writers (COPY batches and plain SQL) on shared and own threads at once: the summary equals a GROUP BY."""
    errors: list[BaseException] = []

    def copy_writer(n: int) -> None:
        try:
            with LogStore(dsn, max_size=1) as store:
                for batch in range(20):
                    at = NOW + dt.timedelta(seconds=batch)
                    store.insert(
                        records("hot", 25, created_at=at, level="ERROR" if batch % 3 else "WARN")
                        + records(f"own-{n}", 5, created_at=at) + records(f"shared-{batch % 4}", 3, created_at=at)
                    )
        except BaseException as exc:  # reported below
            errors.append(exc)

    def sql_writer(n: int) -> None:
        try:
            with psycopg.connect(dsn, autocommit=True) as conn:
                for i in range(40):
                    conn.execute(
                        "INSERT INTO thread_logs (thread_id, message, level, created_at) VALUES (%s, 'm', 'debug', %s), ('hot', 'h', NULL, %s)",
                        (f"shared-{i % 4}", NOW - dt.timedelta(seconds=i), NOW + dt.timedelta(minutes=n)),
                    )
        except BaseException as exc:  # reported below
            errors.append(exc)

    workers = [threading.Thread(target=copy_writer, args=(n,)) for n in range(4)]
    workers += [threading.Thread(target=sql_writer, args=(n,)) for n in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert not errors and not any(w.is_alive() for w in workers), errors
    truth = _assert_exact(dsn)
    assert dict((row[0], row[3]) for row in truth)["hot"] == 4 * 20 * 25 + 4 * 40


@pytest.mark.both_layouts
def test_prune_lowers_counts_moves_first_at_and_drops_emptied_threads(dsn: str, cli_env: dict[str, str]) -> None:
    """After `logctl prune --days`, counts drop, first_at is the oldest kept row, and a thread left empty disappears."""
    now = dt.datetime.now(UTC)
    sql_insert(dsn, [("old", "o", now - dt.timedelta(days=40)), ("old", "p", now - dt.timedelta(days=35))])
    sql_insert(dsn, [("mixed", "o", now - dt.timedelta(days=40)), ("mixed", "n", now - dt.timedelta(days=2)),
                     ("mixed", "k", now - dt.timedelta(hours=1))])
    result = run_cli(["prune", "--days", "30", "--database-url", dsn], cli_env)
    assert result.returncode == 0, result.stderr
    truth = _assert_exact(dsn)
    assert [row[0] for row in truth] == ["mixed"]
    assert truth[0][3] == 2


def test_keep_per_thread_prune_and_updates_and_truncate_stay_exact(dsn: str, store: LogStore, cli_env: dict[str, str]) -> None:
    """Pruning to the newest rows, moving rows to another thread or level by UPDATE, and TRUNCATE keep the summary exact."""
    store.insert([LogRecord("a", f"m{i}", created_at=NOW + dt.timedelta(seconds=i)) for i in range(10)])
    store.insert([LogRecord("b", f"m{i}", level="WARN", created_at=NOW + dt.timedelta(seconds=i)) for i in range(3)])
    result = run_cli(["prune", "--keep-per-thread", "4", "--database-url", dsn], cli_env)
    assert result.returncode == 0, result.stderr
    truth = _assert_exact(dsn)
    assert [(row[0], row[3]) for row in truth] == [("a", 4), ("b", 3)]
    query(dsn, "UPDATE thread_logs SET thread_id = 'c', level = 'ERROR' WHERE thread_id = 'b'")
    query(dsn, "UPDATE thread_logs SET created_at = created_at - interval '1 day' WHERE message = 'm9'")
    assert [row[0] for row in _assert_exact(dsn)] == ["a", "c"]
    query(dsn, "TRUNCATE thread_logs")
    assert _assert_exact(dsn) == []


def test_an_open_transaction_does_not_block_another_writer_of_its_thread(dsn: str) -> None:
    """Two transactions insert into one thread; the second needs no lock the first holds, and both are counted once committed."""
    a = psycopg.connect(dsn)
    b = psycopg.connect(dsn)
    try:
        a.execute("INSERT INTO thread_logs (thread_id, message) VALUES ('hot', 'a')")
        b.execute("SET lock_timeout = '2s'")
        b.execute("INSERT INTO thread_logs (thread_id, message) VALUES ('hot', 'b')")
        b.commit()
        assert [row[3] for row in _assert_exact(dsn)] == [1]
        a.commit()
    finally:
        a.close()
        b.close()
    assert [row[3] for row in _assert_exact(dsn)] == [2]


def test_compaction_of_deltas_is_exact_while_writers_run(dsn: str) -> None:
    """Folding deltas while four writers insert and one prunes gives the same summary as a GROUP BY at the end."""
    errors: list[BaseException] = []
    stop = threading.Event()

    def writer(n: int) -> None:
        try:
            with psycopg.connect(dsn, autocommit=True) as conn:
                for i in range(60):
                    conn.execute("INSERT INTO thread_logs (thread_id, message, created_at) VALUES (%s, 'm', %s), ('hot', 'h', %s)",
                                 (f"w{n}-{i % 3}", NOW + dt.timedelta(seconds=i), NOW - dt.timedelta(seconds=i)))
                    if n == 0 and i % 10 == 9:
                        conn.execute("DELETE FROM thread_logs WHERE id IN (SELECT id FROM thread_logs ORDER BY created_at LIMIT 5)")
        except BaseException as exc:  # reported below
            errors.append(exc)

    def compactor() -> None:
        try:
            with psycopg.connect(dsn, autocommit=True) as conn:
                while not stop.is_set():
                    conn.execute("SELECT logctl_summary_compact()")
        except BaseException as exc:  # reported below
            errors.append(exc)

    workers = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    folders = [threading.Thread(target=compactor) for _ in range(2)]
    for worker in workers + folders:
        worker.start()
    for worker in workers:
        worker.join(60)
    stop.set()
    for worker in folders:
        worker.join(60)
    assert not errors and not any(w.is_alive() for w in workers + folders), errors
    _assert_exact(dsn)


def test_the_migration_back_fills_rows_written_before_it(fresh_dsn: str) -> None:
    """Rows already in thread_logs when migration 005 runs are in the summary afterwards."""
    from logctl.store.migrate import apply_migrations, load_migrations

    with psycopg.connect(fresh_dsn, autocommit=True) as conn:
        apply_migrations(conn, migrations=[m for m in load_migrations() if m.version < 5])
    sql_insert(fresh_dsn, [("early", "x", NOW), ("early", "y", NOW - dt.timedelta(days=1)), ("later", "z", None)])
    with psycopg.connect(fresh_dsn, autocommit=True) as conn:
        apply_migrations(conn)
    assert [row[0] for row in _assert_exact(fresh_dsn)] == ["early", "later"]
