"""What one history page costs the hub: rows turned into records in Python, or JSON built by PostgreSQL.

Run:  .venv/bin/python bench/bench_history_json.py [--rows 1000000] [--layouts plain,daily] [--pages 200]
      [--database-url URL] [--database bench_history_json] [--keep]

On a table of ``--rows`` rows per layout (bench/data.py: probe threads with 1,000 rows at every
size; in a database of its own, dropped afterwards unless ``--keep``), reads ``--pages`` full
pages of ``limit=1000`` from the probe threads, both ways in alternation on one connection:

  records   ``LogStore.history`` + ``history_body`` + ``json.dumps``: what the hub did before
  encoded   ``LogStore.history_json`` + ``encoded_history_body``: what the hub does now

and the same for a selection of three probe threads (``GET /admin/logs``, ``limit=1000``):
``selection_history`` against ``selection_history_json``, each by the plan it chooses,

and prints, for each, the wall-clock p50/p99 per page, the client's CPU per page (the hub's
share: psycopg, building records, encoding) and the PostgreSQL backend's CPU per page. No HTTP.
Prints the load average before and after; no assertion anywhere.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import data  # noqa: E402
from bench.bench_cpu import process_cpu  # noqa: E402
from bench.harness import Database, percentile  # noqa: E402
from logctl.core.protocol.history import encoded_history_body, history_body  # noqa: E402
from logctl.core.selection import Selection  # noqa: E402
from logctl.store import LogStore  # noqa: E402
from logctl.store.selection import selection_history, selection_history_json  # noqa: E402


def _records(store: LogStore, thread: str) -> bytes:
    return json.dumps(history_body(store.history(thread, limit=1000)), ensure_ascii=False).encode()


def _encoded(store: LogStore, thread: str) -> bytes:
    return encoded_history_body(store.history_json(thread, limit=1000)).encode()


def _selection(thread: str) -> Selection:
    probes = data.probe_ids()
    i = probes.index(thread)
    return Selection(tuple(probes[(i + k) % len(probes)] for k in range(3)))


def _selection_records(store: LogStore, thread: str) -> bytes:
    got = selection_history(store, _selection(thread), limit=1000)
    return json.dumps(history_body(got.page, threads=got.threads), ensure_ascii=False).encode()


def _selection_encoded(store: LogStore, thread: str) -> bytes:
    got = selection_history_json(store, _selection(thread), limit=1000)
    return encoded_history_body(got.page, threads=got.threads).encode()


def measure(dsn: str, pages: int) -> dict[str, dict[str, float]]:
    ways: dict[str, Callable[[LogStore, str], bytes]] = {
        "records": _records, "encoded": _encoded, "sel records": _selection_records, "sel encoded": _selection_encoded,
    }
    wall: dict[str, list[float]] = {w: [] for w in ways}
    cpu = {w: 0.0 for w in ways}
    backend = {w: 0.0 for w in ways}
    probes = data.probe_ids()
    with LogStore(dsn, max_size=1) as store:
        with store.connection() as conn:
            row = conn.execute("SELECT pg_backend_pid()").fetchone()
            assert row is not None
            pid = int(row[0])
        for way, read in ways.items():  # warm both up
            for thread in probes:
                read(store, thread)
        for i in range(pages):
            for way, read in ways.items():
                t0, c0, b0 = time.perf_counter(), time.process_time(), process_cpu(pid)
                body = read(store, probes[i % len(probes)])
                wall[way].append((time.perf_counter() - t0) * 1000)
                cpu[way] += time.process_time() - c0
                backend[way] += process_cpu(pid) - b0
                assert len(body) > 1000
    return {
        w: {"p50": percentile(wall[w], 0.5), "p99": percentile(wall[w], 0.99), "mean": statistics.fmean(wall[w]),
            "client_cpu": cpu[w] / pages * 1000, "backend_cpu": backend[w] / pages * 1000}
        for w in ways
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--database-url", default=os.environ.get("LOGCTL_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    p.add_argument("--database", default="bench_history_json")
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--layouts", default="plain,daily")
    p.add_argument("--pages", type=int, default=200)
    p.add_argument("--keep", action="store_true", help="keep the database (and its tables) afterwards")
    args = p.parse_args()
    db = Database(args.database_url, args.database)
    db.create()
    print(f"load before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    try:
        for layout in args.layouts.split(","):
            with db.schema(layout, prefix="histjson", keep=args.keep) as dsn:
                data.load(dsn, args.rows)
                with psycopg.connect(dsn, autocommit=True) as conn:
                    conn.execute("VACUUM (ANALYZE) thread_logs")  # all-visible pages: what a settled table looks like
                got = measure(dsn, args.pages)
            for way, figures in got.items():
                print(f"{layout:6} {args.rows:>10,} rows  {way:11} p50 {figures['p50']:6.2f} ms  p99 {figures['p99']:6.2f} ms"
                      f"  client CPU {figures['client_cpu']:6.2f} ms/page  backend CPU {figures['backend_cpu']:6.2f} ms/page")
    finally:
        if not args.keep:
            db.drop()
    print(f"load after: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")


if __name__ == "__main__":
    main()
