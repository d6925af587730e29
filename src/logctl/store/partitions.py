"""The partitioned layout's partitions: reading them, creating them ahead or on demand, and dropping them whole.

Which partitions to create or drop is decided in :mod:`logctl.core.partitions`; this module
carries it out. Partitions are created as plain tables and then attached, which takes only a
SHARE UPDATE EXCLUSIVE lock on ``thread_logs`` (``CREATE TABLE … PARTITION OF`` would take an
ACCESS EXCLUSIVE one and block every reader and writer while it waits), under a per-schema
advisory lock so that hubs starting together do not race. There is no DEFAULT partition: it
would make ``DETACH … CONCURRENTLY`` impossible. Retention detaches and drops partitions:
:mod:`logctl.store.partition_drop`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Final

import psycopg

from logctl.core.partitions import Partition, Period, check_period, missing
from logctl.errors import SchemaMissing

__all__ = [
    "CREATE_PARTITION_FUNCTION",
    "PARTITION_COMMENT",
    "PartitionState",
    "create_partitions",
    "is_no_partition",
    "read_layout",
    "read_partitions",
]

Conn = psycopg.Connection[Any]

#: Set on every partition logctl makes, so that a detached one left by an interrupted prune is
#: recognised (and only logctl's own tables are ever dropped).
PARTITION_COMMENT: Final = "logctl: a partition of thread_logs"

#: ``logctl_create_partition(at)``: create and attach the partition holding ``at`` unless one
#: covers it; returns its name, or NULL. Installed with the layout, for logctl and for plain SQL
#: (a backfill: ``SELECT logctl_create_partition(d) FROM generate_series(…, interval '1 day') d``).
#: Same names and bounds as :mod:`logctl.core.partitions`; the advisory lock's first key is "log".
CREATE_PARTITION_FUNCTION: Final = """
CREATE OR REPLACE FUNCTION logctl_create_partition(at timestamptz) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    period text := (SELECT p.period FROM logctl_partitioning p);
    lo timestamptz;
    hi timestamptz;
    name text;
BEGIN
    IF period IS NULL THEN
        RAISE EXCEPTION 'thread_logs is not partitioned by logctl (no period in logctl_partitioning)';
    END IF;
    lo := date_trunc(CASE period WHEN 'daily' THEN 'day' ELSE 'week' END, at, 'UTC');
    hi := lo + CASE period WHEN 'daily' THEN interval '1 day' ELSE interval '1 week' END;
    name := 'thread_logs_p' || to_char(lo AT TIME ZONE 'UTC', 'YYYYMMDD');
    PERFORM pg_advisory_xact_lock(7106407, hashtext(current_schema() || ':partitions'));
    IF EXISTS (
        SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'thread_logs'::regclass
          AND coalesce((regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \\(''([^'']*)''\\)'))[1]::timestamptz <= lo, true)
          AND coalesce(lo < (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \\(''([^'']*)''\\)'))[1]::timestamptz, true)
    ) THEN
        RETURN NULL;
    END IF;
    -- A plain table, then ATTACH: a SHARE UPDATE EXCLUSIVE lock on thread_logs, where
    -- CREATE TABLE ... PARTITION OF would take an ACCESS EXCLUSIVE one.
    EXECUTE format('CREATE TABLE %I (LIKE thread_logs INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', name);
    EXECUTE format('COMMENT ON TABLE %I IS %L', name, 'logctl: a partition of thread_logs');
    IF hi >= '9999-12-31 00:00:00+00' THEN
        EXECUTE format('ALTER TABLE thread_logs ATTACH PARTITION %I FOR VALUES FROM (%L) TO (MAXVALUE)', name, lo);
    ELSE
        EXECUTE format('ALTER TABLE thread_logs ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', name, lo, hi);
    END IF;
    RETURN name;
END
$$"""

_PARTITIONS: Final = (
    "SELECT c.relname, i.inhdetachpending,"
    " (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \\(''([^'']*)''\\)'))[1]::timestamptz,"
    " (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \\(''([^'']*)''\\)'))[1]::timestamptz"
    " FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
    " WHERE i.inhparent = 'thread_logs'::regclass ORDER BY 3 NULLS FIRST"
)

@dataclasses.dataclass(frozen=True, slots=True)
class PartitionState:
    """The partitions of ``thread_logs`` now; ``pending``: names whose detach was interrupted."""

    partitions: tuple[Partition, ...]
    pending: tuple[str, ...] = ()


def read_layout(conn: Conn) -> Period | None:
    """The partition period of ``thread_logs`` in the current schema; None for the plain layout (or no table)."""
    row = conn.execute(
        "SELECT c.relkind = 'p', to_regclass('logctl_partitioning') IS NOT NULL FROM pg_class c"
        " WHERE c.oid = to_regclass('thread_logs')"
    ).fetchone()
    if row is None or not row[0]:
        return None
    period = conn.execute("SELECT period FROM logctl_partitioning").fetchone() if row[1] else None
    if period is None:
        raise SchemaMissing(
            "thread_logs is partitioned but its period is not recorded (logctl_partitioning):"
            " run `logctl apply-schema --partitioned daily|weekly`"
        )
    return check_period(str(period[0]))


def read_partitions(conn: Conn) -> PartitionState:
    """Every partition of ``thread_logs``, oldest first."""
    rows = conn.execute(_PARTITIONS).fetchall()
    return PartitionState(
        tuple(Partition(str(name), lower, upper) for name, _, lower, upper in rows),
        tuple(str(name) for name, pending, _, _ in rows if pending),
    )


def is_no_partition(exc: psycopg.Error) -> bool:
    """Whether ``exc`` is PostgreSQL's "no partition of relation … found for row"."""
    primary = exc.diag.message_primary or ""
    return isinstance(exc, psycopg.errors.CheckViolation) and primary.startswith("no partition of relation")


def create_partitions(conn: Conn, wanted: Sequence[Partition]) -> list[Partition]:
    """Create and attach each partition of ``wanted`` whose range is not covered yet; return those made.

    ``conn`` is in autocommit mode: each partition is one short transaction, through
    ``logctl_create_partition()`` (:data:`CREATE_PARTITION_FUNCTION`), which takes the
    per-schema advisory lock ``<schema>:partitions`` and checks again under it.
    """
    made: list[Partition] = []
    for part in missing(wanted, read_partitions(conn).partitions):
        row = conn.execute("SELECT logctl_create_partition(%s)", (part.lower,)).fetchone()
        if row is not None and row[0] is not None:
            made.append(part)
    return made
