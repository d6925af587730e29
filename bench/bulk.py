"""A fast load for the harness's big tables: the rows first, the indexes after, the summary counted once.

:func:`bench.data.load` writes through ``thread_logs`` 20,000 rows a statement, through its six
indexes and the summary triggers, which is what every writer pays; past a few million rows on
the plain layout that ran at 3,000-4,000 rows/s on the shared 2-core machine (docs/performance.md).
:func:`bulk_load` writes the same rows (:func:`bench.data.rows_sql`) and leaves the same schema,
faster:

plain   the secondary indexes (every index but the primary key's) are dropped and the
        summary and NOTIFY triggers disabled; the rows go in 200,000 a statement; each index
        is built again from its own definition with ``CREATE INDEX CONCURRENTLY``; the
        triggers are enabled again.
daily   partition by partition (those the load's 60 days cover, made first with
        ``logctl_create_partition`` as every load does): ``DETACH``, drop the partition's
        secondary indexes, insert its rows straight into it (a partition has none of the
        parent's statement triggers), build its indexes again under their own names, and
        ``ATTACH`` it again with its own bounds, which adopts those indexes as the parent's.

Then both: ``thread_log_summary`` is counted again from the whole table with migration 005's
back-fill query and written, with ``thread_log_summary_delta`` emptied, in one short
transaction; and ``VACUUM (ANALYZE)`` sets the visibility map and hint bits as on a long-lived
table. Index builds get ``maintenance_work_mem`` of :data:`MAINTENANCE_WORK_MEM` (this session
only). Nothing here holds a transaction with an xid for more than one 200,000-row statement or
one partition's ATTACH (1-5 s here): ``CREATE INDEX CONCURRENTLY`` builds without one, so
other sessions' live feeds on the server are not held behind the cluster's xmin horizon for a
whole index build.

``python -m bench.bulk --check 1000000`` loads the same rows both ways into two schemas of a
database of its own (``bench_bulk_check``, dropped at the end) for each layout and compares
them: the schema (tables, columns, constraints, indexes, triggers, partitions), the rows, and
the summary, against a GROUP BY and against the folded summary of the ordinary load.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import math
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql

from bench import data

#: Rows per statement (each one transaction with an xid: 1-5 s on the shared machine, with its load).
BULK_CHUNK = 200_000
#: Loads of at least this many rows go this way unless ``--bulk-load``/``--no-bulk-load`` say otherwise.
BULK_FROM = 2_000_000
MAINTENANCE_WORK_MEM = "1GB"
#: The triggers that fire on an INSERT into the plain thread_logs, off while it loads.
INSERT_TRIGGERS = ("thread_logs_summary_insert", "thread_logs_notify")

Conn = psycopg.Connection[Any]

# Migration 005's back-fill, as a query (the write is separate: see summarise()).
_COUNT = """
SELECT thread_id, min(created_at), max(created_at), count(*),
       count(*) FILTER (WHERE logctl_level(level) = 'DEBUG'),
       count(*) FILTER (WHERE logctl_level(level) = 'INFO'),
       count(*) FILTER (WHERE logctl_level(level) = 'WARN'),
       count(*) FILTER (WHERE logctl_level(level) = 'ERROR')
