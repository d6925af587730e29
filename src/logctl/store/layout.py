"""The layout of ``thread_logs``: plain (the migrations' table) or range-partitioned by ``created_at``.

``apply_layout`` runs after the migrations. Asked for a partitioned layout on a plain table, it
converts it (see docs/operations.md, "Choosing a layout"):

- an **empty** table is replaced by the partitioned one in one short transaction;
- a table **with rows** becomes the first partition, ``thread_logs_legacy``, holding everything
  before a bound ``B`` (the start of the period after both now and its newest row). First,
  outside any transaction and without blocking writers, it gets what a partition needs: a CHECK
  ``created_at IS NOT NULL AND created_at < B`` added NOT VALID and then validated (rows without
  a ``created_at`` get the conversion's time first), ``NOT NULL`` (proved by that CHECK, so no
  scan), and unique indexes on ``(id, created_at)`` and ``(producer_id, seq, created_at)``
  built CONCURRENTLY. Then one short transaction renames it, creates the partitioned
  ``thread_logs`` with the same columns, indexes, triggers and grants, and attaches the old
  table as ``FOR VALUES FROM (MINVALUE) TO (B)``: the validated CHECK spares that a scan.

Every step can run again after an interruption. A partitioned table is never turned back into a
plain one (that would be a full copy; see docs/operations.md), and its period never changes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, Final

import psycopg
from psycopg import sql

from logctl.core.partitions import AHEAD, Partition, Period, period_start, periods_ahead
from logctl.errors import ConfigError, SchemaMissing
from logctl.store.connect import translating
from logctl.store.migrate import LOCK_NAMESPACE
from logctl.store.partitions import (
    CREATE_PARTITION_FUNCTION,
    PARTITION_COMMENT,
    create_partitions,
    read_layout,
    read_partitions,
)

__all__ = ["LayoutReport", "apply_layout", "conversion_bound", "describe_conversion"]

Conn = psycopg.Connection[Any]

LEGACY: Final = "thread_logs_legacy"
_TRIGGERS: Final = (
    "thread_logs_notify",
    "thread_logs_summary_insert",
    "thread_logs_summary_delete",
    "thread_logs_summary_update_1",
    "thread_logs_summary_update_2",
    "thread_logs_summary_truncate",
)

# The partitioned table: the columns, defaults, constraints and triggers of migrations 001-007, with the
# partition key in the primary key and in the producers' unique key.
_PARENT: Final = """
CREATE TABLE thread_logs (
    id BIGINT NOT NULL DEFAULT nextval('thread_logs_id_seq'),
    thread_id TEXT,
    message TEXT NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
    level TEXT DEFAULT 'INFO',
    txid xid8 NOT NULL DEFAULT pg_current_xact_id(),
    producer_id TEXT,
    seq BIGINT,
    CONSTRAINT thread_logs_pkey PRIMARY KEY (id, created_at),
    CONSTRAINT thread_logs_created_at_range CHECK (
        created_at >= '0001-01-02 00:00:00+00' AND created_at < '9999-12-31 00:00:00+00')
) PARTITION BY RANGE (created_at);
ALTER SEQUENCE thread_logs_id_seq OWNED BY thread_logs.id;
CREATE INDEX idx_thread_logs_thread_id ON thread_logs (thread_id);
CREATE INDEX idx_thread_logs_created_at ON thread_logs (created_at);
CREATE INDEX idx_thread_logs_thread_time ON thread_logs (thread_id, created_at);
CREATE UNIQUE INDEX idx_thread_logs_producer_seq ON thread_logs (producer_id, seq, created_at);
CREATE INDEX idx_thread_logs_thread_cursor ON thread_logs (thread_id, txid, id);
CREATE TRIGGER thread_logs_notify AFTER INSERT ON thread_logs
    FOR EACH STATEMENT EXECUTE FUNCTION logctl_notify();
