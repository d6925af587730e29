"""Latency of the thread list (GET /admin/runs) on big tables: through `logctl serve`, and the store call alone.

Run:  .venv/bin/python bench/bench_runs_read.py [--sizes 1000000,10000000] [--threads 10000]
          [--samples 100] [--database-url URL] [--keep]

Creates the database ``bench_runs`` on the server of ``--database-url`` (dropped at the end
unless ``--keep``; a kept one is reused and grown) and fills its ``thread_logs`` with rows spread
over ``--threads`` threads (``build-00000``, ``etl-00001``, … across 30 days), growing it to each
of ``--sizes`` in turn. At each size it times, ``--samples`` times each:

  store   ``logctl.store.runs.list_runs`` alone (one connection), side by side with the read as
          migration 005 shipped it (fold every pending delta, then select), alternating
  hub     ``GET /admin/runs`` from a running ``logctl serve`` (a new HTTP connection per request)

for these requests: the first page (limit 100); ``limit=1000``; ``match=build-*`` (a quarter of
the threads); ``match=*-0999?`` (ten threads, found far down the index); ``since=`` an hour
before the newest row; and every page of the whole list by ``before=`` (100 pages). Then the
backlogs: 100,000 single-row INSERT statements with nobody folding (100,000 deltas, the worst
case) and the first read, this design's and 005's; with the hub folding, 20,000 single-row
INSERTs and 100 COPY batches of 1,000 rows over 100 threads, each followed by the first read and
the time until the delta table is empty. Prints p50 and p99 in milliseconds; the issue's target
is p50 < 50 ms at 10 M rows.
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Hub, arguments  # noqa: E402

from logctl.core.protocol.runs import RunsCursor, glob_to_like  # noqa: E402
from logctl.store import LogStore  # noqa: E402
from logctl.store.runs import list_runs  # noqa: E402

DATABASE = "bench_runs"
#: The newest row's time; rows go back from it one STEP each (10 M rows: about 30 days).
END = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)
STEP = dt.timedelta(milliseconds=250)
#: Rows per filling transaction: short, since a long one holds back every hub's live delivery on the server.
FILL_CHUNK = 25_000

#: The thread of number h: build-00000, etl-00001, agent-00002, deploy-00003, build-00004, …
THREAD = "(ARRAY['build', 'etl', 'agent', 'deploy'])[1 + h % 4] || '-' || lpad(h::text, 5, '0')"
_FILL = f"""
INSERT INTO thread_logs (thread_id, message, level, created_at)
SELECT {THREAD.replace("%", "%%")},
       'step ' || g || ' of a benchmark run: some text of a typical length for a log line',
       (ARRAY['DEBUG', 'INFO', 'INFO', 'INFO', 'INFO', 'INFO', 'WARN', 'ERROR'])[1 + g %% 8],
       %(end)s::timestamptz - (%(total)s - g) * %(step)s::interval
FROM generate_series(%(start)s::int8, %(stop)s::int8 - 1) g,
     LATERAL (SELECT (hashint8(g) & 2147483647) %% %(threads)s AS h) x