FROM thread_logs WHERE thread_id IS NOT NULL GROUP BY thread_id
"""
_SUMMARY_COLUMNS = "thread_id, first_at, last_at, count, debug, info, warn, error"

#: The indexes of a table that back no constraint (the primary key's stays), with their definitions.
_SECONDARY = """
SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
WHERE i.indrelid = %s::regclass AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
ORDER BY c.oid
"""


@dataclasses.dataclass
class BulkReport:
    """What a bulk load did, and how long each phase took (seconds)."""

    rows: int
    insert: float = 0.0
    index: float = 0.0
    summary: float = 0.0
    vacuum: float = 0.0

    @property
    def seconds(self) -> float:
        return self.insert + self.index + self.summary + self.vacuum

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else float("nan")

    def phases(self) -> str:
        return (f"insert {self.insert:.0f} s ({self.rows / max(self.insert, 1e-9):,.0f} rows/s), indexes {self.index:.0f} s,"
                f" summary {self.summary:.0f} s, vacuum {self.vacuum:.0f} s")


def log(message: str) -> None:
    print(f"[{dt.datetime.now(dt.timezone.utc):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def concurrently(definition: str) -> str:
    """``CREATE [UNIQUE] INDEX name ...`` as ``CREATE [UNIQUE] INDEX CONCURRENTLY name ...``."""
    out, n = re.subn(r"^CREATE (UNIQUE )?INDEX ", r"CREATE \1INDEX CONCURRENTLY ", definition)
    if n != 1:
        raise ValueError(f"not an index definition: {definition!r}")
    return out


def bulk_load(
    dsn: str, n: int, *, threads: int = 10_000, days: float = 60.0, end: dt.datetime | None = None,
    progress: Callable[[int, float], None] = lambda _done, _rate: None,
) -> BulkReport:
    """Add ``n`` rows to ``thread_logs`` (the rows :func:`bench.data.load` would add), indexes after."""
    params = data.plan(n, threads=threads, days=days, end=end)
    data.ensure_partitions(dsn, params["start"], params["end"])  # type: ignore[arg-type]
    report = BulkReport(n)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("SET maintenance_work_mem = {}").format(sql.Literal(MAINTENANCE_WORK_MEM)))
        partitioned = conn.execute(
            "SELECT relkind = 'p' FROM pg_class WHERE oid = 'thread_logs'::regclass").fetchone() == (True,)
        if partitioned:
            done = _load_partitioned(conn, params, report, progress)
        else:
            done = _load_plain(conn, params, report, progress)
        if done != n:
            raise RuntimeError(f"bulk load: {done:,} rows inserted, {n:,} planned")
        t0 = time.perf_counter()
        summarise(conn)
        report.summary = time.perf_counter() - t0
        t0 = time.perf_counter()
        conn.execute("VACUUM (ANALYZE) thread_logs")
        conn.execute("VACUUM (ANALYZE) thread_log_summary")
        conn.execute("VACUUM (ANALYZE) thread_log_summary_delta")
        report.vacuum = time.perf_counter() - t0
    log(f"bulk load of {n:,} rows: {report.phases()}")
    return report


def _insert(conn: Conn, statement: sql.Composed, params: dict[str, object], lo: int, hi: int,
            tick: Callable[[int], None]) -> int:
    """Rows [lo, hi) of the load (those ``statement`` keeps), BULK_CHUNK a statement; the rows inserted."""
    done = 0
    for a in range(lo, hi, BULK_CHUNK):
        b = min(hi, a + BULK_CHUNK)
        cur = conn.execute(statement, {**params, "lo": a, "hi": b})
        done += max(cur.rowcount, 0)
        tick(max(cur.rowcount, 0))
    return done


def _ticker(n: int, progress: Callable[[int, float], None]) -> Callable[[int], None]:
    t0 = time.perf_counter()
    state = {"done": 0, "shown": 0}

    def tick(rows: int) -> None:
        state["done"] += rows
        if state["done"] - state["shown"] >= 1_000_000 or state["done"] == n:
            state["shown"] = state["done"]
            progress(state["done"], state["done"] / (time.perf_counter() - t0))
    return tick


@contextmanager
def _triggers_off(conn: Conn) -> Iterator[None]:
    for name in INSERT_TRIGGERS:
        conn.execute(sql.SQL("ALTER TABLE thread_logs DISABLE TRIGGER {}").format(sql.Identifier(name)))
    try:
        yield
    finally:
        for name in INSERT_TRIGGERS:
            conn.execute(sql.SQL("ALTER TABLE thread_logs ENABLE TRIGGER {}").format(sql.Identifier(name)))


def _without_indexes(conn: Conn, table: str) -> list[tuple[str, str]]:
    """Drop ``table``'s secondary indexes; return their names and definitions, to build them again."""
    indexes = [(str(name), str(definition)) for name, definition in conn.execute(_SECONDARY, (table,)).fetchall()]
    for name, _ in indexes:
        conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
    return indexes