CREATE TRIGGER thread_logs_summary_insert AFTER INSERT ON thread_logs
    REFERENCING NEW TABLE AS logctl_new_rows FOR EACH STATEMENT
    WHEN (current_setting('logctl.summary_by_writer', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION logctl_summary_add();
CREATE TRIGGER thread_logs_summary_delete AFTER DELETE ON thread_logs
    REFERENCING OLD TABLE AS logctl_old_rows FOR EACH STATEMENT EXECUTE FUNCTION logctl_summary_remove();
CREATE TRIGGER thread_logs_summary_update_1 AFTER UPDATE ON thread_logs
    REFERENCING OLD TABLE AS logctl_old_rows FOR EACH STATEMENT EXECUTE FUNCTION logctl_summary_remove();
CREATE TRIGGER thread_logs_summary_update_2 AFTER UPDATE ON thread_logs
    REFERENCING NEW TABLE AS logctl_new_rows FOR EACH STATEMENT EXECUTE FUNCTION logctl_summary_add();
CREATE TRIGGER thread_logs_summary_truncate AFTER TRUNCATE ON thread_logs
    FOR EACH STATEMENT EXECUTE FUNCTION logctl_summary_clear();
CREATE TABLE IF NOT EXISTS logctl_partitioning (
    one BOOLEAN PRIMARY KEY DEFAULT true CHECK (one),
    period TEXT NOT NULL CHECK (period IN ('daily', 'weekly'))
);
"""

# The producers' ledger (store/partitioned_write.py), filled from the rows already stored.
_LEDGER: Final = """
CREATE TABLE IF NOT EXISTS thread_log_producers (
    producer_id TEXT PRIMARY KEY, max_seq BIGINT, first_at TIMESTAMP WITH TIME ZONE, last_at TIMESTAMP WITH TIME ZONE
)"""
_FILL_LEDGER: Final = (
    "INSERT INTO thread_log_producers AS l (producer_id, max_seq, first_at, last_at)"
    " SELECT producer_id, max(seq), min(created_at), max(created_at) FROM thread_logs"
    " WHERE producer_id IS NOT NULL AND seq IS NOT NULL AND id > %s GROUP BY producer_id"
    " ON CONFLICT (producer_id) DO UPDATE SET max_seq = greatest(l.max_seq, EXCLUDED.max_seq),"
    " first_at = least(l.first_at, EXCLUDED.first_at), last_at = greatest(l.last_at, EXCLUDED.last_at)"
)

_BOUND_CHECK: Final = "thread_logs_legacy_bound"
_PREP_INDEXES: Final = (
    ("thread_logs_legacy_id_created_at", "(id, created_at)"),
    ("thread_logs_legacy_producer_seq_created_at", "(producer_id, seq, created_at)"),
)


@dataclasses.dataclass(frozen=True, slots=True)
class LayoutReport:
    """The layout after :func:`apply_layout`, and what it did."""

    period: Period | None
    converted: str | None = None  # "empty" or "attached": how a plain table was converted now
    created: tuple[Partition, ...] = ()
    partitions: tuple[Partition, ...] = ()
    legacy_bound: dt.datetime | None = None


def conversion_bound(newest: dt.datetime | None, now: dt.datetime, period: Period) -> dt.datetime:
    """``B``: the start of the period after both ``now`` and the newest row, at least an hour away."""
    step = periods_ahead(now, period, dt.timedelta(0))[0]
    assert step.upper is not None and step.lower is not None
    length = step.upper - step.lower
    latest = now if newest is None or newest < now else newest
    bound = period_start(latest, period) + length
    return bound + length if bound - now < dt.timedelta(hours=1) else bound


def describe_conversion(conn: Conn, period: Period) -> str:
    """What ``apply-schema --partitioned … --dry-run`` prints: the plan, or why there is none."""
    with translating(conn.info.dsn):
        now = read_layout(conn)  # None for a plain table, or none yet
    if now == period:
        return f"-- thread_logs is already partitioned {period}: nothing to convert"
    if now is not None:
        return f"-- thread_logs is already partitioned {now}: apply-schema does not change the period"
    return "\n".join([
        f"-- convert thread_logs to the partitioned layout ({period})",
        "-- if empty: replace it with the partitioned table in one transaction;",
        "-- else, without blocking writers: ADD CHECK (created_at IS NOT NULL AND created_at < B) NOT VALID;",
        "--   UPDATE rows without created_at to now(); VALIDATE the CHECK; SET NOT NULL;",
        "--   CREATE UNIQUE INDEX CONCURRENTLY on (id, created_at) and (producer_id, seq, created_at);",
        f"-- then one short transaction: rename it {LEGACY}, create the partitioned thread_logs,",
        "--   ATTACH it FOR VALUES FROM (MINVALUE) TO (B), create partitions up to 7 days ahead",
    ])


def _prepare_legacy(conn: Conn, bound: dt.datetime) -> int:
    """The non-blocking steps: bound CHECK, no NULL created_at, NOT NULL, unique indexes with created_at,
    the producers' ledger. Return the highest id the ledger covers (the swap adds the rows after it)."""
    # Added again each time: an interrupted conversion may have left one with another bound.
    conn.execute(sql.SQL("ALTER TABLE thread_logs DROP CONSTRAINT IF EXISTS {}").format(sql.Identifier(_BOUND_CHECK)))
    conn.execute(sql.SQL(
        "ALTER TABLE thread_logs ADD CONSTRAINT {} CHECK (created_at IS NOT NULL AND created_at < {}) NOT VALID"
    ).format(sql.Identifier(_BOUND_CHECK), sql.Literal(bound)))
    conn.execute("UPDATE thread_logs SET created_at = now() WHERE created_at IS NULL")
    conn.execute(sql.SQL("ALTER TABLE thread_logs VALIDATE CONSTRAINT {}").format(sql.Identifier(_BOUND_CHECK)))
    conn.execute("ALTER TABLE thread_logs ALTER COLUMN created_at SET NOT NULL")
    for name, columns in _PREP_INDEXES:
        invalid = conn.execute(
            "SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE c.relname = %s AND c.relnamespace = current_schema()::regnamespace AND NOT i.indisvalid",
            (name,),
        ).fetchone()
        if invalid:  # left by an interrupted CREATE INDEX CONCURRENTLY
            conn.execute(sql.SQL("DROP INDEX CONCURRENTLY {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS {} ON thread_logs {}").format(
            sql.Identifier(name), sql.SQL(columns)
        ))
    top = conn.execute("SELECT coalesce(max(id), 0) FROM thread_logs").fetchone()
    conn.execute(_LEDGER)
    conn.execute(_FILL_LEDGER, (0,))
    return int(top[0]) if top else 0


def _grants(conn: Conn, table: str) -> list[sql.Composed]:
    """GRANT statements giving ``thread_logs`` the privileges ``table`` has."""
    rows = conn.execute(
        "SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END, a.privilege_type"
        " FROM pg_class c, aclexplode(c.relacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee"
        " WHERE c.oid = %s::regclass AND a.grantee <> c.relowner",
        (table,),
    ).fetchall()
    return [sql.SQL("GRANT {} ON thread_logs TO {}").format(sql.SQL(str(p)), sql.SQL(str(g))) for g, p in rows]


def _swap(conn: Conn, period: Period, bound: dt.datetime | None, filled: int) -> str | None:
    """The short transaction. Returns "empty" or "attached", or None if rows came in (prepare, then again)."""
    with conn.transaction():
        conn.execute("LOCK TABLE thread_logs IN ACCESS EXCLUSIVE MODE")
        empty = conn.execute("SELECT NOT EXISTS (SELECT 1 FROM thread_logs)").fetchone()
        if empty is None or not (empty[0] or bound is not None):
            return None
        grants = _grants(conn, "thread_logs")
        if empty[0]:
            conn.execute("ALTER SEQUENCE thread_logs_id_seq OWNED BY NONE")
            conn.execute("DROP TABLE thread_logs")
        else:
            conn.execute(_FILL_LEDGER, (filled,))  # the rows written since the ledger was filled
            conn.execute(sql.SQL("ALTER TABLE thread_logs RENAME TO {}").format(sql.Identifier(LEGACY)))
            for trigger in _TRIGGERS:
                conn.execute(sql.SQL("DROP TRIGGER IF EXISTS {} ON {}").format(sql.Identifier(trigger), sql.Identifier(LEGACY)))
            names = conn.execute(
                "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = %s::regclass", (LEGACY,)
            ).fetchall()
            for (index,) in names:
                old = str(index)
                if old.startswith("thread_logs_legacy_"):
                    continue
                new = "thread_logs_legacy_" + old.removeprefix("idx_").removeprefix("thread_logs_")
                conn.execute(sql.SQL("ALTER INDEX {} RENAME TO {}").format(sql.Identifier(old), sql.Identifier(new)))
            conn.execute(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} UNIQUE USING INDEX {}").format(
                sql.Identifier(LEGACY), sql.Identifier(_PREP_INDEXES[0][0]), sql.Identifier(_PREP_INDEXES[0][0])
            ))
            conn.execute(sql.SQL("COMMENT ON TABLE {} IS {}").format(sql.Identifier(LEGACY), sql.Literal(PARTITION_COMMENT)))
        conn.execute(_PARENT.encode())
        conn.execute(_LEDGER)
        conn.execute(CREATE_PARTITION_FUNCTION.encode())
        for grant in grants:
            conn.execute(grant)
        conn.execute("INSERT INTO logctl_partitioning (period) VALUES (%s)", (period,))
        if not empty[0]:
            conn.execute(sql.SQL("ALTER TABLE thread_logs ATTACH PARTITION {} FOR VALUES FROM (MINVALUE) TO ({})").format(
                sql.Identifier(LEGACY), sql.Literal(bound)
            ))
    return "empty" if empty[0] else "attached"