"""


def percentiles(values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered) * 1000:7.2f} ms  p99 {p99 * 1000:7.2f} ms  (n={len(ordered)})"


def database_dsn(server: str) -> str:
    return make_conninfo(server, dbname=DATABASE)


def create_database(server: str, keep: bool) -> bool:
    """Create ``bench_runs`` (or keep an existing one when ``keep``); True if it is new."""
    with psycopg.connect(server, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone() is not None
        if exists and keep:
            return False
        if exists:
            conn.execute(f"DROP DATABASE {DATABASE}")
        conn.execute(f"CREATE DATABASE {DATABASE}")
    return True


def drop_database(server: str) -> None:
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")


def apply_schema(dsn: str) -> None:
    import subprocess

    subprocess.run([sys.executable, "-m", "logctl", "apply-schema", "--database-url", dsn], check=True, capture_output=True)


#: Indexes led by thread_id: random inserts into three big indexes are most of a fill's cost, so
#: they are dropped while filling and built again afterwards (CONCURRENTLY: no long transaction).
_THREAD_INDEXES = ("idx_thread_logs_thread_id", "idx_thread_logs_thread_time", "idx_thread_logs_thread_cursor")
#: A summary row per thread counted again from thread_logs, for the threads in [lo, hi).
_RECOUNT = """
INSERT INTO thread_log_summary (thread_id, first_at, last_at, count, debug, info, warn, error)
SELECT thread_id, min(created_at), max(created_at), count(*),
       count(*) FILTER (WHERE logctl_level(level) = 'DEBUG'), count(*) FILTER (WHERE logctl_level(level) = 'INFO'),
       count(*) FILTER (WHERE logctl_level(level) = 'WARN'), count(*) FILTER (WHERE logctl_level(level) = 'ERROR')
FROM thread_logs WHERE thread_id >= %s AND (thread_id < %s OR %s::text IS NULL) GROUP BY thread_id
ON CONFLICT (thread_id) DO UPDATE SET first_at = EXCLUDED.first_at, last_at = EXCLUDED.last_at, count = EXCLUDED.count,
    debug = EXCLUDED.debug, info = EXCLUDED.info, warn = EXCLUDED.warn, error = EXCLUDED.error
"""


def fold_all(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    while int(conn.execute("SELECT logctl_summary_compact(10000)").fetchone()[0]) >= 10000:  # type: ignore[index]
        pass


def grow(dsn: str, rows: int, total: int, threads: int) -> None:
    """Fill thread_logs up to ``rows`` rows (of ``total`` planned) in short transactions, with the
    insert trigger off and the thread indexes dropped meanwhile; then index, count the summary
    again thread range by thread range (short transactions too), and analyse. The summary ends
    as the triggers would have left it; the fill just does not wait for them."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DELETE FROM thread_logs WHERE message = 'burst' OR message LIKE 'copy %'")
        fold_all(conn)
        have = int(conn.execute("SELECT count(*) FROM thread_logs").fetchone()[0])  # type: ignore[index]
        t0 = time.perf_counter()
        if have < rows:
            definitions = [str(row[0]) for row in conn.execute(
                "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND indexname = ANY(%s)", [list(_THREAD_INDEXES)])]
            for name in _THREAD_INDEXES:
                conn.execute(f"DROP INDEX IF EXISTS {name}")
            conn.execute("ALTER TABLE thread_logs DISABLE TRIGGER thread_logs_summary_insert")
            try:
                for start in range(have, rows, FILL_CHUNK):
                    stop = min(rows, start + FILL_CHUNK)
                    conn.execute(_FILL, {"end": END, "total": total, "step": STEP, "start": start, "stop": stop, "threads": threads})
                    if stop % 1_000_000 == 0 or stop == rows:
                        print(f"  filled {stop:,} rows ({time.perf_counter() - t0:.0f} s)", flush=True)
            finally:
                conn.execute("ALTER TABLE thread_logs ENABLE TRIGGER thread_logs_summary_insert")
            for definition in definitions:
                conn.execute(definition.replace("CREATE INDEX", "CREATE INDEX CONCURRENTLY", 1))
            print(f"  indexed ({time.perf_counter() - t0:.0f} s)", flush=True)
            conn.execute("VACUUM ANALYZE thread_logs")
        counted = int(conn.execute("SELECT coalesce(sum(count), 0) FROM thread_log_summary").fetchone()[0])  # type: ignore[index]
        if counted == rows:
            return
        ids = sorted({f"{prefix}-{h:05d}" for h in range(threads) for prefix in [("build", "etl", "agent", "deploy")[h % 4]]})
        for k in range(0, len(ids), 250):
            hi = ids[k + 250] if k + 250 < len(ids) else None
            conn.execute(_RECOUNT, [ids[k] if k else "", hi, hi])
        print(f"  summary counted ({time.perf_counter() - t0:.0f} s)", flush=True)
        conn.execute("VACUUM ANALYZE thread_log_summary")
        conn.execute("VACUUM ANALYZE thread_log_summary_delta")