def _build(conn: Conn, indexes: list[tuple[str, str]]) -> None:
    for name, definition in indexes:
        t0 = time.perf_counter()
        conn.execute(concurrently(definition).encode())
        if time.perf_counter() - t0 > 30:
            log(f"  index {name}: {time.perf_counter() - t0:.0f} s")


def _load_plain(conn: Conn, params: dict[str, object], report: BulkReport,
                progress: Callable[[int, float], None]) -> int:
    n = int(params["n"])  # type: ignore[call-overload]
    indexes = _without_indexes(conn, "thread_logs")
    try:
        with _triggers_off(conn):
            t0 = time.perf_counter()
            done = _insert(conn, data.rows_sql(), params, 0, n, _ticker(n, progress))
            report.insert = time.perf_counter() - t0
    finally:
        t0 = time.perf_counter()
        _build(conn, indexes)
        report.index = time.perf_counter() - t0
    return done


def _row_range(params: dict[str, object], lower: dt.datetime | None, upper: dt.datetime | None) -> tuple[int, int]:
    """The rows i whose created_at may fall in [lower, upper), one row wider each side (the filter is exact)."""
    n, span, start = int(params["n"]), float(params["span"]), params["start"]  # type: ignore[call-overload,arg-type]
    assert isinstance(start, dt.datetime)

    def at(t: dt.datetime | None, default: int) -> int:
        return default if t is None else min(n, max(0, math.floor((t - start).total_seconds() / span * n)))
    return max(0, at(lower, 0) - 1), min(n, at(upper, n) + 2)


def _load_partitioned(conn: Conn, params: dict[str, object], report: BulkReport,
                      progress: Callable[[int, float], None]) -> int:
    from logctl.store.partitions import read_partitions

    n = int(params["n"])  # type: ignore[call-overload]
    start, end = params["start"], params["end"]
    assert isinstance(start, dt.datetime) and isinstance(end, dt.datetime)
    tick = _ticker(n, progress)
    done = 0
    for part in read_partitions(conn).partitions:
        if (part.upper is not None and part.upper <= start) or (part.lower is not None and part.lower > end):
            continue
        lo, hi = _row_range(params, part.lower, part.upper)
        if lo >= hi:
            continue
        row = conn.execute("SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE oid = %s::regclass",
                           (part.name,)).fetchone()
        assert row is not None
        bound = str(row[0])
        name = sql.Identifier(part.name)
        conn.execute(sql.SQL("ALTER TABLE thread_logs DETACH PARTITION {}").format(name))
        try:
            indexes = _without_indexes(conn, part.name)
            t0 = time.perf_counter()
            done += _insert(conn, data.rows_sql(part.name, bounded=True),
                            {**params, "lower": part.lower, "upper": part.upper}, lo, hi, tick)
            report.insert += time.perf_counter() - t0
            t0 = time.perf_counter()
            _build(conn, indexes)
            report.index += time.perf_counter() - t0
        finally:
            t0 = time.perf_counter()
            conn.execute(sql.SQL("ALTER TABLE thread_logs ATTACH PARTITION {} {}").format(name, sql.SQL(bound)))
            report.index += time.perf_counter() - t0
    return done


