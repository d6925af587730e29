"""Dropping whole partitions of ``thread_logs`` for retention, with thread_log_summary kept exact.

A dropped partition fires no DELETE trigger, so the summary is corrected here, in three steps
whose cost depends on the rows and threads dropped, not on the rows kept:

1. :func:`detach` each partition (``DETACH … CONCURRENTLY`` from PostgreSQL 14: two short
   transactions that wait for the transactions using ``thread_logs`` but block none);
2. :func:`count_rows` of the detached partitions per thread and level: a sequential read,
   about :data:`COUNT_PAGES` pages per statement (small partitions together, big ones in page
   ranges), read-only, so it holds no transaction id (and not the live feed's horizon);
3. :func:`drop_detached`: one short transaction that takes the summary folders' lock, folds the
   pending deltas, subtracts the counts from each thread's summary row once (whatever the number
   of partitions), reads ``first_at`` again for the threads that lost rows (the oldest remaining
   partition's index first: an ordered Append under ``LIMIT 1``), ``last_at`` only for those
   whose newest row was dropped, deletes the threads left with no row, and drops the partitions.

The counts and the drop commit together: an interrupted prune leaves partitions detached (or
half-detached), and the next one finishes them (:func:`leftovers`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any, Final

import psycopg
from psycopg import sql

from logctl.core.thread_sums import DroppedSums, count_statements
from logctl.store.migrate import LOCK_NAMESPACE
from logctl.store.partitions import PARTITION_COMMENT, PartitionState

__all__ = ["COUNT_PAGES", "count_rows", "detach", "drop_detached", "leftovers"]

Conn = psycopg.Connection[Any]

# Per thread and level, over the page ranges of one statement ({rows}: one SELECT per range).
_COUNT: Final = (
    "SELECT thread_id, count(*), count(*) FILTER (WHERE lv = 'DEBUG'), count(*) FILTER (WHERE lv = 'INFO'),"
    " count(*) FILTER (WHERE lv = 'WARN'), count(*) FILTER (WHERE lv = 'ERROR')"
    " FROM ({rows}) r GROUP BY thread_id"
)
_RANGE: Final = "SELECT thread_id, logctl_level(level) AS lv FROM {table} WHERE ctid >= {lo}::tid AND ctid < {hi}::tid"
_WHOLE: Final = "SELECT thread_id, logctl_level(level) AS lv FROM {table}"
#: Pages counted per statement: about 220,000 rows of ~130 bytes, a few tenths of a second.
#: Small partitions share one; a big one is read in page ranges (a TID range scan, PostgreSQL 14
#: and later), so a paced prune rests inside it too. Each statement returns one row per thread
#: it saw, to be added up in Python: fewer, bigger statements cost less there, smaller ones
#: pace more finely.
COUNT_PAGES: Final = 4000

_DETACHED: Final = (
    "SELECT c.relname FROM pg_class c"
    " WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'"
    " AND obj_description(c.oid, 'pg_class') = %s"
    " AND NOT EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = c.oid) ORDER BY 1"
)

# Every thread's summary row once: the dropped counts subtracted; first_at read again where the
# thread lost rows and keeps some, last_at only where its newest row was among them (before
# %(bound)s, the end of the newest partition dropped). min()/max() over thread_logs become an
# ordered Append of the partitions' (thread_id, created_at) indexes under LIMIT 1: for a thread
# with a row in the oldest remaining partition, one index descent.
_SUBTRACT: Final = (
    "UPDATE thread_log_summary s SET"
    " count = s.count - d.n, debug = s.debug - d.debug, info = s.info - d.info,"
    " warn = s.warn - d.warn, error = s.error - d.error,"
    " first_at = CASE WHEN s.count - d.n > 0 AND s.first_at < coalesce(%(bound)s::timestamptz, 'infinity')"
    "   THEN (SELECT min(t.created_at) FROM thread_logs t WHERE t.thread_id = s.thread_id) ELSE s.first_at END,"
    " last_at = CASE WHEN s.count - d.n > 0 AND s.last_at < coalesce(%(bound)s::timestamptz, 'infinity')"
    "   THEN (SELECT max(t.created_at) FROM thread_logs t WHERE t.thread_id = s.thread_id) ELSE s.last_at END"
    " FROM (SELECT e->>0 AS thread_id, (e->>1)::int8 AS n, (e->>2)::int8 AS debug, (e->>3)::int8 AS info,"
    "   (e->>4)::int8 AS warn, (e->>5)::int8 AS error FROM json_array_elements(%(sums)s::json) e) d"
    " WHERE s.thread_id = d.thread_id"
)
_EMPTIED: Final = (
    "DELETE FROM thread_log_summary WHERE count <= 0"
    " AND thread_id IN (SELECT e->>0 FROM json_array_elements(%(sums)s::json) e)"
)


def _concurrently(conn: Conn) -> bool:
    """DETACH … CONCURRENTLY exists from PostgreSQL 14."""
    return conn.info.server_version >= 140000


def detach(conn: Conn, name: str) -> None:
    """Detach partition ``name`` from ``thread_logs`` (concurrently where the server allows).

    ``conn`` is in autocommit mode: ``DETACH … CONCURRENTLY`` cannot run in a transaction block.
    """
    mode = sql.SQL(" CONCURRENTLY" if _concurrently(conn) else "")
    conn.execute(sql.SQL("ALTER TABLE thread_logs DETACH PARTITION {}{}").format(sql.Identifier(name), mode))


def leftovers(conn: Conn, state: PartitionState) -> list[str]:
    """What an interrupted prune left: finalize its pending detaches; return every detached logctl partition."""
    for name in state.pending:
        conn.execute(sql.SQL("ALTER TABLE thread_logs DETACH PARTITION {} FINALIZE").format(sql.Identifier(name)))
    return [str(name) for (name,) in conn.execute(_DETACHED, (PARTITION_COMMENT,)).fetchall()]


def count_rows(
    conn: Conn, names: Sequence[str], into: DroppedSums, *, pages: int = COUNT_PAGES,
    step: Callable[[], AbstractContextManager[None]] = contextlib.nullcontext,
) -> int:
    """Add the rows of the detached partitions ``names`` per thread and level to ``into``; return their rows.

    About ``pages`` pages per statement (:func:`~logctl.core.thread_sums.count_statements`): a
    big partition over several, small ones together. Each statement runs inside ``step()``
    (the prune's pacing).
    """
    if not names:
        return 0
    sizes = conn.execute(
        "SELECT n, pg_relation_size(n::regclass) / current_setting('block_size')::int8 FROM unnest(%s::text[]) n",
        [list(names)],
    ).fetchall()
    ranges = _concurrently(conn)  # TID range scans, like DETACH … CONCURRENTLY, from PostgreSQL 14
    counted = 0
    for statement in count_statements([(str(n), int(size)) for n, size in sizes], pages if ranges else 2**62):
        selects = [
            sql.SQL(_RANGE if ranges else _WHOLE).format(
                table=sql.Identifier(name), lo=sql.Literal(f"({lo},0)"), hi=sql.Literal(f"({hi},0)"))
            for name, lo, hi in statement
        ]
        query = sql.SQL(_COUNT).format(rows=sql.SQL(" UNION ALL ").join(selects))
        with step():
            counted += into.add(conn.execute(query).fetchall())
    return counted


def drop_detached(conn: Conn, names: Sequence[str], sums: DroppedSums, bound: dt.datetime | None) -> None:
    """Subtract ``sums`` (the rows of the detached partitions ``names``) from the summary and drop them, in one transaction.

    ``bound``: every dropped row is older (None: unknown, so first and last times are read again).
    Waits for a hub's fold in progress (its lock); hubs skip their folds while this runs.
    """
    if not names:
        return
    args = {"sums": sums.json(), "bound": bound}
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(current_schema() || ':summary'))", [LOCK_NAMESPACE])
        # Deltas folded first: a thread's count is then exact before the subtraction (and a
        # thread at 0 has no pending insert left to bring it back with a wrong count).
        conn.execute("SELECT logctl_summary_compact(NULL)")
        if len(sums):
            conn.execute(_SUBTRACT, args)
            conn.execute(_EMPTIED, args)
        conn.execute(sql.SQL("DROP TABLE {}").format(sql.SQL(", ").join(sql.Identifier(x) for x in names)))
