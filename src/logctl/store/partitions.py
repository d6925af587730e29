"""The partitioned layout's partitions: reading them, creating them ahead or on demand, and dropping them whole.

Which partitions to create or drop is decided in :mod:`logctl.core.partitions`; this module
carries it out. Partitions are created as plain tables and then attached, which takes only a
SHARE UPDATE EXCLUSIVE lock on ``thread_logs`` (``CREATE TABLE … PARTITION OF`` would take an
ACCESS EXCLUSIVE one and block every reader and writer while it waits), under a per-schema
advisory lock so that hubs starting together do not race. There is no DEFAULT partition: it
would make ``DETACH … CONCURRENTLY`` impossible. Dropping a partition fires no DELETE trigger,
so :func:`drop_partition` appends the partition's per-thread sums to
``thread_log_summary_delta`` itself, in the transaction that drops it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Final

import psycopg
from psycopg import sql

from logctl.core.partitions import Partition, Period, check_period, missing
from logctl.errors import SchemaMissing

__all__ = [
    "CREATE_PARTITION_FUNCTION",
    "PARTITION_COMMENT",
    "PartitionState",
    "create_partitions",
    "drop_partition",
    "finish_detached",
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

_DETACHED: Final = (
    "SELECT c.relname FROM pg_class c"
    " WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'"
    " AND obj_description(c.oid, 'pg_class') = %s"
    " AND NOT EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = c.oid) ORDER BY 1"
)

# One statement: the dropped rows' sums per thread become negative deltas with recheck set,
# exactly as logctl_summary_remove() (migration 005) writes them after a DELETE.
_SUBTRACT: Final = (
    "WITH agg AS (SELECT thread_id, count(*) AS n,"
    " count(*) FILTER (WHERE lv = 'DEBUG') AS d, count(*) FILTER (WHERE lv = 'INFO') AS i,"
    " count(*) FILTER (WHERE lv = 'WARN') AS w, count(*) FILTER (WHERE lv = 'ERROR') AS e"
    " FROM (SELECT thread_id, logctl_level(level) AS lv FROM {table}) r GROUP BY thread_id),"
    " ins AS (INSERT INTO thread_log_summary_delta"
    " SELECT thread_id, NULL, NULL, -n, -d, -i, -w, -e, true FROM agg WHERE thread_id IS NOT NULL)"
    " SELECT coalesce(sum(n), 0)::int8 FROM agg"
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


def _concurrently(conn: Conn) -> bool:
    """DETACH … CONCURRENTLY exists from PostgreSQL 14."""
    return conn.info.server_version >= 140000


def drop_partition(conn: Conn, name: str) -> int:
    """Detach partition ``name`` (concurrently where the server allows), then drop it; return its rows.

    ``conn`` is in autocommit mode: ``DETACH … CONCURRENTLY`` cannot run in a transaction block.
    It waits for the transactions that use ``thread_logs`` to end, but blocks none of them.
    The summary deltas and the drop are one transaction, so thread_log_summary stays exact.
    """
    table = sql.Identifier(name)
    mode = sql.SQL(" CONCURRENTLY" if _concurrently(conn) else "")
    conn.execute(sql.SQL("ALTER TABLE thread_logs DETACH PARTITION {}{}").format(table, mode))
    return _subtract_and_drop(conn, name)


def _subtract_and_drop(conn: Conn, name: str) -> int:
    table = sql.Identifier(name)
    with conn.transaction():
        row = conn.execute(sql.SQL(_SUBTRACT).format(table=table)).fetchone()
        conn.execute(sql.SQL("DROP TABLE {}").format(table))
    return int(row[0]) if row else 0


def finish_detached(conn: Conn, state: PartitionState) -> int:
    """Complete what an interrupted prune left: finalize pending detaches, drop detached partitions. Rows dropped."""
    for name in state.pending:
        conn.execute(sql.SQL("ALTER TABLE thread_logs DETACH PARTITION {} FINALIZE").format(sql.Identifier(name)))
    dropped = 0
    for (name,) in conn.execute(_DETACHED, (PARTITION_COMMENT,)).fetchall():
        dropped += _subtract_and_drop(conn, str(name))
    return dropped