def _convert(conn: Conn, period: Period, now: dt.datetime) -> tuple[str, dt.datetime | None]:
    bound: dt.datetime | None = None
    filled = 0
    for _ in range(3):
        done = _swap(conn, period, bound, filled)
        if done is not None:
            return done, bound
        newest = conn.execute("SELECT max(created_at) FROM thread_logs").fetchone()
        bound = conversion_bound(None if newest is None else newest[0], now, period)
        filled = _prepare_legacy(conn, bound)
    raise AssertionError("thread_logs could not be locked for the conversion")  # _swap attaches once prepared


def _install_function(conn: Conn) -> None:
    """(Re)create logctl_create_partition() if it is missing or differs, under the migrations' lock."""
    body = CREATE_PARTITION_FUNCTION.split("$$")[1]
    same = conn.execute(
        "SELECT prosrc = %s FROM pg_proc WHERE proname = 'logctl_create_partition'"
        " AND pronamespace = current_schema()::regnamespace",
        (body,),
    ).fetchone()
    if same is not None and same[0]:
        return
    key = (LOCK_NAMESPACE,)
    conn.execute("SELECT pg_advisory_lock(%s, hashtext(current_schema() || ':migrate'))", key)
    try:
        conn.execute(CREATE_PARTITION_FUNCTION.encode())
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s, hashtext(current_schema() || ':migrate'))", key)


