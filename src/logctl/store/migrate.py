"""Versioned schema migrations from ``sql/NNN_name.sql`` (package data of ``logctl.store``), applied under an advisory lock.

Each migration runs in its own transaction, unless its first line is ``-- logctl:no-transaction``:
then its statements run one by one in autocommit mode, which ``CREATE INDEX CONCURRENTLY``
needs. Such a migration must be safe to run again (``IF NOT EXISTS``), since a failure halfway
leaves it unrecorded. The SHA-256 of every applied migration is recorded; a file changed after
it was applied is refused (:class:`~logctl.errors.MigrationEdited`) rather than silently ignored.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.resources
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

import psycopg

from logctl.errors import MigrationEdited, SchemaMissing
from logctl.store.connect import translating
from logctl.store.statements import split_statements

if TYPE_CHECKING:
    from importlib.abc import Traversable

__all__ = [
    "NO_TRANSACTION_MARKER",
    "Migration",
    "MigrationReport",
    "SchemaState",
    "apply_migrations",
    "inspect_schema",
    "load_migrations",
    "pending_migrations",
]

TRACKING_TABLE: Final = "logctl_schema_migrations"
NO_TRANSACTION_MARKER: Final = "-- logctl:no-transaction"
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
    def label(self) -> str:
        """``NNN_name``, as the file is named."""
        return f"{self.version:03d}_{self.name}"

    @property
    def checksum(self) -> str:
        """SHA-256 of the text, line endings normalised (a CRLF checkout is not an edit)."""
        return hashlib.sha256(self.sql.replace("\r\n", "\n").encode()).hexdigest()

    @property
    def transactional(self) -> bool:
        """False when the first line is :data:`NO_TRANSACTION_MARKER`."""
        first = self.sql.lstrip("\ufeff").split("\n", 1)[0].strip()
        return first != NO_TRANSACTION_MARKER


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


def _applied(conn: psycopg.Connection[tuple[object, ...]]) -> dict[int, str | None]:
    """Applied versions and their recorded checksums (None where none is recorded)."""
    exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (TRACKING_TABLE,)).fetchone()
    if not exists or not exists[0]:
        return {}
    has_checksum = conn.execute(
        "SELECT 1 FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND table_name = %s AND column_name = 'checksum'",
        (TRACKING_TABLE,),
    ).fetchone()
    column = "checksum" if has_checksum else "NULL::text"
    rows = conn.execute(f"SELECT version, {column} FROM {TRACKING_TABLE}").fetchall()
    return {int(str(version)): None if checksum is None else str(checksum) for version, checksum in rows}


def _verify(migrations: Sequence[Migration], applied: dict[int, str | None]) -> None:
    """Refuse any applied migration whose file no longer matches its recorded checksum."""
    for migration in migrations:
        stored = applied.get(migration.version)
        if stored is not None and stored != migration.checksum:
            raise MigrationEdited(
                f"migration {migration.label} was changed after it was applied"
                f" (recorded checksum {stored[:12]}…, file {migration.checksum[:12]}…):"
                " restore the file, and put the change in a new migration"
            )


def _record_missing_checksums(
    conn: psycopg.Connection[tuple[object, ...]], migrations: Sequence[Migration], applied: dict[int, str | None]
) -> None:
    """Give a tracking table without checksums (an older or hand-made one) the column, filled from the files."""
    unrecorded = [m for m in migrations if m.version in applied and applied[m.version] is None]
    if not unrecorded:
        return
    conn.execute(f"ALTER TABLE {TRACKING_TABLE} ADD COLUMN IF NOT EXISTS checksum text")
    for migration in unrecorded:
        conn.execute(
            f"UPDATE {TRACKING_TABLE} SET checksum = %s WHERE version = %s AND checksum IS NULL",
            (migration.checksum, migration.version),
        )


def _run(conn: psycopg.Connection[tuple[object, ...]], migration: Migration) -> None:
    """Run one migration and record it: in one transaction, or statement by statement."""
    record = (
        f"INSERT INTO {TRACKING_TABLE} (version, name, checksum) VALUES (%s, %s, %s)",
        (migration.version, migration.name, migration.checksum),
    )
    if migration.transactional:
        with conn.transaction():
            conn.execute(migration.sql.encode())
            conn.execute(*record)
        return
    for statement in split_statements(migration.sql):
        conn.execute(statement.encode())
    conn.execute(*record)


def pending_migrations(
    conn: psycopg.Connection[tuple[object, ...]], migrations: Sequence[Migration] | None = None
) -> list[Migration]:
    """Migrations not yet recorded as applied in the current schema (applied ones are verified)."""
    migrations = load_migrations() if migrations is None else migrations
    with translating(conn.info.dsn):
        applied = _applied(conn)
    _verify(migrations, applied)
    return [m for m in migrations if m.version not in applied]


def apply_migrations(
    conn: psycopg.Connection[tuple[object, ...]],
    *,
    dry_run: bool = False,
    migrations: Sequence[Migration] | None = None,
) -> MigrationReport:
    """Apply pending migrations under a per-schema advisory lock, after verifying the applied ones.

    ``conn`` must be in autocommit mode. Safe to run concurrently from many processes:
    the second waits for the first and then finds nothing to do. ``migrations`` defaults
    to the package's own.
    """
    migrations = load_migrations() if migrations is None else migrations
    with translating(conn.info.dsn):
        if dry_run:
            applied = _applied(conn)
            _verify(migrations, applied)
            pending = tuple(m for m in migrations if m.version not in applied)
            return MigrationReport((), tuple(sorted(applied)), None, True, pending)
        conn.execute(
            "SELECT pg_advisory_lock(%s, hashtext(current_schema() || ':migrate'))", (LOCK_NAMESPACE,)
        )
        try:
            applied = _applied(conn)
            _verify(migrations, applied)
            _record_missing_checksums(conn, migrations, applied)
            if any(m.version not in applied for m in migrations):
                # Only when there is work: a role without CREATE can still check an up-to-date schema.
                conn.execute(
                    f"CREATE TABLE IF NOT EXISTS {TRACKING_TABLE} ("
                    " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
                    " applied_at timestamptz NOT NULL DEFAULT now())"
                )
            done: list[Migration] = []
            for migration in migrations:
                if migration.version not in applied:
                    _run(conn, migration)
                    done.append(migration)
        finally:
            conn.execute(
                "SELECT pg_advisory_unlock(%s, hashtext(current_schema() || ':migrate'))", (LOCK_NAMESPACE,)
            )
        state = inspect_schema(conn)
    if state.missing:
        raise SchemaMissing(f"after migrating, thread_logs still lacks {', '.join(state.missing)}")
    return MigrationReport(tuple(done), tuple(sorted(applied)), state)


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
