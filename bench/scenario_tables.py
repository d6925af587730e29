"""Scenarios 2 and 3, and issue 9's list of threads, on one growing table per layout.

For each layout (``plain``, and ``daily``/``weekly`` once ``apply-schema --partitioned`` exists)
one table grows through the sizes asked for (100k, 1M, 10M, 50M rows over 10,000 threads,
every 60 days' worth; see :mod:`bench.data`). At each size:

2 history   ``GET /admin/runs/{thread}/logs?limit=1000`` through ``logctl serve``: p50/p99 for
            probe threads (a full page of 1,000 rows at every size: the table's size alone
            varies) and for random ordinary threads (their pages grow with the table); and
            ``LogStore.history_json`` in-process, which is the PostgreSQL part of it (and
            ``LogStore.history``, the same page made records, for comparison)
9 runs      ``GET /admin/runs`` (the first page of the list of threads): p50/p99, after a first
            read that folds the load's deltas
3 retention at the retention sizes: ``logctl prune --days 30`` (half the rows) timed, while a
            producer floods the hub; the hub's ingest rate during the prune as a percentage of
            its rate just before. The table then grows again to the next size.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence

import psycopg

from bench import data
from bench.bench_cpu import backends_cpu, process_cpu
from bench.bulk import BULK_FROM, bulk_load
from bench.common import Hub
from bench.harness import Database, Measure, log, percentile
from logctl.store import LogStore


#: The application_name of the hub's PostgreSQL backends, to count their CPU.
APP = "logctl-bench-tables"


class Http:
    """One keep-alive HTTP connection to a hub; ``get`` returns (ms, body)."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def get(self, path: str) -> tuple[float, bytes]:
        t0 = time.perf_counter()
        self.conn.request("GET", path)
        response = self.conn.getresponse()
        body = response.read()
        ms = (time.perf_counter() - t0) * 1000
        if response.status != 200:
            raise RuntimeError(f"GET {path}: {response.status} {body[:200]!r}")
        return ms, body

    def close(self) -> None:
        self.conn.close()


def latencies(fn: Callable[[int], float], requests: int, warmup: int = 10) -> list[float]:
    for i in range(warmup):
        fn(i)
    return [fn(i) for i in range(requests)]