def newest(dsn: str) -> dt.datetime:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT max(last_at) FROM thread_log_summary").fetchone()[0]  # type: ignore[index,no-any-return]


def time_calls(call: Callable[[], object], samples: int) -> list[float]:
    call()  # warm: plans, caches, the connection
    out = []
    for _ in range(samples):
        t0 = time.perf_counter()
        call()
        out.append(time.perf_counter() - t0)
    return out


def http_get(url: str) -> dict[str, object]:
    import json

    with urllib.request.urlopen(url, timeout=30) as resp:
        body = json.loads(resp.read())
    assert isinstance(body, dict)
    return body


#: The read as migration 005 shipped it, for the side-by-side figures: fold every pending delta
#: (its logctl_summary_compact, with its temporary table), then select from the summary.
_COMPACT_005 = """
CREATE OR REPLACE FUNCTION pg_temp.compact_005() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    folded bigint;
BEGIN
    CREATE TEMP TABLE IF NOT EXISTS logctl_folding (LIKE thread_log_summary_delta) ON COMMIT DROP;
    WITH taken AS (DELETE FROM thread_log_summary_delta RETURNING *)
    INSERT INTO logctl_folding SELECT * FROM taken;
    GET DIAGNOSTICS folded = ROW_COUNT;
    IF folded = 0 THEN
        DROP TABLE logctl_folding;
        RETURN 0;
    END IF;
    INSERT INTO thread_log_summary AS s (thread_id, first_at, last_at, count, debug, info, warn, error)
    SELECT thread_id, min(first_at), max(last_at), sum(count), sum(debug), sum(info), sum(warn), sum(error)
    FROM logctl_folding GROUP BY thread_id ORDER BY thread_id
    ON CONFLICT (thread_id) DO UPDATE SET
        first_at = least(s.first_at, EXCLUDED.first_at), last_at = greatest(s.last_at, EXCLUDED.last_at),
        count = s.count + EXCLUDED.count, debug = s.debug + EXCLUDED.debug, info = s.info + EXCLUDED.info,
        warn = s.warn + EXCLUDED.warn, error = s.error + EXCLUDED.error;
    DELETE FROM thread_log_summary s
    WHERE s.count <= 0 AND s.thread_id IN (SELECT thread_id FROM logctl_folding WHERE recheck);
    UPDATE thread_log_summary s SET
        first_at = (SELECT min(t.created_at) FROM thread_logs t WHERE t.thread_id = s.thread_id),
        last_at = (SELECT max(t.created_at) FROM thread_logs t WHERE t.thread_id = s.thread_id)
    WHERE s.thread_id IN (SELECT thread_id FROM logctl_folding WHERE recheck);
    DROP TABLE logctl_folding;
    RETURN folded;
END
$$
"""


def read_005(conn: psycopg.Connection[tuple[object, ...]], params: dict[str, object]) -> Callable[[], object]:
    """The 005 read of ``params`` on ``conn`` (autocommit): fold, then one indexed select."""
    conn.execute(_COMPACT_005)
    where, args = ["true"], []
    if "since" in params:
        where.append("last_at >= %s")
        args.append(params["since"])
    if "match" in params:
        where.append("thread_id LIKE %s ESCAPE '\\'")
        args.append(glob_to_like(str(params["match"])))
    sql = ("SELECT thread_id, first_at, last_at, count, debug, info, warn, error FROM thread_log_summary WHERE "
           + " AND ".join(where) + " ORDER BY last_at DESC NULLS LAST, thread_id DESC LIMIT %s")
    limit = int(params.get("limit", 100)) + 1  # type: ignore[call-overload]

    def call() -> object:
        conn.execute("SELECT pg_temp.compact_005()")
        return conn.execute(sql, [*args, limit]).fetchall()
    return call