def _verify(conn: Conn) -> None:
    """Refuse a partitioned thread_logs that lacks a trigger, the ledger or a key holding created_at."""
    have = {str(r[0]) for r in conn.execute(
        "SELECT tgname FROM pg_trigger WHERE tgrelid = 'thread_logs'::regclass AND NOT tgisinternal"
    ).fetchall()}
    lacks = [f"trigger {t}" for t in _TRIGGERS if t not in have]
    if conn.execute("SELECT to_regclass('thread_log_producers')").fetchone() == (None,):
        lacks.append("table thread_log_producers")
    keyed = conn.execute(
        "SELECT pg_get_indexdef('idx_thread_logs_producer_seq'::regclass) LIKE '%(producer_id, seq, created_at)'"
    ).fetchone()
    if not keyed or not keyed[0]:
        lacks.append("unique index idx_thread_logs_producer_seq on (producer_id, seq, created_at)")
    if lacks:
        raise SchemaMissing(f"the partitioned thread_logs lacks {', '.join(lacks)}")


def apply_layout(
    conn: Conn, want: Period | None, *, now: dt.datetime | None = None, ahead: dt.timedelta = AHEAD
) -> LayoutReport:
    """Keep, or convert to, the layout asked for (None: keep the current one); make partitions ``ahead``.

    ``conn`` is in autocommit mode; the conversion runs under the migrations' advisory lock.
    """
    now = now or dt.datetime.now(dt.timezone.utc)
    converted: str | None = None
    bound: dt.datetime | None = None
    with translating(conn.info.dsn):
        period = read_layout(conn)
        if want is not None and period is not None and want != period:
            raise ConfigError(
                f"thread_logs is already partitioned {period}; apply-schema does not change the period"
                " (see docs/operations.md, 'Choosing a layout')"
            )
        if want is not None and period is None:
            key = (LOCK_NAMESPACE,)
            conn.execute("SELECT pg_advisory_lock(%s, hashtext(current_schema() || ':migrate'))", key)
            try:
                if read_layout(conn) is None:
                    converted, bound = _convert(conn, want, now)
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s, hashtext(current_schema() || ':migrate'))", key)
            period = want
        if period is None:
            return LayoutReport(None)
        _verify(conn)
        _install_function(conn)
        created = create_partitions(conn, periods_ahead(now, period, ahead))
        partitions = read_partitions(conn).partitions
    return LayoutReport(period, converted, tuple(created), partitions, bound)
