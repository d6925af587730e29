"""Migrations: recorded checksums are verified, and a migration can run outside a transaction."""

from __future__ import annotations

import dataclasses

import psycopg
import pytest
from helpers import query, run_cli

from logctl.errors import MigrationEdited
from logctl.store.migrate import TRACKING_TABLE, Migration, apply_migrations, load_migrations, pending_migrations
from logctl.store.statements import split_statements

CONCURRENT_INDEX = Migration(
    900,
    "concurrent_index",
    "-- logctl:no-transaction\n"
    "-- Built without locking out writers; a transaction would refuse it.\n"
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_test_level ON thread_logs (level);\n"
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_test_seq ON thread_logs (seq);\n",
)


def _edited(migration: Migration) -> Migration:
    return dataclasses.replace(migration, sql=migration.sql + "\n-- an edit after the fact\n")


def test_applied_migrations_record_their_checksums(dsn: str) -> None:
    """Every applied migration's SHA-256 is in the tracking table."""
    stored = {v: c for v, c in query(dsn, f"SELECT version, checksum FROM {TRACKING_TABLE}")}
    assert stored == {m.version: m.checksum for m in load_migrations()}


def test_an_edited_applied_migration_is_refused_naming_it(dsn: str) -> None:
    """Applying (or checking) with a changed file of an applied migration raises MigrationEdited naming it."""
    migrations = list(load_migrations())
    migrations[1] = _edited(migrations[1])
    with psycopg.connect(dsn, autocommit=True) as conn:
        for attempt in (
            lambda: apply_migrations(conn, migrations=migrations),
            lambda: apply_migrations(conn, migrations=migrations, dry_run=True),
            lambda: pending_migrations(conn, migrations),
        ):
            with pytest.raises(MigrationEdited, match=f"migration {migrations[1].label} was changed"):
                attempt()


def test_a_crlf_checkout_of_a_migration_is_not_an_edit(dsn: str) -> None:
    """The same text with CRLF line endings (a Windows checkout) has the same checksum."""
    crlf = [dataclasses.replace(m, sql=m.sql.replace("\n", "\r\n")) for m in load_migrations()]
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert apply_migrations(conn, migrations=crlf).applied == ()


def test_apply_schema_cli_refuses_a_changed_checksum_in_one_line(dsn: str, cli_env: dict[str, str]) -> None:
    """`logctl apply-schema` on a schema whose recorded checksum differs exits 3 with one line naming the migration."""
    query(dsn, f"UPDATE {TRACKING_TABLE} SET checksum = 'not-this-one' WHERE version = 1")
    result = run_cli(["apply-schema", "--database-url", dsn], cli_env)
    assert result.returncode == 3, result.stderr
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and "migration 001_thread_logs was changed after it was applied" in errors[0]
    assert "Traceback" not in result.stderr


def test_a_tracking_table_without_checksums_gets_them_filled_in(dsn: str) -> None:
    """A tracking table lacking the checksum column gains it, filled from the files, and is verified from then on."""
    query(dsn, f"ALTER TABLE {TRACKING_TABLE} DROP COLUMN checksum")
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert apply_migrations(conn).applied == ()
        stored = {v: c for v, c in query(dsn, f"SELECT version, checksum FROM {TRACKING_TABLE}")}
        assert stored == {m.version: m.checksum for m in load_migrations()}
        with pytest.raises(MigrationEdited):
            apply_migrations(conn, migrations=[_edited(m) for m in load_migrations()])


def test_a_no_transaction_migration_can_create_an_index_concurrently(dsn: str) -> None:
    """A migration marked `-- logctl:no-transaction` runs statement by statement: CREATE INDEX CONCURRENTLY works."""
    assert not CONCURRENT_INDEX.transactional
    with psycopg.connect(dsn, autocommit=True) as conn:
        report = apply_migrations(conn, migrations=[*load_migrations(), CONCURRENT_INDEX])
    assert [m.version for m in report.applied] == [900]
    assert {"idx_test_level", "idx_test_seq"} <= set(report.state.indexes if report.state else ())
    assert query(dsn, f"SELECT checksum FROM {TRACKING_TABLE} WHERE version = 900") == [(CONCURRENT_INDEX.checksum,)]
    valid = query(dsn, "SELECT bool_and(indisvalid) FROM pg_index WHERE indexrelid::regclass::text LIKE 'idx_test_%%'")
    assert valid == [(True,)]


def test_the_same_concurrent_index_in_a_transactional_migration_fails(dsn: str) -> None:
    """Without the marker, the same SQL runs in one transaction, where PostgreSQL refuses CONCURRENTLY."""
    unmarked = dataclasses.replace(CONCURRENT_INDEX, sql=CONCURRENT_INDEX.sql.split("\n", 1)[1])
    assert unmarked.transactional
    with psycopg.connect(dsn, autocommit=True) as conn, pytest.raises(Exception, match="CONCURRENTLY"):
        apply_migrations(conn, migrations=[*load_migrations(), unmarked])
    assert query(dsn, f"SELECT count(*) FROM {TRACKING_TABLE} WHERE version = 900") == [(0,)]


def test_dry_run_says_which_migrations_run_without_a_transaction(dsn: str) -> None:
    """The dry-run report labels a marked migration 'no transaction'."""
    from logctl.cli.render import render_migration_report

    with psycopg.connect(dsn, autocommit=True) as conn:
        report = apply_migrations(conn, migrations=[*load_migrations(), CONCURRENT_INDEX], dry_run=True)
    assert "-- migration 900_concurrent_index (no transaction)" in render_migration_report(report)


@pytest.mark.parametrize(
    ("script", "statements"),
    [
        ("SELECT 1; SELECT 2;", ["SELECT 1", "SELECT 2"]),
        ("SELECT 'a;b', \"c;d\";", ["SELECT 'a;b', \"c;d\""]),
        ("SELECT 'it''s;';", ["SELECT 'it''s;'"]),
        ("SELECT E'x\\';y';", ["SELECT E'x\\';y'"]),
        ("CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql; SELECT 2",
         ["CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql", "SELECT 2"]),
        ("SELECT $tag$ ; $$ ; $tag$;", ["SELECT $tag$ ; $$ ; $tag$"]),
        ("-- a; comment\nSELECT 1; /* b; /* nested; */ still; */ SELECT 2", ["-- a; comment\nSELECT 1", "/* b; /* nested; */ still; */ SELECT 2"]),
        ("-- only a comment;\n;  ;\n", []),
    ],
)
def test_split_statements_keeps_semicolons_inside_quotes_and_comments(script: str, statements: list[str]) -> None:
    """A `;` inside a string, identifier, dollar quote or comment does not end a statement."""
    assert split_statements(script) == statements
