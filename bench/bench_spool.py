"""The disk spool's cost: emit_log with the spool (interval, always) against without it.

Run:  .venv/bin/python bench/bench_spool.py [--records 100000] [--always-records 2000] [--runs 3] [--database-url URL]

Two measures, each in one process through the public API (configure_producer + emit_log),
the modes interleaved run by run:
  call cost   emit_log() n times into a producer whose hub does not answer, so nothing is
              shipped meanwhile: the caller's cost alone (validation, the in-memory spool,
              and with a spool directory the segment append, plus fdatasync under always)
  end to end  emit_log() n times to a `logctl serve` over PostgreSQL, timed until
              flush_logs() sees the last ack (after COMMIT): what a producer sustains
"always" syncs every call, so it runs --always-records records. No timing is asserted
anywhere; the figures go in docs/producers.md.
"""

from __future__ import annotations

import logging
import socket
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Hub, arguments, schema  # noqa: E402

import logctl  # noqa: E402

MODES = ("memory", "interval", "always")


def dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"ws://127.0.0.1:{s.getsockname()[1]}"


def configure(mode: str, n: int, spool_root: Path, **target: str) -> None:
    spool = {} if mode == "memory" else {"spool_dir": str(Path(tempfile.mkdtemp(dir=spool_root))), "spool_fsync": mode}
    logctl.configure_producer(capacity=n + 10, policy="block", exit_timeout=0, **spool, **target)  # type: ignore[arg-type]


def call_cost(mode: str, n: int, spool_root: Path) -> float:
    """Microseconds per emit_log call with nothing shipped meanwhile."""
    configure(mode, n, spool_root, server=dead_url())
    logctl.emit_log("warm-up", thread_id="bench")
    t0 = time.perf_counter()
    for i in range(n):
        logctl.emit_log(f"message {i}", thread_id="bench")
    return (time.perf_counter() - t0) / n * 1e6


def end_to_end(mode: str, n: int, spool_root: Path, url: str) -> float:
    """Records per second from the first emit_log until the last ack."""
    configure(mode, n, spool_root, server=url)
    logctl.emit_log("warm-up", thread_id="bench")
    assert logctl.flush_logs(30) == 0
    t0 = time.perf_counter()
    for i in range(n):
        logctl.emit_log(f"message {i}", thread_id="bench")
    left = logctl.flush_logs(300)
    elapsed = time.perf_counter() - t0
    assert left == 0, f"{left} records not committed"
    return n / elapsed


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--always-records", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    logging.getLogger("logctl").setLevel(logging.ERROR)  # the dead hub of the call-cost runs is expected
    sizes = {"memory": args.records, "interval": args.records, "always": args.always_records}
    cost: dict[str, list[float]] = {m: [] for m in MODES}
    rate: dict[str, list[float]] = {m: [] for m in MODES}
    with tempfile.TemporaryDirectory(prefix="logctl-bench-spool-") as root, schema(args.database_url) as dsn, Hub(dsn) as hub:
        for run in range(args.runs):
            for mode in MODES:
                cost[mode].append(call_cost(mode, sizes[mode], Path(root)))
                rate[mode].append(end_to_end(mode, sizes[mode], Path(root), hub.url))
                print(f"run {run + 1} {mode:<8} {cost[mode][-1]:7.2f} µs/call  {rate[mode][-1]:9.0f} records/s end to end",
                      flush=True)
        logctl.configure_producer(exit_timeout=0)
    base_cost, base_rate = min(cost["memory"]), max(rate["memory"])
    print(f"\n{'mode':<10} {'µs per emit_log':>18} {'calls/s vs memory':>18} {'end to end rec/s':>22} {'vs memory':>12}")
    for mode in MODES:
        lo, hi = min(cost[mode]), max(cost[mode])
        rlo, rhi = min(rate[mode]), max(rate[mode])
        print(f"{mode:<10} {lo:8.2f}–{hi:<8.2f} {base_cost / hi * 100:7.0f}–{base_cost / lo * 100:.0f} %"
              f" {rlo:10.0f}–{rhi:<10.0f} {rlo / base_rate * 100:5.0f}–{rhi / base_rate * 100:.0f} %")


if __name__ == "__main__":
    main()
