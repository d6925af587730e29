"""Scenario 4: live latency, from publish to a subscriber's receipt of the committed record.

A publisher (this process) sends, every 10 ms, the records due at a steady rate, each message
the wall-clock time it was sent; a subscriber process (:mod:`bench.subscribers`) holds 1, 100
or 1,000 WebSocket subscriptions, each to a thread of its own, and notes each record's delay.
The records are spread round-robin over the subscribed threads, so every record reaches one
subscriber: the fan-out tested is the hub's per-thread bookkeeping, wake-ups and sends, at
the same total rate. A separate case has 100 subscribers of one thread (every record to
each). The delay includes the group commit, the feed's wait for the xmin horizon, the feed
query, the frame's encoding and the send; the original design broadcast before writing, so
it has no comparable figure (it could deliver a record that was never stored).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import psycopg

from websockets.sync.client import connect

from bench.common import Hub
from bench.harness import Database, Measure, log, percentile


def one_case(
    hub: Hub, rate: int, subscribers: int, threads: int, seconds: float, idle: float = 20.0
) -> tuple[float, float, int, int]:
    """(p50 ms, p99 ms, records received, records sent)."""
    sub = subprocess.Popen([sys.executable, "-m", "bench.subscribers", hub.url, "--subscribers", str(subscribers),
                            "--threads", str(threads), "--idle", str(idle)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert sub.stdout is not None and sub.stdin is not None
        if sub.stdout.readline().strip() != "ready":
            raise RuntimeError("the subscribers did not start")
        sent = 0
        with connect(hub.url + "/ws", max_size=None, max_queue=None) as pub:  # acks unread: never block
            tick = 0.01
            t0 = time.perf_counter()
            k = 0
            while (elapsed := time.perf_counter() - t0) < seconds:
                due = int(rate * elapsed) - sent
                if due > 0:
                    now = str(time.time())
                    batch = []
                    for _ in range(due):
                        batch.append({"thread_id": f"live-{k % threads}", "message": now})
                        k += 1
                    pub.send(json.dumps({"type": "publish", "records": batch}))
                    sent += due
                time.sleep(max(0.0, tick - (time.perf_counter() - t0 - elapsed)))
        sub.stdin.write(f"{sent * (subscribers // threads)}\n")
        sub.stdin.flush()
        out, _ = sub.communicate(timeout=120)
    finally:
        if sub.poll() is None:
            sub.kill()
            sub.wait()
    report = json.loads(out.strip().splitlines()[-1])
    delays = report["delays"]
    expected = sent * (subscribers // threads)
    return percentile(delays, 0.5), percentile(delays, 0.99), len(delays), expected


class HorizonWatch:
    """Samples, every 50 ms, the age of the oldest open transaction that holds an xid on the server.

    Such a transaction (anyone's, in any database of the cluster) holds the xmin horizon back,
    and no subscriber gets rows committed after it began until it ends: on a shared server it
    is the first thing that limits live latency.
    """

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.ages: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> HorizonWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            while not self._stop.wait(0.05):
                row = conn.execute(
                    "SELECT coalesce(extract(epoch FROM max(now() - xact_start)), 0)::float8 FROM pg_stat_activity"
                    " WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid()"
                ).fetchone()
                self.ages.append(float(row[0]) * 1000 if row else 0.0)


def live(
    db: Database, *, rates: list[int], fanouts: list[int], fanout_rate: int, seconds: float, reps: int, quick: bool = False
) -> list[Measure]:
    cases = [(rate, 1, 1) for rate in rates] + [(fanout_rate, n, n) for n in fanouts if n > 1]
    if not quick:
        cases.append((1000, 100, 1))  # 100 subscribers of one thread: every record to each
    out: list[Measure] = []
    with db.schema("plain", prefix="live") as dsn, Hub(dsn) as hub:
        if not quick:
            one_case(hub, 1000, 1, 1, 1.0)  # warm-up
        for rate, subscribers, threads in cases:
            p50s, p99s, lost, held = [], [], [], []
            for rep in range(reps):
                log(f"live: {rate}/s to {subscribers} subscribers over {threads} threads, rep {rep + 1}/{reps}")
                with HorizonWatch(dsn) as watch:
                    p50, p99, got, expected = one_case(hub, rate, subscribers, threads, seconds)
                p50s.append(p50)
                p99s.append(p99)
                lost.append(expected - got)
                held.append(percentile(watch.ages, 0.99))
            params = {"rate": rate, "subscribers": subscribers, "threads": threads}
            note = "all delivered" if not any(lost) else f"missing {max(lost):,} of a rep"
            note += f"; oldest open xact on the server p99 {max(held):,.0f} ms"
            out.append(Measure("live", "p50", "ms", p50s, params, False))
            out.append(Measure("live", "p99", "ms", p99s, params, False, note))
    return out
