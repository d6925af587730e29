"""Big tables, made inside PostgreSQL: ``INSERT … SELECT FROM generate_series`` in chunks.

A table of ``n`` rows over ``threads`` threads spans ``days`` days ending ``end`` (an hour ago
by default), in id order = time order, as a hub writes them. Rows go through the table's own
triggers (the summary, the NOTIFY) and indexes, exactly as every writer's do.

Besides the ordinary threads (``thread-00000`` …, ``n / threads`` rows each), every ``k``-th
row goes to one of :data:`PROBES` probe threads (``probe-00`` …), ``PROBE_ROWS`` rows each at
every table size and spread over the whole span: a history page of ``limit=1000`` from a probe
thread has the same size whatever the table's, so its latency shows the table's size alone.

:func:`load` writes through ``thread_logs`` (20,000 rows a statement, every index and trigger);
:mod:`bench.bulk` writes the same rows (:func:`rows_sql`, :func:`plan`) with the indexes built
afterwards, for tables of millions of rows.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

import psycopg
from psycopg import sql

PROBES = 20
PROBE_ROWS = 1000
CHUNK = 20_000  # rows per transaction: each holds the cluster's xmin horizon (and so every live feed on it) while it runs

# Row i of a load of n rows. {table} is thread_logs or one partition (then {where} keeps the rows
# whose created_at falls in its bounds).
_ROWS = """
INSERT INTO {table} (thread_id, message, level, created_at)
SELECT * FROM (
SELECT CASE WHEN i %% %(k)s = 0 AND i / %(k)s < %(probe_total)s THEN 'probe-' || lpad(((i / %(k)s) %% %(probes)s)::text, 2, '0')
            ELSE 'thread-' || lpad((i %% %(threads)s)::text, 5, '0') END AS thread_id,
       'step ' || i || ': processed batch ' || (i * 7 %% 1000) || ' of orders for customer ' || (i * 13 %% 9973)
           || ' in ' || (i %% 500) || ' ms' AS message,
       (ARRAY['DEBUG','INFO','INFO','INFO','WARN','INFO','DEBUG','ERROR'])[1 + i %% 8] AS level,
       %(start)s::timestamptz + (i::float8 / %(n)s) * %(span)s * interval '1 second' AS created_at
FROM generate_series(%(lo)s::int8, %(hi)s::int8 - 1) AS i
) r {where}
"""


def rows_sql(table: str = "thread_logs", bounded: bool = False) -> sql.Composed:
    """The INSERT of rows ``[lo, hi)`` of a load (:func:`plan`'s parameters) into ``table``;
    ``bounded``: only those with ``%(lower)s <= created_at < %(upper)s`` (NULL: no bound)."""
    where = ("WHERE (%(lower)s::timestamptz IS NULL OR created_at >= %(lower)s)"
             " AND (%(upper)s::timestamptz IS NULL OR created_at < %(upper)s)") if bounded else ""
    return sql.SQL(_ROWS).format(table=sql.Identifier(table), where=sql.SQL(where))


def plan(n: int, *, threads: int, days: float, end: dt.datetime | None) -> dict[str, object]:
    """The parameters of a load of ``n`` rows (without ``lo``/``hi``): the span, the probes' stride."""
    end = end or dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
    span = days * 86400
    return {"k": max(1, n // (PROBES * PROBE_ROWS)), "probe_total": PROBES * PROBE_ROWS, "probes": PROBES,
            "threads": threads, "start": end - dt.timedelta(seconds=span), "end": end, "n": n, "span": span}


def load(
    dsn: str, n: int, *, threads: int = 10_000, days: float = 60.0, end: dt.datetime | None = None,
    progress: Callable[[int, float], None] = lambda _done, _rate: None,
) -> float:
    """Fill ``thread_logs`` with ``n`` rows (see the module's docstring); return rows per second."""
    params = plan(n, threads=threads, days=days, end=end)
    ensure_partitions(dsn, params["start"], params["end"])  # type: ignore[arg-type]
    statement = rows_sql()
    t0 = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as conn:
        for lo in range(0, n, CHUNK):
            hi = min(n, lo + CHUNK)
            conn.execute(statement, {**params, "lo": lo, "hi": hi})
            progress(hi, hi / (time.perf_counter() - t0))
        conn.execute("ANALYZE thread_logs")
    return n / (time.perf_counter() - t0)


def ensure_partitions(dsn: str, start: dt.datetime, end: dt.datetime) -> None:
    """On a partitioned table, create the partitions ``[start, end]`` needs, as ``serve`` would on demand.

    The hub makes a missing partition when a write needs it; a bulk ``INSERT … SELECT`` does not
    go through the hub, so the loader makes them first, with logctl's own code. Nothing on the
    plain layout (or with a logctl that has no partitioned layout).
    """
    try:
        from logctl.core.partitions import periods_of
        from logctl.store.partitions import create_partitions, read_layout
    except ImportError:
        return
    with psycopg.connect(dsn, autocommit=True) as conn:
        period = read_layout(conn)
        if period is None:
            return
        days = int((end - start).total_seconds() // 86400) + 2
        create_partitions(conn, periods_of([start + dt.timedelta(days=d) for d in range(days)], period))


def probe_ids() -> list[str]:
    return [f"probe-{i:02d}" for i in range(PROBES)]


def thread_ids(threads: int) -> list[str]:
    return [f"thread-{i:05d}" for i in range(threads)]


def table_bytes(dsn: str) -> int:
    """thread_logs's size on disk with its indexes (all partitions)."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(  # pg_partition_tree() has no rows for a plain table
            "SELECT pg_total_relation_size('thread_logs') + coalesce((SELECT sum(pg_total_relation_size(relid))"
            " FROM pg_partition_tree('thread_logs') WHERE relid <> 'thread_logs'::regclass), 0)"
        ).fetchone()
    return int(row[0]) if row else 0
