"""The partitioned layout's own costs, side by side with the plain layout: writes, conversion, dropping a partition.

Run:  .venv/bin/python bench/bench_partitioned.py [--records 1000000] [--database-url URL]
      (use a database of your own for big runs: createdb -h 127.0.0.1 -U postgres bench_partition)

1. **Writes.** The hub's write path (LogStore.write_rows: batches of ``--batch`` rows from
   ``--producers`` producers, each with its own seq) into a plain and a partitioned (daily)
   schema, alternating batch by batch so that a shared machine's noise falls on both alike.
   The partitioned path adds the producers' ledger (lock, lookup when needed, update).
   Prints the median batch time of each and their ratio; then the same for resent batches.
2. **Conversion.** ``--records`` rows over 30 days are loaded into a plain table, which
   apply_layout converts: the non-blocking preparation (CHECK validation, two concurrent index
   builds, the ledger) and the one transaction holding the ACCESS EXCLUSIVE lock, timed apart.
3. **Dropping a day.** On a partitioned table with the same rows, prune --days drops the oldest
   days' partitions (detach concurrently, summary deltas, drop); on the plain one the same rows
   are deleted in batches of 5,000. Times both.
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psycopg  # noqa: E402
from common import arguments, schema  # noqa: E402

from logctl.core.prune_plan import plan_prune  # noqa: E402
from logctl.store import LogStore  # noqa: E402
from logctl.store import layout as layout_module  # noqa: E402
from logctl.store.layout import apply_layout  # noqa: E402
from logctl.store.prune import run_prune  # noqa: E402

UTC = dt.timezone.utc

_LOAD = """
INSERT INTO thread_logs (thread_id, message, level, created_at, producer_id, seq)
SELECT 'thread-' || (i %% 1000), 'step ' || i || ' of a long enough message of about sixty bytes', 'INFO',
       %(start)s::timestamptz + (i::float8 / %(n)s) * interval '30 days', 'loader', i
FROM generate_series(%(lo)s::int8, %(hi)s::int8 - 1) AS i
"""


def _load(dsn: str, n: int, start: dt.datetime) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        for lo in range(0, n, 250_000):
            conn.execute(_LOAD, {"start": start, "n": n, "lo": lo, "hi": min(n, lo + 250_000)})
        conn.execute("ANALYZE thread_logs")


def writes(server: str, batches: int, batch: int, producers: int) -> None:
    now = dt.datetime.now(UTC)
    with schema(server) as plain, schema(server) as part:
        with psycopg.connect(part, autocommit=True) as conn:
            apply_layout(conn, "daily")
        times: dict[str, list[float]] = {"plain": [], "partitioned": []}
        resend: dict[str, list[float]] = {"plain": [], "partitioned": []}
        with LogStore(plain) as sp, LogStore(part) as sq:
            stores = {"plain": sp, "partitioned": sq}
            for b in range(batches):
                rows = [("thread-%d" % (i % 100), f"message {b}:{i}", "INFO", now, f"p{i % producers}", b * batch + i)
                        for i in range(batch)]
                for name in (("plain", "partitioned") if b % 2 else ("partitioned", "plain")):
                    t = time.perf_counter()
                    stores[name].write_rows(rows)
                    times[name].append(time.perf_counter() - t)
                    if b % 10 == 0:
                        t = time.perf_counter()
                        assert stores[name].write_rows(rows).inserted == 0
                        resend[name].append(time.perf_counter() - t)
    for label, data in (("new rows", times), ("resent rows", resend)):
        p, q = statistics.median(data["plain"]), statistics.median(data["partitioned"])
        print(f"write_rows, {label}: plain {p * 1000:.2f} ms/batch ({batch / p:,.0f} rows/s),"
              f" partitioned {q * 1000:.2f} ms/batch ({batch / q:,.0f} rows/s), partitioned/plain {q / p:.2f}")


def conversion(server: str, n: int) -> None:
    start = dt.datetime.now(UTC) - dt.timedelta(days=31)
    with schema(server) as dsn:
        _load(dsn, n, start)
        spans: dict[str, float] = {}
        prepare, swap = layout_module._prepare_legacy, layout_module._swap

        def timed_prepare(*args: object) -> int:
            t = time.perf_counter()
            try:
                return prepare(*args)  # type: ignore[arg-type]
            finally:
                spans["prepare (non-blocking)"] = time.perf_counter() - t

        def timed_swap(*args: object) -> str | None:
            t = time.perf_counter()
            try:
                return swap(*args)  # type: ignore[arg-type]
            finally:
                spans["swap (ACCESS EXCLUSIVE)"] = time.perf_counter() - t

        layout_module._prepare_legacy, layout_module._swap = timed_prepare, timed_swap  # type: ignore[assignment]
        try:
            with psycopg.connect(dsn, autocommit=True) as conn:
                t = time.perf_counter()
                report = apply_layout(conn, "daily")
                total = time.perf_counter() - t
        finally:
            layout_module._prepare_legacy, layout_module._swap = prepare, swap  # type: ignore[assignment]
        assert report.converted == "attached"
        print(f"conversion of {n:,} rows: total {total:.2f} s; " + "; ".join(f"{k} {v:.2f} s" for k, v in spans.items())
              + " (the last swap is the one that converted)")


def dropping(server: str, n: int) -> None:
    start = dt.datetime.now(UTC) - dt.timedelta(days=31)
    cutoff_days = (dt.datetime.now(UTC) - (start + dt.timedelta(days=3))) / dt.timedelta(days=1)
    for name in ("plain", "partitioned"):
        with schema(server) as dsn:
            if name == "partitioned":
                with psycopg.connect(dsn, autocommit=True) as conn:
                    apply_layout(conn, "daily")
                    conn.execute("SELECT logctl_create_partition(d) FROM generate_series(%s::timestamptz, now(), interval '1 day') d",
                                 (start,))
            _load(dsn, n, start)
            plan = plan_prune(days=cutoff_days, keep_per_thread=None, thread_id=None, now=dt.datetime.now(UTC))
            with LogStore(dsn, max_size=2) as store:
                t = time.perf_counter()
                result = run_prune(store, plan)
                took = time.perf_counter() - t
            print(f"prune --days (3 oldest days of 30, {result.deleted:,} of {n:,} rows), {name}: {took:.2f} s"
                  + (f" ({len(result.partitions)} partitions dropped)" if result.partitions else ""))


def main() -> None:
    parser = arguments(__doc__, full_doc=True)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--producers", type=int, default=16)
    args = parser.parse_args()
    writes(args.database_url, args.batches, args.batch, args.producers)
    conversion(args.database_url, args.records)
    dropping(args.database_url, args.records)


if __name__ == "__main__":
    main()