def side_by_side(new: Callable[[], object], old: Callable[[], object], samples: int) -> tuple[list[float], list[float]]:
    """``samples`` timings of each, alternating (which goes first alternates too)."""
    new(), old()  # warm: plans, caches
    times: tuple[list[float], list[float]] = ([], [])
    for n in range(samples):
        pair = ((0, new), (1, old)) if n % 2 == 0 else ((1, old), (0, new))
        for k, call in pair:
            t0 = time.perf_counter()
            call()
            times[k].append(time.perf_counter() - t0)
    return times


def cases(since: dt.datetime) -> list[tuple[str, dict[str, object]]]:
    return [
        ("first page", {}),
        ("limit=1000", {"limit": 1000}),
        ("match=build-*", {"match": "build-*"}),
        ("match=*-0999?", {"match": "*-0999?"}),
        ("since=1h", {"since": since}),
    ]


def store_call(store: LogStore, params: dict[str, object]) -> Callable[[], object]:
    match = params.get("match")
    since = params.get("since")
    return lambda: list_runs(
        store, limit=int(params.get("limit", 100)),  # type: ignore[call-overload]
        like=None if match is None else glob_to_like(str(match)),
        since=since if isinstance(since, dt.datetime) else None,
    )


def hub_call(hub: Hub, params: dict[str, object]) -> Callable[[], object]:
    query = {k: (v.isoformat() if isinstance(v, dt.datetime) else str(v)) for k, v in params.items()}
    url = f"http://127.0.0.1:{hub.port}/admin/runs?{urllib.parse.urlencode(query)}"
    return lambda: http_get(url)


def page_through_store(store: LogStore) -> tuple[list[float], int]:
    times, seen, before = [], 0, None
    while True:
        t0 = time.perf_counter()
        page = list_runs(store, limit=100, before=before)
        times.append(time.perf_counter() - t0)
        seen += len(page.runs)
        if page.before is None:
            return times, seen
        before = page.before


def page_through_hub(hub: Hub) -> tuple[list[float], int]:
    times, seen, before = [], 0, None
    while True:
        query = {"limit": "100"} | ({} if before is None else {"before": before})
        t0 = time.perf_counter()
        body = http_get(f"http://127.0.0.1:{hub.port}/admin/runs?{urllib.parse.urlencode(query)}")
        times.append(time.perf_counter() - t0)
        seen += int(body["count"])  # type: ignore[call-overload]
        before = body["before"]
        if before is None:
            return times, seen


