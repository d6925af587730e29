"""Scenario 5: ``logctl tail`` on a big thread (the measuring code is bench_tail.py's).

first screen  a thread of ``records`` rows behind a real hub: ``TailApp`` until the newest record
              is on screen, with ``-n 1000`` and with ``-n <records>``; and in memory, logctl's
              virtualised LogView against the naive design (a RichLog written record by record)
live rate     the highest offered rate a view already holding ``records`` absorbs (95 %) with
              no event-loop stall of 100 ms or more (2 s per step)
memory        the RSS a process grows by holding ``memory_records`` records in the view
              (headless, :mod:`bench.tail_memory` in a process of its own)
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

from bench.bench_tail import NaiveApp, ViewApp, first_paint, hub_first_paint, kept_up, live_rate, make_records
from bench.common import Hub
from bench.harness import Database, Measure, log
from logctl.store import LogStore


def tail(db: Database, *, records: int, memory_records: int, reps: int, quick: bool = False) -> list[Measure]:
    naive = not quick
    rows = make_records(records)
    out: list[Measure] = []
    params = {"records": records}
    with db.schema("plain", prefix="tail") as dsn, LogStore(dsn, max_size=2) as store, Hub(dsn) as hub:
        for i in range(0, records, 20_000):
            store.insert(rows[i:i + 20_000])
        last = rows[-1].message.split("\n")[0]
        for limit in (1000,) if quick else (1000, records):
            firsts = []
            for rep in range(reps):
                log(f"tail: first screen, -n {limit}, rep {rep + 1}/{reps}")
                first, _everything, _loaded = asyncio.run(hub_first_paint(hub.url, limit, last))
                firsts.append(first * 1000)
            out.append(Measure("tail", f"first screen -n {limit:,}", "ms", firsts, params, False, "real hub"))
    ours = [asyncio.run(first_paint(ViewApp, rows))[1] * 1000 for _ in range(reps)]
    out.append(Measure("tail", "first screen in memory", "ms", ours, params, False, "LogView"))
    if naive:
        log("tail: the naive RichLog's first screen")
        theirs = [asyncio.run(first_paint(NaiveApp, rows))[1] * 1000]
        out.append(Measure("tail", "naive first screen", "ms", theirs, params, False, "RichLog, a write per record"))
        out[-2].ratios = {"naive": out[-1].median / out[-2].median}
    log("tail: live rate")
    rates = [5_000] if quick else [1_000, 5_000, 20_000, 50_000, 100_000]
    steps = asyncio.run(live_rate(ViewApp, rows, rates))
    out.append(Measure("tail", "live rate kept up", "records/s", [float(kept_up(steps))], params,
                       note="offered " + ", ".join(f"{r:,}" for r in rates)))
    log(f"tail: memory at {memory_records:,} records")
    result = subprocess.run([sys.executable, "-m", "bench.tail_memory", str(memory_records)],
                            capture_output=True, text=True, check=True)
    mem = json.loads(result.stdout.strip().splitlines()[-1])
    out.append(Measure("tail", "memory held", "MiB", [mem["grown_mib"]], {"records": memory_records},
                       False, f"{mem['bytes_per_record']:.0f} B a record, peak RSS {mem['peak_mib']:.0f} MiB"))
    return out
