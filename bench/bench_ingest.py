"""Ingest throughput and live latency: logctl's hub against the seed's naive design.

Run:  .venv/bin/python bench/bench_ingest.py [--records 100000] [--database-url URL]

Measures, against the same PostgreSQL (LOGCTL_TEST_DATABASE_URL, else the local server):
  seed-1     the seed's design, one publisher: one INSERT + commit per log via asyncio.to_thread,
             sync pool min=1 max=10
  seed-16    the same with 16 concurrent publishers
  copy       raw COPY of the same rows from one client (the ceiling)
  hub        logctl serve (a subprocess) fed by one producer over WebSocket, frames of
             1,000 records, pipelined; counted when the hub's acks (sent after COMMIT) arrive
  latency    live delivery, committed-record p50/p99, at a steady 5,000 records/s
and prints ratios. Each run uses its own schema, dropped afterwards.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

from psycopg_pool import ConnectionPool
from websockets.sync.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Hub, arguments, pump, raw_copy, schema  # noqa: E402


def seed_naive(dsn: str, n: int, publishers: int) -> float:
    """The seed: per log, asyncio.to_thread(one INSERT + commit) on a sync pool (1..10)."""
    pool = ConnectionPool(dsn, min_size=1, max_size=10, open=True)
    pool.wait()

    def persist(thread_id: str, message: str, level: str) -> None:
        with pool.connection() as conn:
            conn.execute(
                "INSERT INTO thread_logs (thread_id, message, created_at, level) VALUES (%s, %s, now(), %s)",
                (thread_id, message, level),
            )

    async def publisher(k: int, count: int) -> None:
        for i in range(count):
            await asyncio.to_thread(persist, f"seed-{k}", f"message {i}", "INFO")

    async def main() -> None:
        each = n // publishers
        await asyncio.gather(*(publisher(k, each) for k in range(publishers)))

    t0 = time.perf_counter()
    asyncio.run(main())
    elapsed = time.perf_counter() - t0
    pool.close()
    return (n // publishers * publishers) / elapsed


def hub_ingest(hub: Hub, n: int, frame_size: int = 1000, window: int = 8) -> float:
    """One producer; ``window`` frames in flight; rate counted at the last ack."""
    producer = str(uuid.uuid4())
    frames = []
    for start in range(0, n, frame_size):
        recs = [{"seq": i, "thread_id": "hub", "message": f"message {i}"} for i in range(start, min(n, start + frame_size))]
        frames.append(json.dumps({"type": "publish", "producer": producer, "records": recs}))
    with connect(hub.url + "/ws", max_size=None) as ws:
        t0 = time.perf_counter()
        pump(ws, frames, lambda _sent, acked: acked == len(frames), window=window, timeout=60)
        return n / (time.perf_counter() - t0)


def live_latency(hub: Hub, rate: int = 5000, seconds: float = 5.0) -> tuple[float, float, int]:
    """Subscriber-side delay from publish to receipt of the committed record, in ms."""
    delays: list[float] = []
    sent_at: dict[int, float] = {}
    with connect(hub.url + "/ws", max_size=None) as sub:
        sub.send(json.dumps({"type": "subscribe", "thread_id": "lat", "cursor": "now"}))
        json.loads(sub.recv(timeout=10))
        stop = threading.Event()

        def receive() -> None:
            while not stop.is_set():
                try:
                    frame = json.loads(sub.recv(timeout=0.5))
                except TimeoutError:
                    continue
                now = time.perf_counter()
                if frame["type"] == "records":
                    for r in frame["records"]:
                        delays.append((now - sent_at[int(r["message"])]) * 1000)

        rx = threading.Thread(target=receive)
        rx.start()
        with connect(hub.url + "/ws", max_size=None) as pub:
            tick = 0.01
            per_tick = int(rate * tick)
            i = 0
            t0 = time.perf_counter()
            while time.perf_counter() - t0 < seconds:
                batch = []
                now = time.perf_counter()
                for _ in range(per_tick):
                    sent_at[i] = now
                    batch.append({"thread_id": "lat", "message": str(i)})
                    i += 1
                pub.send(json.dumps({"type": "publish", "records": batch}))
                next_tick = t0 + (i / per_tick) * tick
                time.sleep(max(0.0, next_tick - time.perf_counter()))
            deadline = time.perf_counter() + 10
            while len(delays) < i and time.perf_counter() < deadline:
                time.sleep(0.05)
        stop.set()
        rx.join()
    delays.sort()
    return statistics.median(delays), delays[int(len(delays) * 0.99) - 1], len(delays)


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--seed-records", type=int, default=10_000, help="records for the (slow) seed runs")
    args = parser.parse_args()
    results: dict[str, float] = {}
    with schema(args.database_url) as dsn:
        results["seed-1"] = seed_naive(dsn, args.seed_records, 1)
        results["seed-16"] = seed_naive(dsn, args.seed_records, 16)
        results["copy"] = raw_copy(dsn, args.records)
        with Hub(dsn) as hub:
            hub_ingest(hub, 10_000)  # warm-up
            results["hub"] = hub_ingest(hub, args.records)
            p50, p99, count = live_latency(hub)
    for name, rate in results.items():
        print(f"{name:>8}: {rate:>10,.0f} records/s")
    print(f"hub / seed-1  = {results['hub'] / results['seed-1']:.1f}x   (target >= 20x)")
    print(f"hub / seed-16 = {results['hub'] / results['seed-16']:.1f}x")
    print(f"hub / copy    = {results['hub'] / results['copy'] * 100:.0f}%   (target >= 40%)")
    print(f"live latency at 5,000 records/s: p50 {p50:.1f} ms, p99 {p99:.1f} ms over {count} records (target p99 < 100 ms)")


if __name__ == "__main__":
    main()
