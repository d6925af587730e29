"""``logctl apply-schema``: fresh schemas, reruns, dry runs, the seed's table, concurrency."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import psycopg
from helpers import SEED_DDL, limited_role, query, run_cli, sql_insert

from logctl.store.migrate import EXPECTED_COLUMNS, EXPECTED_INDEXES, TRACKING_TABLE, apply_migrations, load_migrations


def _migration_names() -> list[str]:
    return [f"{m.version:03d}_{m.name}" for m in load_migrations()]


def _table_exists(dsn: str, name: str) -> bool:
    return bool(query(dsn, "SELECT to_regclass(%s) IS NOT NULL", (name,))[0][0])


def test_apply_schema_creates_table_indexes_and_reports_them(fresh_dsn: str, cli_env: dict[str, str]) -> None:
    """On an empty schema every migration is applied and the verified table is printed."""
    result = run_cli(["apply-schema", "--database-url", fresh_dsn], cli_env)
    assert result.returncode == 0, result.stderr
    for name in _migration_names():
        assert f"applied migration {name}" in result.stdout
    assert "verified table t_" in result.stdout
    for column in EXPECTED_COLUMNS:
        assert column in result.stdout
    for index in EXPECTED_INDEXES:
        assert index in result.stdout
    versions = query(fresh_dsn, f"SELECT version FROM {TRACKING_TABLE} ORDER BY version")
    assert [v for (v,) in versions] == [m.version for m in load_migrations()]


def test_apply_schema_twice_changes_nothing_and_says_so(fresh_dsn: str, cli_env: dict[str, str]) -> None:
    """A second run applies nothing, says "nothing changed", and still verifies the table."""
    assert run_cli(["apply-schema", "--database-url", fresh_dsn], cli_env).returncode == 0
    before = query(fresh_dsn, f"SELECT version, applied_at FROM {TRACKING_TABLE} ORDER BY version")
    again = run_cli(["apply-schema", "--database-url", fresh_dsn], cli_env)
    assert again.returncode == 0, again.stderr
    assert "nothing changed" in again.stdout
    assert "applied migration" not in again.stdout
    assert "verified table" in again.stdout
    assert query(fresh_dsn, f"SELECT version, applied_at FROM {TRACKING_TABLE} ORDER BY version") == before


def test_apply_schema_on_a_current_schema_needs_no_create_right(dsn: str, cli_env: dict[str, str]) -> None:
    """A role that may only read (as a hub's role may be) can run apply-schema once the schema is current."""
    with limited_role(dsn, "SELECT") as role_dsn:
        result = run_cli(["apply-schema", "--database-url", role_dsn], cli_env)
    assert result.returncode == 0, result.stderr
    assert "nothing changed" in result.stdout and "verified table" in result.stdout


def test_apply_schema_dry_run_prints_sql_and_changes_nothing(fresh_dsn: str, cli_env: dict[str, str]) -> None:
    """``--dry-run`` prints every pending migration's SQL and creates no table at all."""
    result = run_cli(["apply-schema", "--dry-run", "--database-url", fresh_dsn], cli_env)
    assert result.returncode == 0, result.stderr
    assert "CREATE TABLE IF NOT EXISTS thread_logs" in result.stdout
    for name in _migration_names():
        assert f"-- migration {name}" in result.stdout
    assert not _table_exists(fresh_dsn, "thread_logs")
    assert not _table_exists(fresh_dsn, TRACKING_TABLE)


def test_apply_schema_dry_run_on_current_schema_has_nothing_to_run(dsn: str, cli_env: dict[str, str]) -> None:
    """``--dry-run`` on an up-to-date schema says that nothing would run."""
    result = run_cli(["apply-schema", "--dry-run", "--database-url", dsn], cli_env)
    assert result.returncode == 0, result.stderr
    assert "nothing would run" in result.stdout
    assert "CREATE" not in result.stdout


def test_apply_schema_upgrades_a_seed_table_in_place(fresh_dsn: str, cli_env: dict[str, str]) -> None:
    """A table made by the seed's DDL keeps its rows; old rows get txid 1; plain SQL inserts still work."""
    with psycopg.connect(fresh_dsn, autocommit=True) as conn:
        conn.execute(SEED_DDL.encode())
    old = dt.datetime(2025, 1, 8, 10, 30, tzinfo=dt.timezone.utc)
    sql_insert(fresh_dsn, [("thread_abc123", "[API] Start requested", old), ("thread_abc123", "second", old), (None, "no thread", None)])
    with psycopg.connect(fresh_dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO thread_logs (thread_id, message, level) VALUES ('thread_xyz', 'warned', 'WARN')")
    before = query(fresh_dsn, "SELECT id, thread_id, message, created_at, level FROM thread_logs ORDER BY id")

    result = run_cli(["apply-schema", "--database-url", fresh_dsn], cli_env)

    assert result.returncode == 0, result.stderr
    assert "applied migration 002_stream_cursor" in result.stdout
    after = query(fresh_dsn, "SELECT id, thread_id, message, created_at, level FROM thread_logs ORDER BY id")
    assert after == before
    assert {t for (t,) in query(fresh_dsn, "SELECT txid::text FROM thread_logs")} == {"1"}
    indexes = {i for (i,) in query(fresh_dsn, "SELECT indexname FROM pg_indexes WHERE tablename = 'thread_logs' AND schemaname = current_schema()")}
    assert set(EXPECTED_INDEXES) <= indexes

    with psycopg.connect(fresh_dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO thread_logs (thread_id, message) VALUES ('thread_abc123', 'plain insert')")
    row = query(fresh_dsn, "SELECT created_at, level, txid::text::int8 FROM thread_logs WHERE message = 'plain insert'")[0]
    assert row[0] is not None and row[1] == "INFO" and int(str(row[2])) > 1


def test_concurrent_apply_schema_runs_apply_each_migration_once(fresh_dsn: str, cli_env: dict[str, str]) -> None:
    """Four apply-schema processes started together all succeed, and each migration runs exactly once."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "logctl", "apply-schema", "--database-url", fresh_dsn],
            env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [err for _, err in outputs]
    applied = [line for out, _ in outputs for line in out.splitlines() if line.startswith("applied migration")]
    assert sorted(applied) == sorted(f"applied migration {n}" for n in _migration_names())
    rows = query(fresh_dsn, f"SELECT version, count(*) FROM {TRACKING_TABLE} GROUP BY version ORDER BY version")
    assert rows == [(m.version, 1) for m in load_migrations()]


def test_concurrent_apply_migrations_from_threads(fresh_dsn: str) -> None:
    """apply_migrations called from eight threads at once on one fresh schema applies each migration once."""
    import concurrent.futures

    def run() -> int:
        with psycopg.connect(fresh_dsn, autocommit=True) as conn:
            return len(apply_migrations(conn).applied)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        counts = list(pool.map(lambda _: run(), range(8)))
    assert sum(counts) == len(load_migrations())
    assert sorted(counts, reverse=True)[1:] == [0] * 7