def deltas(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        return int(conn.execute("SELECT count(*) FROM thread_log_summary_delta").fetchone()[0])  # type: ignore[index]


def backlog(dsn: str, hub: Hub, store: LogStore, threads: int) -> None:
    """Bursts that leave deltas unfolded, then the first read: with the hub's folding paused, and running."""
    burst = (
        "DO $$ BEGIN FOR i IN 1..20000 LOOP"
        f" IF i % 1000 = 0 THEN COMMIT; END IF;"
        f" INSERT INTO thread_logs (thread_id, message, created_at) SELECT {THREAD}, 'burst', '{END.isoformat()}'"
        f" FROM (SELECT i % {threads} AS h) x;"
        " END LOOP; END $$"
    )
    url = f"http://127.0.0.1:{hub.port}/admin/runs"
    with psycopg.connect(dsn, autocommit=True) as conn:
        t0 = time.perf_counter()
        conn.execute(burst)
        took = time.perf_counter() - t0
    left = deltas(dsn)
    t0 = time.perf_counter()
    http_get(url)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    list_runs(store)
    second = time.perf_counter() - t0
    print(f"  burst of 20,000 single-row INSERTs ({took:.1f} s), the hub folding: {left:,} deltas unfolded when it ended;"
          f" first hub read {first * 1000:.1f} ms, then store call {second * 1000:.1f} ms")
    wait_folded(dsn)
    rows = [(f"build-{4 * (i % 100):05d}", f"copy {i}", "INFO", END, None, None) for i in range(1000)]
    with LogStore(dsn, max_size=1) as writer:
        t0 = time.perf_counter()
        for _ in range(100):
            writer.insert_rows(rows)
        took = time.perf_counter() - t0
    left = deltas(dsn)
    t0 = time.perf_counter()
    http_get(url)
    first = time.perf_counter() - t0
    print(f"  100 COPY batches of 1,000 rows over 100 threads ({took:.1f} s): {left:,} deltas unfolded;"
          f" first hub read {first * 1000:.1f} ms")
    wait_folded(dsn)


def wait_folded(dsn: str) -> None:
    t0 = time.perf_counter()
    while deltas(dsn) and time.perf_counter() - t0 < 120:
        time.sleep(0.05)
    print(f"  delta table empty {time.perf_counter() - t0:.2f} s later (the hub's background folding)")


def unfolded_read(dsn: str, store: LogStore, old: psycopg.Connection[tuple[object, ...]], n: int) -> None:
    """The worst case, nobody folding: ``n`` single-row INSERT statements (``n`` deltas), then the
    first read: this design's (adds them, writes nothing), then 005's (folds them all, then reads)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        t0 = time.perf_counter()
        conn.execute(
            f"DO $$ BEGIN FOR i IN 1..{n} LOOP IF i % 1000 = 0 THEN COMMIT; END IF; INSERT INTO thread_logs (thread_id, message, created_at)"
            f" SELECT {THREAD}, 'burst', '{END.isoformat()}' FROM (SELECT i % 10000 AS h) x; END LOOP; END $$"
        )
        took = time.perf_counter() - t0
    left = deltas(dsn)
    t0 = time.perf_counter()
    list_runs(store)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    read_005(old, {})()
    first_005 = time.perf_counter() - t0
    print(f"  burst of {n:,} single-row INSERTs ({took:.0f} s), nobody folding: {left:,} deltas; first read"
          f" {first * 1000:.0f} ms (005: {first_005 * 1000:.0f} ms, folding them all)", flush=True)


def measure(dsn: str, samples: int, threads: int) -> None:
    since = newest(dsn) - dt.timedelta(hours=1)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE thread_log_summary")
    with LogStore(dsn, max_size=1) as store, psycopg.connect(dsn, autocommit=True) as old:
        for name, params in cases(since):
            new_times, old_times = side_by_side(store_call(store, params), read_005(old, params), samples)
            print(f"  store {name:<16} {percentiles(new_times)}   005: {percentiles(old_times)}", flush=True)
        times, seen = page_through_store(store)
        print(f"  store {'paging by before':<16} {percentiles(times)}  ({seen:,} threads)", flush=True)
        unfolded_read(dsn, store, old, 100_000)
        with Hub(dsn) as hub:
            for name, params in cases(since):
                print(f"  hub   {name:<16} {percentiles(time_calls(hub_call(hub, params), samples))}", flush=True)
            times, seen = page_through_hub(hub)
            print(f"  hub   {'paging by before':<16} {percentiles(times)}  ({seen:,} threads)", flush=True)
            backlog(dsn, hub, store, threads)


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--sizes", default="1000000,10000000", help="table sizes to measure, grown in turn")
    parser.add_argument("--threads", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="keep (and reuse) the database bench_runs")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    server = args.database_url
    dsn = database_dsn(server)
    print(f"database {conninfo_to_dict(dsn).get('dbname')} on {conninfo_to_dict(dsn).get('host')}")
    create_database(server, args.keep)
    try:
        apply_schema(dsn)
        for size in sizes:
            print(f"{size:,} rows over {args.threads:,} threads", flush=True)
            grow(dsn, size, max(sizes), args.threads)
            measure(dsn, args.samples, args.threads)
    finally:
        if not args.keep:
            drop_database(server)


if __name__ == "__main__":
    main()
