"""Producer throughput: logctl's shipper against the seed's naive design, end to end with commits.

Run:  .venv/bin/python bench/bench_send.py [--records 100000] [--seed-records 5000] [--database-url URL]

Against the same PostgreSQL (LOGCTL_TEST_DATABASE_URL, else the local server), each in its own
schema:
  seed        the seed's design, one publisher: per log, asyncio.to_thread(one INSERT + commit)
              on a sync pool min=1 max=10 (bench_ingest.seed_naive)
  emit→db     emit_log() in a loop, DATABASE_URL only: the shipper thread writes batches straight
              to PostgreSQL; timed until flush_logs() sees the last commit
  emit→hub    emit_log() in a loop, LOGCTL_SERVER set: publish frames to a `logctl serve`
              subprocess; timed until the last ack (sent by the hub after COMMIT)
  send        `seq 1 N | logctl send t --server …` as a subprocess, wall time including the
              interpreter's start-up; it exits only once everything is committed
  copy        raw COPY of N rows from one client into the same table (common.raw_copy),
              measured in the same run: the ceiling
and prints records/s and the ratios to the seed and to COPY. No timing here is asserted anywhere.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_ingest import seed_naive  # noqa: E402
from common import Hub, arguments, raw_copy, schema  # noqa: E402

import logctl  # noqa: E402


def emit_loop(n: int, thread_id: str, **target: str) -> float:
    """``emit_log`` n times through this process's producer; records/s until all are committed."""
    logctl.configure_producer(capacity=n + 1, policy="block", exit_timeout=0, **target)
    logctl.emit_log("warm-up", thread_id=thread_id)  # connect (and import the driver) first
    assert logctl.flush_logs(30) == 0
    t0 = time.perf_counter()
    for i in range(n):
        logctl.emit_log(f"message {i}", thread_id=thread_id)
    left = logctl.flush_logs(120)
    elapsed = time.perf_counter() - t0
    assert left == 0, f"{left} records not committed"
    return n / elapsed


def send_cli(n: int, url: str) -> float:
    data = "".join(f"{i}\n" for i in range(1, n + 1)).encode()
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "logctl", "send", "send-bench", "--server", url], input=data,
                   check=True, capture_output=True)
    return n / (time.perf_counter() - t0)


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--seed-records", type=int, default=5_000, help="records for the (slow) seed run")
    args = parser.parse_args()
    results: dict[str, float] = {}
    with schema(args.database_url) as dsn:
        results["seed"] = seed_naive(dsn, args.seed_records, 1)
        results["emit→db"] = emit_loop(args.records, "emit-db", database_url=dsn)
        with Hub(dsn) as hub:
            results["emit→hub"] = emit_loop(args.records, "emit-hub", server=hub.url)
            results["send"] = send_cli(args.records, hub.url)
        results["copy"] = raw_copy(dsn, args.records)
    for name, rate in results.items():
        ratio = "" if name in ("seed", "copy") else (
            f"   {rate / results['seed']:6.1f}x the seed   {rate / results['copy'] * 100:3.0f}% of COPY")
        print(f"{name:>9}: {rate:>10,.0f} records/s{ratio}")


if __name__ == "__main__":
    main()
