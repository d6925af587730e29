"""How much memory ``logctl tail``'s view holds for N records (run by the harness in a process of its own).

    python -m bench.tail_memory 1000000

Builds N records the way the viewer gets them (``LogRecord``s), hands them to a headless
LogView (with TailApp's GC policy), waits for the screen, and prints one JSON line: the RSS it
grew by from before the records were made, per record, and the peak RSS.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys

from bench.bench_tail import SIZE, ViewApp, make_records


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * 4096 / 2**20


async def main(n: int) -> None:
    app = ViewApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        before = rss_mib()
        for start in range(0, n, 100_000):
            app.feed(make_records(min(100_000, n - start), start=start))
        await pilot.pause()
        await pilot.pause(0.2)
        after = rss_mib()
        assert app.loaded() == n, app.loaded()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    grown = after - before
    print(json.dumps({"records": n, "grown_mib": grown, "bytes_per_record": grown * 2**20 / n, "peak_mib": peak}))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