def row_count(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT count(*) FROM thread_logs").fetchone()
    return int(row[0]) if row else 0


def wait_for_horizon(dsn: str, timeout: float = 120.0) -> float:
    """Wait until every transaction begun so far has ended (the xmin horizon passed them); return the seconds waited.

    History and live delivery only show rows below the horizon, and the horizon is the
    cluster's: a transaction left open by anyone on the server (another database, a test
    suite, a psql session) hides rows committed after it began. Measuring before then would
    time empty pages.
    """
    t0 = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT pg_current_xact_id()::text::int8").fetchone()
        assert row is not None
        mark = int(row[0])
        while time.perf_counter() - t0 < timeout:
            row = conn.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::int8").fetchone()
            if row is not None and int(row[0]) > mark:
                break
            time.sleep(0.1)
        else:
            log(f"the xmin horizon did not pass the load in {timeout:.0f} s: some transaction on the server is open")
    return time.perf_counter() - t0


def measure_history(dsn: str, hub: Hub, size: int, layout: str, requests: int, threads: int) -> list[Measure]:
    waited = wait_for_horizon(dsn)
    http = Http(hub.port)
    rng = random.Random(size)
    probes = data.probe_ids()
    ordinary = data.thread_ids(threads)
    params = {"rows": size, "layout": layout}
    try:
        def probe(i: int) -> float:
            ms, body = http.get(f"/admin/runs/{probes[i % len(probes)]}/logs?limit=1000")
            return ms

        def other(i: int) -> float:
            return http.get(f"/admin/runs/{rng.choice(ordinary)}/logs?limit=1000")[0]

        # the rows of a probe page, as a check that the page is full
        body = json.loads(http.get(f"/admin/runs/{probes[0]}/logs?limit=1000")[1])
        rows = len(body.get("logs", body.get("records", [])))
        latencies(probe, 10)
        # CPU per request, hub process and its PostgreSQL backends: much steadier than
        # wall-clock latency on a loaded machine (it is what a request costs, not what it waited).
        cpu0, pg0 = process_cpu(hub.proc.pid), backends_cpu(dsn, APP)
        p = latencies(probe, requests, warmup=0)
        hub_cpu = (process_cpu(hub.proc.pid) - cpu0) / requests * 1000
        pg_cpu = (backends_cpu(dsn, APP) - pg0) / requests * 1000
        o = latencies(other, requests)
        # The load left one summary delta per thread per chunk; the first read folds them all
        # (logctl_summary_compact()). Done here directly, and timed: through HTTP it can outlast
        # the hub's request timeout on a big load.
        fold = _fold(dsn)
        http.get("/admin/runs")
        r = latencies(lambda _i: http.get("/admin/runs")[0], requests)
    finally:
        http.close()
    with LogStore(dsn, max_size=1) as store:
        s = latencies(lambda i: _timed_ms(lambda: store.history_json(probes[i % len(probes)], limit=1000)), requests)
        rec = latencies(lambda i: _timed_ms(lambda: store.history(probes[i % len(probes)], limit=1000)), requests)
    per_thread = min(1000, max(1, size // threads))
    return [
        Measure("history", f"{layout} probe p50", "ms", [percentile(p, 0.5)], params, False,
                f"{rows} rows a page" + (f"; waited {waited:.0f} s for the horizon" if waited >= 1 else "")),
        Measure("history", f"{layout} probe p99", "ms", [percentile(p, 0.99)], params, False),
        Measure("history", f"{layout} thread p50", "ms", [percentile(o, 0.5)], params, False, f"~{per_thread} rows a page"),
        Measure("history", f"{layout} store p50", "ms", [percentile(s, 0.5)], params, False,
                "LogStore.history_json (what the hub serves), no HTTP"),
        Measure("history", f"{layout} records p50", "ms", [percentile(rec, 0.5)], params, False,
                "LogStore.history (rows made records), no HTTP"),
        Measure("history", f"{layout} probe CPU", "ms", [hub_cpu + pg_cpu], params, False,
                f"CPU a request: hub {hub_cpu:.1f} ms + PostgreSQL {pg_cpu:.1f} ms"),
        Measure("runs", f"{layout} runs p50", "ms", [percentile(r, 0.5)], params, False, "GET /admin/runs"),
        Measure("runs", f"{layout} runs p99", "ms", [percentile(r, 0.99)], params, False,
                f"folding the load's deltas first took {fold:.1f} s"),
    ]


def _fold(dsn: str) -> float:
    """Seconds ``logctl_summary_compact()`` takes to fold what is pending (as the first list read would)."""
    t0 = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT logctl_summary_compact()")
    return time.perf_counter() - t0


def _timed_ms(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


class IngestStream:
    """One producer process flooding a hub without a pause (``bench.producer --mode stream``), its acked records sampled in time.

    :meth:`rate` is the rate over any window of that one flood, so the windows before, during
    and after a prune are measured on the same connection and producer, with no process
    started or stopped at their edges (a producer per window paid its start inside it).
    """

    def __init__(self, url: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.producer", url, "--mode", "stream", "--thread", "flood"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        if (line := self.proc.stdout.readline()).strip() != "ready":
            self.proc.kill()
            raise RuntimeError(f"the streaming producer did not start: {line!r}")
        self.samples: list[tuple[float, int]] = [(time.time(), 0)]
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            sample = json.loads(line)
            self.samples.append((float(sample["t"]), int(sample["records"])))

    def acked_at(self, t: float) -> float:
        """Records acked by time ``t``, interpolated between the samples around it."""
        samples = list(self.samples)
        before = max((s for s in samples if s[0] <= t), default=samples[0])
        after = min((s for s in samples if s[0] >= t), default=samples[-1])
        if after[0] == before[0]:
            return float(before[1])
        return before[1] + (after[1] - before[1]) * (t - before[0]) / (after[0] - before[0])

    def rate(self, t0: float, t1: float) -> float:
        """Records per second acked between ``t0`` and ``t1`` (``time.time()``)."""
        return (self.acked_at(t1) - self.acked_at(t0)) / (t1 - t0)

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("stop\n")
        self.proc.stdin.flush()
        self.proc.wait(timeout=120)
        self._reader.join(timeout=10)
        if self.proc.returncode != 0:
            raise RuntimeError(f"the streaming producer failed with exit code {self.proc.returncode}")


def measure_retention(
    dsn: str, hub: Hub, size: int, layout: str, seconds: float, prune_args: Sequence[str] = ()
) -> list[Measure]:
    """Prune 30 days (half the rows) while one producer floods the hub; the ingest rate before, during and after.

    One uninterrupted flood (:class:`IngestStream`): ``seconds`` to warm up, ``seconds`` before
    the prune, the prune, ``seconds`` after it (while the hub folds what the prune left in the
    summary's deltas, if anything). The rate during the prune is given against the rate before
    it (the issue's ratio) and against the mean of before and after (which cancels a drift of
    the machine's rate over the run). ``prune_args``: more options for ``logctl prune``.
    """
    stream = IngestStream(hub.url)
    try:
        time.sleep(seconds)
        b0 = time.time()
        time.sleep(seconds)
        p0 = time.time()
        result = subprocess.run([sys.executable, "-m", "logctl", "prune", "--days", "30", *prune_args, "--database-url", dsn],
                                capture_output=True, text=True)
        p1 = time.time()
        time.sleep(seconds)
        a1 = time.time()
    finally:
        stream.stop()
    if result.returncode != 0:
        raise RuntimeError(f"prune failed: {result.stderr.strip()}")
    before, during, after = stream.rate(b0, p0), stream.rate(p0, p1), stream.rate(p1, a1)
    prune_s = p1 - p0
    log(f"prune {layout} {size:,}: {prune_s:.1f} s: {result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ''}")
    log(f"  ingest before {before:,.0f}, during {during:,.0f}, after {after:,.0f} records/s")
    params = {"rows": size, "layout": layout}
    kind = "delete-based" if layout == "plain" else "partitioned"
    out = [
        Measure("retention", f"{layout} prune 30 days", "s", [prune_s], params, False, kind),
        Measure("retention", f"{layout} ingest before", "records/s", [before], params),
        Measure("retention", f"{layout} ingest during", "records/s", [during], params),
        Measure("retention", f"{layout} ingest after", "records/s", [after], params),
    ]
    out[2].ratios = {"before": during / before if before else float("nan"),
                     "before and after": 2 * during / (before + after) if before + after else float("nan")}
    out[3].ratios = {"before": after / before if before else float("nan")}
    return out


def growing_table(
    db: Database, layout: str, *, sizes: Sequence[int], retention_sizes: Sequence[int], threads: int,
    requests: int, ingest_seconds: float, report: Callable[[list[Measure]], None], reuse: str | None = None,
    bulk: bool | None = None, keep: bool = False,
) -> None:
    """Grow one table of ``layout`` through ``sizes``; measure history and runs at each, retention at some.

    Each growth goes through :func:`bench.data.load` (every index and trigger), or with ``bulk``
    (by default: a growth of :data:`bench.bulk.BULK_FROM` rows or more) through
    :func:`bench.bulk.bulk_load` (indexes built after, the summary counted once, vacuumed).
    ``keep``: leave the schema in place (``--keep-database``), to measure it again with ``--schema``.
    """
    with db.schema(layout, prefix="tables", reuse=reuse, keep=keep) as dsn:
        for size in sorted({s for s in (*sizes, *retention_sizes) if s > 0}):
            have = row_count(dsn)
            if size > have:
                fast = bulk if bulk is not None else size - have >= BULK_FROM
                log(f"{layout}: loading {size - have:,} rows (to {size:,}){', indexes after' if fast else ''}")
                tick = lambda d, r: log(f"  {layout}: {have + d:,} rows, {r:,.0f} rows/s")  # noqa: E731
                if fast:
                    done = bulk_load(dsn, size - have, threads=threads, progress=tick)
                    report([Measure("load", f"{layout} fast load", "rows/s", [done.rate], {"rows": size, "layout": layout},
                                    note=f"{data.table_bytes(dsn) / 2**30:.1f} GiB with indexes; indexes after"
                                         f" (bench/bulk.py): {done.phases()}")])
                else:
                    rate = data.load(dsn, size - have, threads=threads, progress=tick)
                    report([Measure("load", f"{layout} bulk load", "rows/s", [rate], {"rows": size, "layout": layout},
                                    note=f"{data.table_bytes(dsn) / 2**30:.1f} GiB with indexes")])
            with Hub(dsn, env=dict(os.environ, PGAPPNAME=APP)) as hub:
                if size in sizes:
                    report(measure_history(dsn, hub, size, layout, requests, threads))
                if size in retention_sizes:
                    report(measure_retention(dsn, hub, size, layout, ingest_seconds))

