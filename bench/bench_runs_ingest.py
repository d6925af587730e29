"""What the thread summary's triggers (migration 005) cost ingest, side by side, repeated.

Run:  .venv/bin/python bench/bench_runs_ingest.py [--threads 1,10,100] [--rounds 5] [--records 100000]
          [--modes store,hub] [--database-url URL]

Two schemas on the same server, both fully migrated; in one the summary triggers are dropped.

  store  The hub's write path alone (LogStore.insert_rows: one binary COPY per batch of
         ``--batch`` rows spread over the threads), alternating batch by batch between the two
         schemas (which one goes first alternates too), so that the noise of a shared machine
         falls on both alike. Per round: the ratio of median batch times and, when the server
         runs on this machine, the ratio of the server backend's CPU time per batch
         (/proc/<pid>/schedstat: time on a CPU, not time waiting for one).
  hub    End to end: one ``logctl serve`` per schema (background folding on, as shipped), one
         WebSocket producer sending ``--records`` records in frames of 1,000 (8 in flight),
         counted at the last ack. Per round one run against each hub, in alternating order; the
         ratio of their throughputs and, when the server runs on this machine, of the CPU time
         per record of the hub's process and its server backends (with the fold that follows).
  pair   End to end, both at once: the two hubs flooded at the same time, each by a producer
         process of its own, for ``--seconds``; the records each committed (acked) in that
         window. Running together, they share whatever else the machine does, so its noise falls
         on both in the same moment, and on two cores the one that costs more per record
         commits fewer. Per round the ratio of their counts; the median over the rounds.

Prints every round's cost and, per mode, the median over the rounds with the spread (min, max).
``--aa`` drops the triggers in both schemas: the same run then measures the method's own noise.
The issue's target: at most 5 % of ingest throughput.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo
from websockets.sync.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Hub, arguments, pump, schema  # noqa: E402

from logctl.store import LogStore  # noqa: E402

_DROP = """
DROP TRIGGER thread_logs_summary_insert ON thread_logs;
DROP TRIGGER thread_logs_summary_delete ON thread_logs;
DROP TRIGGER thread_logs_summary_update_1 ON thread_logs;
DROP TRIGGER thread_logs_summary_update_2 ON thread_logs;
DROP TRIGGER thread_logs_summary_truncate ON thread_logs;
"""
LEVELS = ("DEBUG", "INFO", "INFO", "WARN", "ERROR")


def backend_cpu(pid: int) -> Callable[[], int] | None:
    """Nanoseconds the server backend ``pid`` has spent on a CPU, if its /proc entry is readable here."""
    path = Path(f"/proc/{pid}/schedstat")
    try:
        path.read_text()
    except OSError:
        return None
    return lambda: int(path.read_text().split()[0])


def store_round(stores: dict[str, LogStore], rows: list[tuple[object, ...]], batches: int) -> dict[str, tuple[float, float | None]]:
    """Median batch time and mean backend CPU per batch (None if unreadable), per schema."""
    clocks = {}
    for name, store in stores.items():
        with store.connection() as conn:
            clocks[name] = backend_cpu(conn.info.backend_pid)
    times: dict[str, list[float]] = {name: [] for name in stores}
    cpu: dict[str, list[int]] = {name: [] for name in stores}
    names = list(stores)
    for batch in range(batches):
        for name in names if batch % 2 == 0 else names[::-1]:
            clock = clocks[name]
            c0 = clock() if clock else 0
            t0 = time.perf_counter()
            stores[name].insert_rows(rows)  # type: ignore[arg-type]
            times[name].append(time.perf_counter() - t0)
            if clock:
                cpu[name].append(clock() - c0)
    return {name: (statistics.median(times[name]), statistics.mean(cpu[name]) if cpu[name] else None) for name in stores}


def hub_cpu(hub: Hub, dsn: str, application: str) -> int:
    """Nanoseconds of CPU the hub's process (all its threads) and its server backends have used so far."""
    ticks = Path(f"/proc/{hub.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    total = (int(ticks[11]) + int(ticks[12])) * 1_000_000_000 // os.sysconf("SC_CLK_TCK")
    with psycopg.connect(dsn) as conn:
        pids = [int(row[0]) for row in conn.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s", [application])]
    for pid in pids:
        clock = backend_cpu(pid)
        total += clock() if clock else 0
    return total


def hub_run(hub: Hub, frames: list[str]) -> float:
    """Records per second of one producer sending ``frames`` (1,000 records each, 8 in flight) to ``hub``."""
    with connect(hub.url + "/ws", max_size=None) as ws:
        t0 = time.perf_counter()
        pump(ws, frames, lambda sent, acked: acked == len(frames))
        return 1000 * len(frames) / (time.perf_counter() - t0)


def flood(url: str, frames: list[str], seconds: float, start: float, out: list[int]) -> None:
    """Send ``frames`` (8 in flight) from ``start`` for ``seconds``; append the records acked in time."""
    with connect(url + "/ws", max_size=None) as ws:
        while time.time() < start:
            time.sleep(0.001)
        deadline = start + seconds

        def done(sent: int, acked: int) -> bool:
            if sent == len(frames) and time.time() < deadline:
                raise RuntimeError("flood: every prepared frame was sent before the deadline; prepare more")
            return time.time() >= deadline

        sent, acked = pump(ws, frames, done)
        out.append(1000 * acked)
        while acked < sent:  # drain, so the next round starts from an idle hub
            if json.loads(ws.recv(timeout=120))["type"] == "ack":
                acked += 1


def pair_round(hubs: dict[str, Hub], threads: int, seconds: float) -> dict[str, float]:
    """Records per second each hub committed while both were flooded at once."""
    import threading

    counts: dict[str, list[int]] = {name: [] for name in hubs}
    frames = {name: hub_frames(int(seconds * 150_000), threads) for name in hubs}  # a new producer id each
    start = time.time() + 1.0
    workers = [threading.Thread(target=flood, args=(hub.url, frames[name], seconds, start, counts[name])) for name, hub in hubs.items()]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return {name: counts[name][0] / seconds for name in hubs}


def hub_frames(records: int, threads: int) -> list[str]:
    producer = str(uuid.uuid4())
    return [
        json.dumps({"type": "publish", "producer": producer, "records": [
            {"seq": i, "thread_id": f"bench-{i % threads}", "message": f"message {i}", "level": LEVELS[i % 5]}
            for i in range(start, start + 1000)
        ]})
        for start in range(0, records, 1000)
    ]


def spread(costs: list[float]) -> str:
    return f"median {statistics.median(costs):+.1f} %  (min {min(costs):+.1f} %, max {max(costs):+.1f} %, {len(costs)} rounds)"


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--threads", default="1,10,100", help="threads per batch, comma-separated")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--modes", default="store,hub", help="store, hub and/or pair (see above)")
    parser.add_argument("--seconds", type=float, default=10.0, help="pair: the length of each round's flood")
    parser.add_argument("--aa", action="store_true",
                        help="an A/A run: the triggers dropped in both schemas, so every difference is noise")
    args = parser.parse_args()
    modes = args.modes.split(",")
    now = dt.datetime.now(dt.timezone.utc)
    with schema(args.database_url) as with_dsn, schema(args.database_url) as without_dsn:
        for dsn in (without_dsn, with_dsn) if args.aa else (without_dsn,):
            with LogStore(dsn, max_size=1) as store, store.connection() as conn:
                conn.execute(_DROP)
        for threads in [int(t) for t in args.threads.split(",")]:
            print(f"{threads} thread(s) per batch", flush=True)
            if "store" in modes:
                rows = [(f"bench-{i % threads}", f"message {i}", LEVELS[i % 5], now, None, None) for i in range(args.batch)]
                wall: list[float] = []
                cpu: list[float] = []
                with LogStore(with_dsn, max_size=1) as with_store, LogStore(without_dsn, max_size=1) as without_store:
                    for n in range(args.rounds):
                        got = store_round({"with": with_store, "without": without_store}, rows, max(1, args.records // args.batch))
                        wall.append(100 * (got["with"][0] / got["without"][0] - 1))
                        line = (f"  store round {n + 1}: batch {got['without'][0] * 1000:.2f} -> {got['with'][0] * 1000:.2f} ms"
                                f" ({wall[-1]:+.1f} %)")
                        with_cpu, without_cpu = got["with"][1], got["without"][1]
                        if with_cpu is not None and without_cpu is not None:
                            cpu.append(100 * (with_cpu / without_cpu - 1))
                            line += f"; server CPU {without_cpu / 1e6:.2f} -> {with_cpu / 1e6:.2f} ms ({cpu[-1]:+.1f} %)"
                        print(line, flush=True)
                print(f"  store, batch time:      {spread(wall)}")
                if cpu:
                    print(f"  store, server CPU time: {spread(cpu)}")
            if "hub" in modes:
                costs: list[float] = []
                cpu_costs: list[float] = []
                dsns = {name: make_conninfo(dsn, application_name=f"bench-runs-{name}-{os.getpid()}")
                        for name, dsn in (("with", with_dsn), ("without", without_dsn))}
                with Hub(dsns["with"]) as with_hub, Hub(dsns["without"]) as without_hub:
                    hubs = {"with": with_hub, "without": without_hub}
                    for hub in hubs.values():
                        hub_run(hub, hub_frames(10_000, threads))  # warm both
                    for n in range(args.rounds):
                        rates: dict[str, float] = {}
                        cpus: dict[str, float] = {}
                        for name in ("with", "without") if n % 2 == 0 else ("without", "with"):
                            frames = hub_frames(args.records, threads)
                            c0 = hub_cpu(hubs[name], with_dsn, f"bench-runs-{name}-{os.getpid()}")
                            rates[name] = hub_run(hubs[name], frames)
                            time.sleep(1.5)  # the background fold that follows is part of the cost
                            cpus[name] = (hub_cpu(hubs[name], with_dsn, f"bench-runs-{name}-{os.getpid()}") - c0) / args.records
                        costs.append(100 * (rates["without"] / rates["with"] - 1))
                        cpu_costs.append(100 * (cpus["with"] / cpus["without"] - 1))
                        print(f"  hub round {n + 1}: {rates['without']:,.0f} -> {rates['with']:,.0f} records/s"
                              f" ({costs[-1]:+.1f} % time per record); CPU of hub and its backends"
                              f" {cpus['without'] / 1000:.1f} -> {cpus['with'] / 1000:.1f} us per record ({cpu_costs[-1]:+.1f} %)", flush=True)
                print(f"  hub, time per record:   {spread(costs)}")
                print(f"  hub, CPU per record:    {spread(cpu_costs)}")
            if "pair" in modes:
                pair_costs: list[float] = []
                with Hub(with_dsn) as with_hub, Hub(without_dsn) as without_hub:
                    pair_hubs = {"with": with_hub, "without": without_hub}
                    for n in range(args.rounds):
                        rates_now = pair_round(pair_hubs, threads, args.seconds)
                        pair_costs.append(100 * (rates_now["without"] / rates_now["with"] - 1))
                        print(f"  pair round {n + 1}: without {rates_now['without']:,.0f}, with {rates_now['with']:,.0f} records/s"
                              f" ({pair_costs[-1]:+.1f} % time per record)", flush=True)
                print(f"  pair, time per record:  {spread(pair_costs)}")


if __name__ == "__main__":
    main()
