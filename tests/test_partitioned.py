"""The partitioned layout: apply-schema --partitioned, conversion, partitions ahead and on demand, prune by partition."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest
from helpers import HubProcess, publish, query, recv_until, records, run_cli, sql_insert, wait_for_horizon, ws

from logctl.core.partitions import AHEAD, periods_ahead
from logctl.store import LogStore
from logctl.store.runs import list_runs

UTC = dt.timezone.utc


def _partitions(dsn: str) -> list[str]:
    rows = query(dsn, "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                      " WHERE i.inhparent = 'thread_logs'::regclass ORDER BY 1")
    return [str(r[0]) for r in rows]


def _cli(dsn: str, env: dict[str, str], *args: str) -> str:
    result = run_cli([*args, "--database-url", dsn], env)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _summary(store: LogStore) -> dict[str, tuple[int, dt.datetime | None]]:
    return {r.thread_id: (r.count, r.first_at) for r in list_runs(store).runs}


def test_apply_schema_partitioned_creates_the_layout_once_and_refuses_another_period(
    fresh_dsn: str, cli_env: dict[str, str]
) -> None:
    """--partitioned daily (after a --dry-run that changes nothing) makes thread_logs partitioned 7 days ahead; a rerun changes nothing; weekly is refused."""
    dry = _cli(fresh_dsn, cli_env, "apply-schema", "--partitioned", "daily", "--dry-run")
    assert "-- convert thread_logs to the partitioned layout (daily)" in dry, dry
    assert query(fresh_dsn, "SELECT to_regclass('thread_logs') IS NULL") == [(True,)]
    out = _cli(fresh_dsn, cli_env, "apply-schema", "--partitioned", "daily")
    assert "converted thread_logs (empty) to the partitioned layout (daily)" in out, out
    assert query(fresh_dsn, "SELECT relkind::text FROM pg_class WHERE oid = 'thread_logs'::regclass") == [("p",)]
    expected = [p.name for p in periods_ahead(dt.datetime.now(UTC), "daily", AHEAD)]
    assert set(expected) <= set(_partitions(fresh_dsn))
    assert "layout: partitioned daily" in out
    again = _cli(fresh_dsn, cli_env, "apply-schema", "--partitioned", "daily")
    assert "schema is up to date; nothing changed" in again and "converted" not in again, again
    assert "already partitioned daily: nothing to convert" in _cli(
        fresh_dsn, cli_env, "apply-schema", "--partitioned", "daily", "--dry-run")
    plain = _cli(fresh_dsn, cli_env, "apply-schema")  # without the option: the layout is kept, and verified
    assert "layout: partitioned daily" in plain
    refused = run_cli(["apply-schema", "--partitioned", "weekly", "--database-url", fresh_dsn], cli_env)
    assert refused.returncode == 2
    assert "thread_logs is already partitioned daily; apply-schema does not change the period" in refused.stderr
    bad = run_cli(["apply-schema", "--partitioned", "hourly", "--database-url", fresh_dsn], cli_env)
    assert bad.returncode == 2 and "must be one of daily, weekly, not 'hourly'" in bad.stderr


def test_converting_a_table_with_rows_keeps_every_row_cursor_and_summary(dsn: str, cli_env: dict[str, str]) -> None:
    """A plain table with rows becomes partition thread_logs_legacy: rows, ids, txids and the summary are unchanged; resends stay exactly-once."""
    with LogStore(dsn) as store:
        store.insert(records("a", 5, producer="p"))
        store.insert(records("b", 3, created_at=dt.datetime(2020, 5, 1, tzinfo=UTC)))
    query(dsn, "INSERT INTO thread_logs (thread_id, message, created_at) VALUES ('n', 'no time', NULL)")
    wait_for_horizon(dsn)
    columns = "id, txid::text, thread_id, message, level, producer_id, seq"
    before = query(dsn, f"SELECT {columns} FROM thread_logs ORDER BY id")
    with LogStore(dsn) as store:
        summary = {t: n for t, (n, _) in _summary(store).items()}
    out = _cli(dsn, cli_env, "apply-schema", "--partitioned", "daily")
    assert "its rows are partition thread_logs_legacy" in out, out
    assert query(dsn, f"SELECT {columns} FROM thread_logs ORDER BY id") == before
    assert query(dsn, "SELECT count(*) FROM thread_logs WHERE created_at IS NULL") == [(0,)]
    assert "thread_logs_legacy" in _partitions(dsn)
    with LogStore(dsn) as store:
        assert store.period == "daily"
        assert {t: n for t, (n, _) in _summary(store).items()} == summary
        # a resend of rows stored before the conversion, stamped anew: skipped (the ledger was filled)
        assert store.insert(records("a", 7, producer="p")) == 2
        assert store.insert(records("c", 2, created_at=dt.datetime(2031, 1, 1, tzinfo=UTC))) == 2
        wait_for_horizon(dsn)
        assert [r.message for r in store.history("a").records] == [f"m{i}" for i in range(7)]
        assert store.count() == len(before) + 4


@pytest.mark.both_layouts
def test_records_whose_time_has_no_partition_are_stored_through_the_hub(hub: HubProcess, store: LogStore, layout: str) -> None:
    """Records dated long ago and far ahead are acked and stored (partitions made on demand); plain SQL there gets a clear error."""
    stamps = ["2001-02-03T04:05:06Z", "2150-06-01T00:00:00Z", None, "2150-06-01T12:00:00Z", "1999-12-31T23:59:59Z"]
    batch = [{"seq": i, "thread_id": "far", "message": f"r{i}", "created_at": at} for i, at in enumerate(stamps)]
    with ws(hub) as conn:
        publish(conn, batch, producer="far-producer")
        ack = recv_until(conn, "ack")
    assert (ack["accepted"], ack["rejected"]) == (5, 0)
    wait_for_horizon(store.dsn)
    assert [r.message for r in store.history("far").records] == [f"r{i}" for i in range(5)]
    if layout == "partitioned":
        names = _partitions(store.dsn)
        assert {"thread_logs_p20010203", "thread_logs_p21500601", "thread_logs_p19991231"} <= set(names)
        with pytest.raises(psycopg.errors.CheckViolation, match='no partition of relation "thread_logs" found for row'):
            query(store.dsn, "INSERT INTO thread_logs (thread_id, message, created_at) VALUES ('x', 'y', '2300-01-01')")


def test_serve_creates_the_partitions_ahead(fresh_dsn: str, cli_env: dict[str, str]) -> None:
    """A hub starting on the partitioned layout makes the partitions from today to 7 days ahead that are missing."""
    _cli(fresh_dsn, cli_env, "apply-schema", "--partitioned", "daily")
    ahead = [p.name for p in periods_ahead(dt.datetime.now(UTC), "daily", AHEAD)][1:]
    for name in ahead:
        query(fresh_dsn, f"DROP TABLE {name}")
    assert not set(ahead) & set(_partitions(fresh_dsn))
    hub = HubProcess(fresh_dsn, cli_env, "--no-migrate")  # started: it has announced itself
    try:
        assert set(ahead) <= set(_partitions(fresh_dsn))
    finally:
        hub.stop()


@pytest.fixture
def partitioned_store(fresh_dsn: str) -> LogStore:
    from helpers import migrate

    migrate(fresh_dsn, "partitioned")
    return LogStore(fresh_dsn, max_size=2)


def test_prune_drops_whole_partitions_deletes_the_boundary_and_keeps_the_summary_exact(
    partitioned_store: LogStore, cli_env: dict[str, str]
) -> None:
    """prune --days drops the partitions before the cutoff, batch-deletes the rest, and thread_log_summary stays exact."""
    day = dt.datetime(2020, 1, 10, tzinfo=UTC)
    cutoff = day + dt.timedelta(hours=12)
    with partitioned_store as store:
        store.insert([*records("gone", 3, created_at=day - dt.timedelta(days=2)),
                      *records("both", 2, created_at=day - dt.timedelta(days=1))])
        store.insert([*records("both", 2, start=2, created_at=day + dt.timedelta(hours=1)),  # boundary, before the cutoff
                      *records("both", 1, start=4, created_at=day + dt.timedelta(hours=20)),  # boundary, kept
                      *records("new", 2, created_at=dt.datetime.now(UTC))])
        days = f"{(dt.datetime.now(UTC) - cutoff) / dt.timedelta(days=1):.6f}"
        dry = _cli(store.dsn, cli_env, "prune", "--days", days, "--dry-run")
        assert dry.startswith("dry run: would delete 7 rows"), dry
        assert "would drop partition thread_logs_p20200108 [2020-01-08T00:00:00+00:00, 2020-01-09T00:00:00+00:00): 3 rows" in dry
        assert "would drop partition thread_logs_p20200109" in dry and "p20200110" not in dry
        out = _cli(store.dsn, cli_env, "prune", "--days", days, "--batch-size", "1")
        assert out.startswith("deleted 7 rows"), out
        assert "dropped partition thread_logs_p20200108" in out and "dropped partition thread_logs_p20200109" in out
        names = _partitions(store.dsn)
        assert "thread_logs_p20200108" not in names and "thread_logs_p20200110" in names
        assert _summary(store) == {"both": (1, day + dt.timedelta(hours=20)), "new": (2, _summary(store)["new"][1])}
        query(store.dsn, "SELECT logctl_summary_compact()")
        truth = query(store.dsn, "SELECT thread_id, count(*), min(created_at) FROM thread_logs GROUP BY 1 ORDER BY 1")
        assert query(store.dsn, "SELECT thread_id, count, first_at FROM thread_log_summary ORDER BY 1") == truth


def test_a_prune_finishes_a_partition_left_detached(partitioned_store: LogStore, cli_env: dict[str, str]) -> None:
    """A partition detached by an interrupted prune is dropped by the next one, and its rows leave the summary."""
    old = dt.datetime(2020, 3, 1, tzinfo=UTC)
    with partitioned_store as store:
        store.insert(records("t", 4, created_at=old) + records("u", 1, created_at=old))
        store.insert(records("t", 1, start=4))
        query(store.dsn, "ALTER TABLE thread_logs DETACH PARTITION thread_logs_p20200301")
        out = _cli(store.dsn, cli_env, "prune", "--days", "30")
        assert out.startswith("deleted 5 rows"), out
        assert query(store.dsn, "SELECT to_regclass('thread_logs_p20200301') IS NULL") == [(True,)]
        assert {t: n for t, (n, _) in _summary(store).items()} == {"t": 1}


def test_plain_sql_backfills_through_logctl_create_partition(partitioned_store: LogStore) -> None:
    """Plain SQL makes the partitions a backfill needs with logctl_create_partition(), once each; the triggers fire."""
    made = query(partitioned_store.dsn, "SELECT logctl_create_partition(d) FROM generate_series("
                 "'2019-07-01 00:00+00'::timestamptz, '2019-07-03 12:00+00', interval '12 hours') d")
    assert [m for (m,) in made if m is not None] == ["thread_logs_p20190701", "thread_logs_p20190702", "thread_logs_p20190703"]
    at = dt.datetime(2019, 7, 2, 18, tzinfo=UTC)
    sql_insert(partitioned_store.dsn, [("sql", "one", at), ("sql", "two", at + dt.timedelta(hours=12))])
    with partitioned_store as store:
        assert _summary(store) == {"sql": (2, at)}
        assert store.count("sql") == 2


def test_a_running_hub_keeps_making_the_partitions_ahead(partitioned_store: LogStore) -> None:
    """keep_partitions, the hub's periodic task, makes the partitions ahead again after they go (a no-op when all exist)."""
    import asyncio

    from logctl.hub.run import keep_partitions

    tomorrow = periods_ahead(dt.datetime.now(UTC) + dt.timedelta(days=1), "daily", dt.timedelta(0))[0].name
    with partitioned_store as store:
        store.maintain_partitions()
        assert tomorrow in _partitions(store.dsn)
        query(store.dsn, f"DROP TABLE {tomorrow}")

        async def watch() -> None:
            task = asyncio.ensure_future(keep_partitions(store, interval=0.05))
            try:
                while tomorrow not in await asyncio.to_thread(_partitions, store.dsn):
                    await asyncio.sleep(0.05)
            finally:
                task.cancel()

        asyncio.run(asyncio.wait_for(watch(), timeout=30))