def summarise(conn: Conn) -> int:
    """Count thread_log_summary again from thread_logs (migration 005's back-fill) and empty the deltas.

    The count is one read-only query (no xid, so it holds no one's horizon, however long it
    scans); its rows then replace the summary, and the deltas are deleted, in one short
    transaction. Nothing writes thread_logs meanwhile (the loader's triggers are off or its
    partitions were detached, and no hub runs during a load), so the summary is exact.
    """
    rows = conn.execute(_COUNT).fetchall()
    with conn.transaction():
        conn.execute("DELETE FROM thread_log_summary_delta")
        conn.execute("DELETE FROM thread_log_summary")
        with conn.cursor().copy(f"COPY thread_log_summary ({_SUMMARY_COLUMNS}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row(r)
    return len(rows)


# -- the check: the same rows loaded both ways -------------------------------------------------------


_CATALOG = {
    "tables": """
        SELECT c.relname, c.relkind, obj_description(c.oid, 'pg_class'), c.reloptions::text,
               pg_get_expr(c.relpartbound, c.oid), p.relname
        FROM pg_class c LEFT JOIN pg_inherits i ON i.inhrelid = c.oid LEFT JOIN pg_class p ON p.oid = i.inhparent
        WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p', 'S')""",
    "columns": """
        SELECT c.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
               pg_get_expr(d.adbin, d.adrelid), a.attislocal, a.attinhcount
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')
          AND a.attnum > 0 AND NOT a.attisdropped""",
    "constraints": """
        SELECT c.relname, k.conname, k.contype, pg_get_constraintdef(k.oid), k.conislocal, k.coninhcount,
               k.convalidated, pk.conname, ki.relname
        FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
        LEFT JOIN pg_constraint pk ON pk.oid = k.conparentid LEFT JOIN pg_class ki ON ki.oid = k.conindid
        WHERE c.relnamespace = current_schema()::regnamespace""",
    "indexes": """
        SELECT t.relname, ic.relname, pg_get_indexdef(i.indexrelid), i.indisvalid, i.indisready, i.indislive,
               i.indisprimary, i.indisunique, p.relname, ic.reloptions::text
        FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
        LEFT JOIN pg_inherits h ON h.inhrelid = i.indexrelid LEFT JOIN pg_class p ON p.oid = h.inhparent
        WHERE t.relnamespace = current_schema()::regnamespace""",
    "triggers": """
        SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid), t.tgenabled
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
        WHERE c.relnamespace = current_schema()::regnamespace AND NOT t.tgisinternal""",
    "functions": """
        SELECT p.proname, pg_get_function_identity_arguments(p.oid), md5(p.prosrc)
        FROM pg_proc p WHERE p.pronamespace = current_schema()::regnamespace""",
}


def catalog(dsn: str) -> dict[str, set[tuple[object, ...]]]:
    """What a schema is made of (its own name taken out of every definition), to compare two."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT current_schema()").fetchone()
        assert row is not None
        schema = str(row[0])
        out: dict[str, set[tuple[object, ...]]] = {}
        for kind, query in _CATALOG.items():
            out[kind] = {tuple(str(v).replace(schema + ".", "") if isinstance(v, str) else v for v in r)
                         for r in conn.execute(query).fetchall()}
    return out


def _differences(a: dict[str, set[tuple[object, ...]]], b: dict[str, set[tuple[object, ...]]]) -> list[str]:
    out = []
    for kind in a:
        out += [f"{kind}: only in the ordinary load: {r}" for r in sorted(a[kind] - b[kind], key=str)]
        out += [f"{kind}: only in the bulk load: {r}" for r in sorted(b[kind] - a[kind], key=str)]
    return out


def _one(conn: Conn, query: sql.Composable) -> Any:
    row = conn.execute(query).fetchone()
    assert row is not None
    return row[0]


def check(server: str, rows: int, layouts: list[str], threads: int) -> int:
    """Load ``rows`` rows both ways per layout and compare; print what differs. 0 if nothing does."""
    from bench.harness import Database, apply_schema, schema_dsn

    db = Database(server, "bench_bulk_check")
    db.drop()
    db.create()
    failures: list[str] = []
    end = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(hours=1)
    try:
        for layout in layouts:
            dsns = {}
            for way in ("ordinary", "bulk"):
                name = f"{way}_{layout}"
                with psycopg.connect(db.dsn, autocommit=True) as conn:
                    conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
                dsns[way] = schema_dsn(db.dsn, name)
                apply_schema(dsns[way], layout)
            t0 = time.perf_counter()
            data.load(dsns["ordinary"], rows, threads=threads, end=end)
            ordinary_s = time.perf_counter() - t0
            report = bulk_load(dsns["bulk"], rows, threads=threads, end=end)
            log(f"{layout}: {rows:,} rows: ordinary load {ordinary_s:.1f} s ({rows / ordinary_s:,.0f} rows/s),"
                f" bulk {report.seconds:.1f} s ({report.rate:,.0f} rows/s: {report.phases()})")
            problems = _differences(catalog(dsns["ordinary"]), catalog(dsns["bulk"]))
            with psycopg.connect(dsns["ordinary"], autocommit=True) as conn:
                conn.execute("SELECT logctl_summary_compact()")
            with psycopg.connect(dsns["bulk"], autocommit=True) as conn:  # its logctl_level() for the GROUP BY
                o, b = (sql.Identifier(f"{way}_{layout}") for way in ("ordinary", "bulk"))
                counts = [_one(conn, sql.SQL("SELECT count(*) FROM {}.thread_logs").format(s))
                          for s in (o, b)]
                if counts != [rows, rows]:
                    problems.append(f"rows: ordinary {counts[0]:,}, bulk {counts[1]:,}, planned {rows:,}")
                cols = sql.SQL("thread_id, message, level, created_at")
                for x, y, what in ((o, b, "ordinary"), (b, o, "bulk")):
                    extra = _one(conn, sql.SQL("SELECT count(*) FROM (SELECT {c} FROM {x}.thread_logs EXCEPT ALL"
                                               " SELECT {c} FROM {y}.thread_logs) d").format(c=cols, x=x, y=y))
                    if extra:
                        problems.append(f"rows only in the {what} load: {extra:,}")
                summary = sql.SQL(f"SELECT {_SUMMARY_COLUMNS} FROM {{}}.thread_log_summary")
                counted = sql.SQL(_COUNT.replace("thread_logs", "{}.thread_logs"))
                for label, q in (("bulk summary <> GROUP BY", sql.SQL("({} EXCEPT {}) UNION ALL ({} EXCEPT {})").format(
                                     summary.format(b), counted.format(b), counted.format(b), summary.format(b))),
                                 ("bulk summary <> ordinary (folded) summary", sql.SQL(
                                     "({} EXCEPT {}) UNION ALL ({} EXCEPT {})").format(
                                     summary.format(b), summary.format(o), summary.format(o), summary.format(b)))):
                    diff = _one(conn, sql.SQL("SELECT count(*) FROM ({}) d").format(q))
                    if diff:
                        problems.append(f"{label}: {diff} rows")
                deltas = _one(conn, sql.SQL("SELECT count(*) FROM {}.thread_log_summary_delta").format(b))
                if deltas:
                    problems.append(f"bulk: {deltas} summary deltas left")
                probes = _one(conn, sql.SQL("SELECT min(count) FROM {}.thread_log_summary WHERE thread_id LIKE 'probe-%%'")
                              .format(b))
                visible = conn.execute(sql.SQL(
                    "SELECT sum(c.relallvisible)::float8 / nullif(sum(c.relpages), 0) FROM pg_class c"
                    " WHERE c.relnamespace = {}::regnamespace AND c.relkind = 'r' AND c.relname LIKE 'thread_logs%%'"
                ).format(sql.Literal(f"bulk_{layout}"))).fetchone()
                summary_rows = _one(conn, sql.SQL("SELECT count(*) FROM {}.thread_log_summary").format(b))
            log(f"{layout}: {summary_rows:,} threads, every probe thread >= {probes} rows,"
                f" {100 * float(visible[0] if visible and visible[0] is not None else 0):.0f} % of the bulk table's pages all-visible;"
                f" {len(problems)} differences")
            for p in problems:
                log(f"  {p}")
            failures += [f"{layout}: {p}" for p in problems]
    finally:
        db.drop()
    print("bulk load check: " + ("the same schema, rows and summary" if not failures else f"{len(failures)} differences"))
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.bulk", description=__doc__.splitlines()[0])
    p.add_argument("--check", type=int, metavar="ROWS", required=True,
                   help="load ROWS rows both ways per layout and compare schema, rows and summary")
    p.add_argument("--layouts", default="plain,daily")
    p.add_argument("--threads", type=int, default=10_000)
    p.add_argument("--database-url", default=os.environ.get("LOGCTL_TEST_DATABASE_URL")
                   or "postgresql://postgres@127.0.0.1:5432/test")
    args = p.parse_args(argv)
    return check(args.database_url, args.check, [x for x in args.layouts.split(",") if x], args.threads)


if __name__ == "__main__":
    sys.exit(main())
