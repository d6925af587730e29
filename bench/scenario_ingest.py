"""Scenarios 1 and 6: ingest end to end, and many paced producers; with the two yardsticks.

1 ingest    producer processes → ``logctl serve`` → committed, acks included (the rate is
            counted at the last ack, which the hub sends after COMMIT); also through two hubs
            on the same database (docs/scaling.md)
  seed-1/16 the original design: per record, ``asyncio.to_thread`` (one INSERT + commit) on a
            sync pool of 1..10, with 1 and 16 concurrent publishers (bench_ingest.seed_naive)
  copy      raw binary COPY of the same rows and columns from one client in one transaction:
            the ceiling, no hub, no WebSocket, no JSON
6 producers N processes each sending a paced rate (1,000 records/s in frames of 100): the
            committed rate achieved, and the ack latency of each frame; beside the original
            design offered the same load from N asyncio tasks
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence

import psycopg
from psycopg_pool import ConnectionPool

from bench.common import Hub
from bench.harness import Database, Measure, log, percentile

COPY_SQL = "COPY thread_logs (thread_id, message, level, created_at, producer_id, seq) FROM STDIN (FORMAT BINARY)"


def copy_ceiling(dsn: str, n: int) -> float:
    """Records/s of one binary COPY of ``n`` rows (the hub's columns and types), committed."""
    producer = str(uuid.uuid4())
    now = dt.datetime.now(dt.timezone.utc)
    rows = [("copy", f"step {i}: processed batch {i % 1000} of orders", "INFO", now, producer, i) for i in range(n)]
    with psycopg.connect(dsn) as conn:
        t0 = time.perf_counter()
        with conn.cursor() as cur, cur.copy(COPY_SQL) as copy:
            copy.set_types(["text", "text", "text", "timestamptz", "text", "int8"])
            for row in rows:
                copy.write_row(row)
        conn.commit()
        return n / (time.perf_counter() - t0)


def seed_naive(dsn: str, n: int, publishers: int) -> float:
    """The original design: per record ``asyncio.to_thread`` (one INSERT + commit), sync pool 1..10."""
    pool = ConnectionPool(dsn, min_size=1, max_size=10, open=True)
    pool.wait()

    def persist(thread_id: str, message: str, level: str) -> None:
        with pool.connection() as conn:
            conn.execute("INSERT INTO thread_logs (thread_id, message, created_at, level) VALUES (%s, %s, now(), %s)",
                         (thread_id, message, level))

    async def publisher(k: int, count: int) -> None:
        for i in range(count):
            await asyncio.to_thread(persist, f"seed-{k}", f"step {i}: processed batch {i % 1000} of orders", "INFO")

    async def main() -> None:
        await asyncio.gather(*(publisher(k, n // publishers) for k in range(publishers)))

    try:
        t0 = time.perf_counter()
        asyncio.run(main())
        return (n // publishers * publishers) / (time.perf_counter() - t0)
    finally:
        pool.close()


def seed_paced(dsn: str, publishers: int, rate: int, seconds: float) -> tuple[float, float]:
    """The original design offered ``publishers`` x ``rate`` records/s: (committed records/s, p99 ms per record)."""
    pool = ConnectionPool(dsn, min_size=1, max_size=10, open=True)
    pool.wait()
    delays: list[float] = []

    def persist(i: int) -> None:
        with pool.connection() as conn:
            conn.execute("INSERT INTO thread_logs (thread_id, message, created_at, level) VALUES (%s, %s, now(), 'INFO')",
                         (f"seed-{i % publishers}", f"message {i}"))

    async def publisher(k: int) -> int:
        done = 0
        t0 = time.perf_counter()
        while (elapsed := time.perf_counter() - t0) < seconds:
            due = int(rate * elapsed)
            if done >= due:
                await asyncio.sleep(max(0.0, (done + 1) / rate - elapsed))
                continue
            start = time.perf_counter()
            await asyncio.to_thread(persist, done)
            delays.append((time.perf_counter() - start) * 1000)
            done += 1
        return done

    async def main() -> int:
        return sum(await asyncio.gather(*(publisher(k) for k in range(publishers))))

    try:
        t0 = time.perf_counter()
        total = asyncio.run(main())
        return total / (time.perf_counter() - t0), percentile(delays, 0.99)
    finally:
        pool.close()


def run_producers(urls: Sequence[str], count: int, extra: Sequence[str], timeout: float = 600) -> list[dict[str, object]]:
    """Start ``count`` producer processes (round-robin over ``urls``), start them together, collect their reports."""
    procs = [
        subprocess.Popen([sys.executable, "-m", "bench.producer", urls[k % len(urls)], "--thread", f"p{k}", *extra],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for k in range(count)
    ]
    try:
        for p in procs:
            assert p.stdout is not None
            line = p.stdout.readline()
            if line.strip() != "ready":
                raise RuntimeError(f"a producer did not start: {line!r}")
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        reports = []
        for p in procs:
            out, _ = p.communicate(timeout=timeout)
            if p.returncode != 0:
                raise RuntimeError(f"a producer failed with exit code {p.returncode}")
            reports.append(json.loads(out.strip().splitlines()[-1]))
        return reports
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def rate_of(reports: Sequence[dict[str, object]]) -> float:
    total = sum(int(r["records"]) for r in reports)  # type: ignore[call-overload]
    start = min(float(r["start"]) for r in reports)  # type: ignore[arg-type]
    end = max(float(r["end"]) for r in reports)  # type: ignore[arg-type]
    return total / (end - start)


def hub_flood(urls: Sequence[str], producers: int, records: int) -> float:
    each = records // producers
    return rate_of(run_producers(urls, producers, ["--mode", "flood", "--records", str(each)]))


def ingest(db: Database, *, records: int, seed_records: int, producers: int, reps: int) -> list[Measure]:
    """Scenario 1: seed-1, seed-16, copy, hub (one), hub x2 (two hubs on the same database)."""
    samples: dict[str, list[float]] = {k: [] for k in ("seed-1", "seed-16", "copy", "hub", "hubs-2")}
    with db.schema("plain", prefix="ingest") as dsn:
        with Hub(dsn) as hub, Hub(dsn) as hub2:
            hub_flood([hub.url], producers, min(records // 2, 20_000))  # warm-up: the pool, the caches
            for rep in range(reps):
                log(f"ingest rep {rep + 1}/{reps}")
                samples["seed-1"].append(seed_naive(dsn, seed_records, 1))
                samples["seed-16"].append(seed_naive(dsn, seed_records, 16))
                samples["copy"].append(copy_ceiling(dsn, records))
                samples["hub"].append(hub_flood([hub.url], producers, records))
                samples["hubs-2"].append(hub_flood([hub.url, hub2.url], producers, records))
                with psycopg.connect(dsn, autocommit=True) as conn:  # the same table size for every rep
                    conn.execute("TRUNCATE thread_logs")
    out = [
        Measure("ingest", "seed-1", "records/s", samples["seed-1"], {"publishers": 1}, note="original design"),
        Measure("ingest", "seed-16", "records/s", samples["seed-16"], {"publishers": 16}, note="original design"),
        Measure("ingest", "copy", "records/s", samples["copy"], {"clients": 1}, note="raw COPY ceiling"),
        Measure("ingest", "hub", "records/s", samples["hub"], {"producers": producers}),
        Measure("ingest", "hubs-2", "records/s", samples["hubs-2"], {"producers": producers}, note="two hubs, one database"),
    ]
    seed = max(out[0].median, out[1].median)
    for m in out[3:]:
        m.ratios = {"seed": m.median / seed, "copy": m.median / out[2].median}
    return out


def many_producers(db: Database, *, producers: int, rate: int, seconds: float, reps: int) -> list[Measure]:
    """Scenario 6: ``producers`` processes x ``rate`` records/s, paced, frames of rate/10."""
    frame = max(1, rate // 10)
    achieved: list[float] = []
    p50: list[float] = []
    p99: list[float] = []
    seed_rate: list[float] = []
    seed_p99: list[float] = []
    with db.schema("plain", prefix="producers") as dsn:
        with Hub(dsn) as hub:
            for rep in range(reps):
                log(f"many producers rep {rep + 1}/{reps}: {producers} x {rate}/s for {seconds} s")
                reports = run_producers([hub.url], producers, ["--mode", "paced", "--rate", str(rate),
                                                              "--seconds", str(seconds), "--frame", str(frame)])
                achieved.append(rate_of(reports))
                lat = [x for r in reports for x in r["latencies"]]  # type: ignore[attr-defined]
                p50.append(percentile(lat, 0.5))
                p99.append(percentile(lat, 0.99))
        for rep in range(reps):
            r, d = seed_paced(dsn, producers, rate, min(seconds, 5.0))
            seed_rate.append(r)
            seed_p99.append(d)
    offered = producers * rate
    params = {"producers": producers, "rate_each": rate}
    out = [
        Measure("producers", "hub committed", "records/s", achieved, params, note=f"offered {offered:,}/s"),
        Measure("producers", "hub ack p50", "ms", p50, params, higher_is_better=False, note="send to ack (after COMMIT)"),
        Measure("producers", "hub ack p99", "ms", p99, params, higher_is_better=False),
        Measure("producers", "seed committed", "records/s", seed_rate, params, note=f"original design, offered {offered:,}/s"),
        Measure("producers", "seed p99", "ms", seed_p99, params, higher_is_better=False, note="per INSERT+commit"),
    ]
    out[0].ratios = {"offered": out[0].median / offered, "seed": out[0].median / out[3].median}
    return out
