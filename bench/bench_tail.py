"""How fast ``logctl tail`` opens a big thread and how many live records its view keeps up with.

Run:  .venv/bin/python bench/bench_tail.py [--records 100000] [--database-url URL] [--skip-naive]

Measures, headless (Textual's ``run_test``, the same rendering work as on a terminal minus
the terminal's own drawing):

  first paint, in memory   100,000 records handed to the view at once, until the first
                           screen is rendered: logctl's virtualised LogView against the naive
                           design (a RichLog that gets every record with ``write``)
  first paint, real hub    ``TailApp`` against a real ``logctl serve`` over a real PostgreSQL
                           holding the thread: with the default ``-n 1000`` and with
                           ``-n 100000`` (ten 10,000-record history pages), until the newest
                           record is on screen
  live ingest              records offered to a view that already holds the thread, at rising
                           rates, 2 s per step; a step is kept up with when 95 % of the records
                           were absorbed and the event loop never stalled for 100 ms or more
                           (a 10 ms asyncio heartbeat measures the stalls)
  live, end to end         50,000 rows committed in one go while ``TailApp`` follows through the
                           hub: rows per second until the last is in the view

No timed assertions anywhere: this prints figures and ratios.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import RichLog

from logctl.core.merge import Entry
from logctl.gc_policy import HeapFreezer
from logctl.core.records import LogRecord
from logctl.store import LogStore
from logctl.tail import tail_settings
from logctl.tail.app import TailApp
from logctl.tail.log_view import LEVEL_STYLES, LogView

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Hub, arguments, schema  # noqa: E402

SIZE = (160, 48)
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
LEVELS = ("DEBUG", "INFO", "INFO", "INFO", "WARN", "INFO", "DEBUG", "ERROR")
TRACEBACK = 'Traceback (most recent call last):\n  File "worker.py", line 42, in run\n    step()\nTimeoutError: upstream'


def make_records(n: int, thread: str = "big", start: int = 0) -> list[LogRecord]:
    """A realistic mix: four levels, 60–120 character messages, a traceback every 97 records."""
    out = []
    for i in range(start, start + n):
        level = LEVELS[i % len(LEVELS)]
        message = f"step {i}: processed batch {i * 7 % 1000} of orders for customer {i * 13 % 9973} in {i % 500} ms"
        if i % 97 == 96:
            level, message = "ERROR", f"step {i} failed\n{TRACEBACK}"
        out.append(LogRecord(thread, message, level, T0 + dt.timedelta(milliseconds=i)))
    return out


# -- the two views -------------------------------------------------------------------------


class ViewApp(App[None]):
    """logctl's LogView alone, fed from memory (with TailApp's GC policy: HeapFreezer)."""

    def __init__(self) -> None:
        super().__init__()
        self.heap = HeapFreezer()

    def compose(self) -> ComposeResult:
        yield LogView(tz=dt.timezone.utc)

    def feed(self, entries: Sequence[Entry]) -> None:
        self.query_one(LogView).add(list(entries))
        self.heap.absorbed(len(entries))

    def loaded(self) -> int:
        return len(self.query_one(LogView).model.entries)


class NaiveApp(App[None]):
    """The naive design: a RichLog that gets every record, one ``write`` each."""

    def compose(self) -> ComposeResult:
        yield RichLog(wrap=False, highlight=False, markup=False, auto_scroll=True)

    def feed(self, entries: Sequence[Entry]) -> None:
        log = self.query_one(RichLog)
        for e in entries:
            assert isinstance(e, LogRecord)
            text = Text(f"{e.created_at:%Y-%m-%d %H:%M:%S.%f}"[:-3] + " ")
            text.append(f"{e.level:^5}", style=LEVEL_STYLES[e.level])
            text.append(" " + e.message)
            log.write(text)
        self.written = getattr(self, "written", 0) + len(entries)

    def loaded(self) -> int:
        return int(getattr(self, "written", 0))


def painted(app: App[None]) -> asyncio.Future[float]:
    """A future that resolves with the time of the next completed screen refresh."""
    future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
    app.call_after_refresh(lambda: future.done() or future.set_result(time.perf_counter()))
    return future


async def first_paint(factory: Callable[[], Any], records: Sequence[LogRecord]) -> tuple[float, float]:
    """Seconds to hand over the records, and until the first screen with them is rendered."""
    app = factory()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        t0 = time.perf_counter()
        app.feed(records)
        handed = time.perf_counter()
        done = await painted(app)
        await pilot.pause()
        return handed - t0, done - t0


async def live_rate(factory: Callable[[], Any], preload: Sequence[LogRecord], rates: Sequence[int]) -> list[tuple[int, float, float, float]]:
    """For each offered rate: achieved rate, p99 and max event-loop stall (ms)."""
    app = factory()
    results = []
    async with app.run_test(size=SIZE) as pilot:
        app.feed(preload)
        await pilot.pause()
        await pilot.pause(0.2)
        seq = len(preload)
        for rate in rates:
            stalls: list[float] = []
            beating = True

            async def heartbeat() -> None:
                # a raw asyncio heartbeat: how long the event loop (keys, frames) was blocked
                while beating:
                    t = time.perf_counter()
                    await asyncio.sleep(0.01)
                    stalls.append(time.perf_counter() - t - 0.01)

            beat = asyncio.create_task(heartbeat())
            start_count = app.loaded()
            t0 = time.perf_counter()
            sent = 0
            while (elapsed := time.perf_counter() - t0) < 2.0:
                due = int(rate * elapsed) - sent
                if due > 0:
                    batch = make_records(due, start=seq)
                    seq += due
                    sent += due
                    app.feed(batch)
                await asyncio.sleep(0.005)
            await pilot.pause()
            took = time.perf_counter() - t0
            beating = False
            await beat
            absorbed = app.loaded() - start_count
            stalls.sort()
            p99 = stalls[int(len(stalls) * 0.99) - 1] * 1000 if stalls else 0.0
            results.append((rate, absorbed / took, p99, (stalls[-1] * 1000) if stalls else 0.0))
    return results


def kept_up(results: list[tuple[int, float, float, float]]) -> int:
    best = 0
    for rate, achieved, _p99, worst in results:
        if achieved >= 0.95 * rate and worst < 100:
            best = rate
    return best


# -- against a real hub ------------------------------------------------------------------


async def hub_first_paint(server: str, limit: int, expect_last: str) -> tuple[float, float, int]:
    """Seconds until the newest record is on screen, and until all ``limit`` records are loaded."""
    app = TailApp(tail_settings("big", server=server, limit=limit), tz=dt.timezone.utc)
    t0 = time.perf_counter()
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(LogView)
        while not (view.model.entries and getattr(view.model.entries[-1], "message", "").startswith(expect_last)):
            await asyncio.sleep(0.002)
        first = await painted(app) - t0
        while view.model.records_loaded < limit:
            await asyncio.sleep(0.005)
        everything = await painted(app) - t0
        loaded = view.model.records_loaded
        await pilot.pause()
        return first, everything, loaded


async def hub_live(server: str, store: LogStore, n: int, start: int) -> float:
    app = TailApp(tail_settings("big", server=server, limit=1000), tz=dt.timezone.utc)
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(LogView)
        while "live" not in str(app.info.state.kind):
            await asyncio.sleep(0.01)
        base = view.model.records_loaded
        rows = make_records(n, start=start)
        t0 = time.perf_counter()
        await asyncio.to_thread(store.insert, rows)
        while view.model.records_loaded < base + n:
            await asyncio.sleep(0.005)
        await painted(app)
        took = time.perf_counter() - t0
        await pilot.pause()
        return n / took


def main() -> None:
    parser = arguments(__doc__, full_doc=True)
    parser.add_argument("--skip-naive", action="store_true", help="do not time the RichLog design (it is slow)")
    parser.add_argument("--only-hub", action="store_true", help="only the measurements against a real hub")
    args = parser.parse_args()
    n = args.records
    records = make_records(n)
    rates = [1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000]

    if not args.only_hub:
        in_memory(records, rates, skip_naive=args.skip_naive)
    against_hub(args.database_url, records)


def in_memory(records: list[LogRecord], rates: list[int], *, skip_naive: bool) -> None:
    n = len(records)
    print(f"first paint of {n:,} records handed over in memory ({SIZE[0]}x{SIZE[1]} screen)")
    handed, paint = asyncio.run(first_paint(ViewApp, records))
    print(f"  logctl LogView   handed over in {handed * 1000:8.1f} ms, first screen at {paint * 1000:8.1f} ms")
    if not skip_naive:
        n_handed, n_paint = asyncio.run(first_paint(NaiveApp, records))
        print(f"  naive RichLog    handed over in {n_handed * 1000:8.1f} ms, first screen at {n_paint * 1000:8.1f} ms")
        print(f"  ratio            RichLog / LogView = {n_paint / paint:.1f}x")

    print(f"\nlive ingest into a view already holding {n:,} records (2 s per step)")
    ours = asyncio.run(live_rate(ViewApp, records, rates))
    for rate, achieved, p99, worst in ours:
        print(f"  LogView  offered {rate:>7,}/s  absorbed {achieved:>9,.0f}/s  loop stall p99 {p99:6.1f} ms  max {worst:6.1f} ms")
    if not skip_naive:
        naive = asyncio.run(live_rate(NaiveApp, records, rates))
        for rate, achieved, p99, worst in naive:
            print(f"  RichLog  offered {rate:>7,}/s  absorbed {achieved:>9,.0f}/s  loop stall p99 {p99:6.1f} ms  max {worst:6.1f} ms")
        a, b = kept_up(ours), kept_up(naive)
        print(f"  kept up with (>=95 % absorbed, no stall >= 100 ms): LogView {a:,}/s, RichLog {b:,}/s"
              + (f", ratio {a / b:.0f}x" if b else ""))
        best_ours = max(r[1] for r in ours)
        best_naive = max(r[1] for r in naive)
        print(f"  most absorbed in any step: LogView {best_ours:,.0f}/s, RichLog {best_naive:,.0f}/s,"
              f" ratio {best_ours / best_naive:.0f}x")
    else:
        print(f"  kept up with (>=95 % absorbed, no stall >= 100 ms): LogView {kept_up(ours):,}/s")


def against_hub(database_url: str, records: list[LogRecord]) -> None:
    n = len(records)
    print(f"\nagainst a real hub and PostgreSQL ({database_url.split('@')[-1]})")
    with schema(database_url) as dsn, LogStore(dsn, max_size=2) as store, Hub(dsn) as hub:
        server = hub.url
        for i in range(0, n, 20_000):
            store.insert(records[i:i + 20_000])
        last = records[-1].message.split("\n")[0]
        for limit in (1000, n):
            firsts, alls = [], []
            for _ in range(3):
                first, everything, loaded = asyncio.run(hub_first_paint(server, limit, last))
                firsts.append(first)
                alls.append(everything)
            print(f"  tail -n {limit:<7} newest record on screen: median {statistics.median(firsts) * 1000:7.1f} ms;"
                  f" all {loaded:,} records loaded: median {statistics.median(alls) * 1000:7.1f} ms")
        rate = asyncio.run(hub_live(server, store, 50_000, n))
        print(f"  live, end to end: 50,000 rows committed at once reached the view at {rate:,.0f} rows/s")


if __name__ == "__main__":
    main()
