"""Versioned schema migrations from ``sql/NNN_name.sql`` (package data of ``logctl.store``), applied under an advisory lock."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.resources
import re
from typing import TYPE_CHECKING, Final

import psycopg

from logctl.errors import SchemaMissing
from logctl.store.connect import translating

if TYPE_CHECKING:
    from importlib.abc import Traversable

__all__ = [
    "Migration",
    "MigrationReport",
    "SchemaState",
    "apply_migrations",
    "inspect_schema",
    "load_migrations",
    "pending_migrations",
]

TRACKING_TABLE: Final = "logctl_schema_migrations"
LOCK_NAMESPACE: Final = 0x6C6F67  # "log"; second key is a hash of "<schema>:migrate"

EXPECTED_COLUMNS: Final = ("id", "thread_id", "message", "created_at", "level", "txid", "producer_id", "seq")
EXPECTED_INDEXES: Final = (
    "thread_logs_pkey",
    "idx_thread_logs_thread_id",
    "idx_thread_logs_created_at",
    "idx_thread_logs_thread_time",
    "idx_thread_logs_producer_seq",
    "idx_thread_logs_thread_cursor",
)

_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")


@dataclasses.dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


@dataclasses.dataclass(frozen=True, slots=True)
class SchemaState:
    """What ``thread_logs`` looks like now: columns with types, and index names."""

    schema: str
    columns: tuple[tuple[str, str], ...]
    indexes: tuple[str, ...]
    rows_estimate: int

    @property
    def missing(self) -> list[str]:
        have_cols = {c for c, _ in self.columns}
        out = [f"column {c}" for c in EXPECTED_COLUMNS if c not in have_cols]
        out += [f"index {i}" for i in EXPECTED_INDEXES if i not in self.indexes]
        return out


@dataclasses.dataclass(frozen=True, slots=True)
class MigrationReport:
    applied: tuple[Migration, ...]
    already: tuple[int, ...]
    state: SchemaState | None
    dry_run: bool = False
    pending_sql: tuple[Migration, ...] = ()


def load_migrations(directory: Traversable | None = None) -> tuple[Migration, ...]:
    """Every migration file, in version order (by default the package's own ``sql/``)."""
    folder = directory or importlib.resources.files("logctl.store") / "sql"
    if not folder.is_dir():
        raise SchemaMissing(f"no migration files found in {folder}")
    found: list[Migration] = []
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        match = _NAME.match(path.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), path.read_text("utf-8")))
    if not found:
        raise SchemaMissing(f"no migration files found in {folder}")
    return tuple(found)


def _applied_versions(conn: psycopg.Connection[tuple[object, ...]]) -> set[int]:
    exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (TRACKING_TABLE,)).fetchone()
    if not exists or not exists[0]:
        return set()
    return {int(str(r[0])) for r in conn.execute(f"SELECT version FROM {TRACKING_TABLE}")}


def pending_migrations(conn: psycopg.Connection[tuple[object, ...]]) -> list[Migration]:
    """Migrations not yet recorded as applied in the current schema."""
    with translating(conn.info.dsn):
        done = _applied_versions(conn)
    return [m for m in load_migrations() if m.version not in done]


def apply_migrations(conn: psycopg.Connection[tuple[object, ...]], *, dry_run: bool = False) -> MigrationReport:
    """Apply pending migrations, one transaction each, under a per-schema advisory lock.

    ``conn`` must be in autocommit mode. Safe to run concurrently from many processes:
    the second waits for the first and then finds nothing to do.
    """
    migrations = load_migrations()
    with translating(conn.info.dsn):
        if dry_run:
            done = _applied_versions(conn)
            pending = tuple(m for m in migrations if m.version not in done)
            return MigrationReport((), tuple(sorted(done)), None, True, pending)
        conn.execute(
            "SELECT pg_advisory_lock(%s, hashtext(current_schema() || ':migrate'))", (LOCK_NAMESPACE,)
        )
        try:
            done = _applied_versions(conn)
            if any(m.version not in done for m in migrations):
                # Only when there is work: a role without CREATE can still check an up-to-date schema.
                conn.execute(
                    f"CREATE TABLE IF NOT EXISTS {TRACKING_TABLE} ("
                    " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
                    " applied_at timestamptz NOT NULL DEFAULT now())"
                )
            applied: list[Migration] = []
            for migration in migrations:
                if migration.version in done:
                    continue
                with conn.transaction():
                    conn.execute(migration.sql.encode())
                    conn.execute(
                        f"INSERT INTO {TRACKING_TABLE} (version, name, checksum) VALUES (%s, %s, %s)",
                        (migration.version, migration.name, migration.checksum),
                    )
                applied.append(migration)
        finally:
            conn.execute(
                "SELECT pg_advisory_unlock(%s, hashtext(current_schema() || ':migrate'))", (LOCK_NAMESPACE,)
            )
        state = inspect_schema(conn)
    if state.missing:
        raise SchemaMissing(f"after migrating, thread_logs still lacks {', '.join(state.missing)}")
    return MigrationReport(tuple(applied), tuple(sorted(done)), state)


def inspect_schema(conn: psycopg.Connection[tuple[object, ...]]) -> SchemaState:
    """Read the columns and indexes of ``thread_logs`` in the current schema."""
    with translating(conn.info.dsn):
        row = conn.execute("SELECT current_schema()").fetchone()
        assert row is not None
        schema = str(row[0])
        cols = conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = %s AND table_name = 'thread_logs' ORDER BY ordinal_position",
            (schema,),
        ).fetchall()
        if not cols:
            raise SchemaMissing(f"the thread_logs table does not exist in schema {schema}: run `logctl apply-schema`")
        idx = conn.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = %s AND tablename = 'thread_logs' ORDER BY indexname",
            (schema,),
        ).fetchall()
        est = conn.execute(
            "SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = 'thread_logs'::regclass"
        ).fetchone()
    return SchemaState(
        schema=schema,
        columns=tuple((str(c), str(t)) for c, t in cols),
        indexes=tuple(str(i[0]) for i in idx),
        rows_estimate=int(str(est[0])) if est else 0,
    )
