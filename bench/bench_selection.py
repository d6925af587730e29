"""What selections (tail A B C, tail --match) cost, side by side.

Run:  .venv/bin/python bench/bench_selection.py [--records 1000000] [--database-url URL] [--before REV] [--skip-table]

Two parts, no assertion anywhere:

  fan-out, single threads   the hub's pure fan-out (core/fanout.py) delivering feed reads to
                            single-thread subscribers (100 threads, 3 subscribers each, 20 rows
                            per thread per read), CPU per row: the FanOut from before selections
                            (``git show REV:src/logctl/core/fanout.py``), today's with no
                            selection, with one idle glob that matches none of the threads, and
                            with one selection of three of the threads. Modes alternate round by
                            round, so the noise of a shared machine falls on all alike.
  history across threads    on a table of ``--records`` rows over 1,000 threads (in its own
                            database, dropped afterwards): GET /admin/logs's store read
                            (k-way merge of per-thread index scans) for 3 named threads and for a
                            glob matching 10 and 90 threads, against the naive query
                            (``thread_id = ANY(…) ORDER BY txid DESC, id DESC LIMIT``), p50 of 20.
"""

from __future__ import annotations

import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import arguments  # noqa: E402

from logctl.core import fanout as today  # noqa: E402
from logctl.core.cursor import ORIGIN, Cursor  # noqa: E402
from logctl.core.records import LogRecord  # noqa: E402
from logctl.core.selection import Selection  # noqa: E402

THREADS, SUBSCRIBERS, PER_READ, READS = 100, 3, 20, 200


def load_before(rev: str | None) -> types.ModuleType | None:
    """core/fanout.py as it was before selections, from git (None outside a checkout)."""
    root = Path(__file__).resolve().parent.parent
    try:
        if rev is None:
            first = subprocess.run(["git", "log", "--format=%H", "--grep=selections merged in global", "-1"],
                                   cwd=root, capture_output=True, text=True, check=True).stdout.strip()
            rev = f"{first}^"
        source = subprocess.run(["git", "show", f"{rev}:src/logctl/core/fanout.py"], cwd=root,
                                capture_output=True, text=True, check=True).stdout
    except (subprocess.CalledProcessError, FileNotFoundError):
        return None
    path = Path(tempfile.mkdtemp()) / "fanout_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("fanout_before", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fanout_before"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def reads() -> list[list[LogRecord]]:
    """READS feed reads: PER_READ rows of every thread each, in stream order."""
    out, rid = [], 0
    for r in range(READS):
        rows = []
        for t in range(THREADS):
            for _ in range(PER_READ):
                rid += 1
                rows.append(LogRecord(thread_id=f"t{t}", message="m", id=rid, cursor=Cursor(10 + r, rid)))
        out.append(rows)
    return out


def setup(module: Any, mode: str) -> Any:
    f = module.FanOut(page=10_000)
    conns = [f.connect() for _ in range(50)]
    for t in range(THREADS):
        for s in range(SUBSCRIBERS):
            f.subscribe(conns[(t * SUBSCRIBERS + s) % len(conns)], f"t{t}", ORIGIN)
    if mode == "idle glob":
        f.subscribe_selection(conns[0], "g", Selection((), "nothing-*"), ORIGIN, (), ORIGIN)
    elif mode == "3-thread selection":
        sub, _ = f.subscribe_selection(conns[1], "s", Selection(("t1", "t2", "t3")), ORIGIN, ("t1", "t2", "t3"), ORIGIN)
        f.selection_page_read(sub, [], ("t1", "t2", "t3"), ORIGIN)
        f.caught_up(sub)
    return f


def per_row(module: Any, mode: str, data: list[list[LogRecord]]) -> float:
    """Microseconds of CPU per row read, over READS feed reads."""
    f = setup(module, mode)
    start = time.process_time()
    for i, rows in enumerate(data):
        for read in f.reads():
            f.rows_read(read, 11 + i, rows)
    return (time.process_time() - start) / (len(data) * THREADS * PER_READ) * 1e6


def fan_out_part(rev: str | None) -> None:
    before = load_before(rev)
    data = reads()
    modes: list[tuple[str, Any, str]] = []
    if before is not None:
        modes.append(("before selections", before, "none"))
    else:
        print("(no git checkout: the FanOut from before selections is left out)")
    modes += [("today, no selection", today, "none"), ("today, an idle glob", today, "idle glob"),
              ("today, a 3-thread selection", today, "3-thread selection")]
    times: dict[str, list[float]] = {name: [] for name, _, _ in modes}
    for _ in range(7):
        for name, module, mode in modes:
            times[name].append(per_row(module, mode, data))
    print(f"fan-out, single-thread path: {THREADS} threads x {SUBSCRIBERS} subscribers, {PER_READ} rows per thread per read")
    base = statistics.median(times[modes[0][0]])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:<30} {median:6.3f} µs CPU per row   x{median / base:.3f}")


def timed(fn: Any, n: int = 20) -> float:
    fn()  # warm
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def table_part(server: str, records: int) -> None:
    from logctl.core.protocol.runs import glob_to_like
    from logctl.store import LogStore
    from logctl.store.selection import selection_history

    name = "bench_multi_selection"
    admin = make_conninfo(server, dbname="postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    dsn = make_conninfo(server, dbname=name)
    try:
        subprocess.run([sys.executable, "-m", "logctl", "apply-schema", "--database-url", dsn], check=True, capture_output=True)
        with psycopg.connect(dsn, autocommit=True) as conn:
            start = time.perf_counter()
            for low in range(1, records + 1, 50_000):  # short transactions: a long one would hold the cluster's horizon
                conn.execute(
                    "INSERT INTO thread_logs (thread_id, message, level)"
                    " SELECT 'build-' || (g %% 1000), 'message ' || g, 'INFO' FROM generate_series(%s, %s) g",
                    (low, min(records, low + 49_999)))
            conn.execute("VACUUM ANALYZE thread_logs")
            print(f"history across threads: {records:,} rows over 1,000 threads (loaded in {time.perf_counter() - start:.0f} s)")
        with LogStore(dsn, max_size=2) as store, psycopg.connect(dsn, autocommit=True) as conn:
            named = Selection(("build-1", "build-2", "build-3"))
            wide = Selection((), "build-?")  # build-0 … build-9: 10 threads
            many = Selection((), "build-??")  # build-10 … build-99: 90 threads

            def naive(threads: list[str]) -> None:
                conn.execute(
                    "SELECT id, thread_id, message, created_at, level, txid::text::int8 FROM thread_logs"
                    " WHERE thread_id = ANY(%s) ORDER BY txid DESC, id DESC LIMIT 1001", (threads,)).fetchall()

            def threads_of(selection: Selection) -> list[str]:
                if selection.match is None:
                    return list(selection.threads)
                like = glob_to_like(selection.match)
                return [str(r[0]) for r in conn.execute(
                    "SELECT thread_id FROM thread_log_summary WHERE thread_id LIKE %s", (like,)).fetchall()]

            for label, selection in (("3 named threads", named), ("glob, 10 threads", wide), ("glob, 90 threads", many)):
                ours = timed(lambda: selection_history(store, selection, limit=1000))
                threads = threads_of(selection)
                plain = timed(lambda: naive(threads), n=5)
                print(f"  {label:<22} latest 1,000: k-way merge {ours:8.1f} ms   naive ORDER BY {plain:8.1f} ms"
                      f"   ({len(threads)} threads)")
            page = selection_history(store, many, limit=1000)
            assert page.page.before is not None
            older = timed(lambda: selection_history(store, many, limit=1000, before=page.page.before))
            print(f"  {'glob, 90, before=':<22} an older page:  {older:8.1f} ms")
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name}")


def main() -> None:
    parser = arguments(__doc__)
    parser.set_defaults(records=1_000_000)
    parser.add_argument("--before", default=None, help="the git revision whose FanOut is the 'before' (default: found by its commit message)")
    parser.add_argument("--skip-table", action="store_true", help="only the fan-out part")
    args = parser.parse_args()
    fan_out_part(args.before)
    if not args.skip_table:
        server = args.database_url
        if conninfo_to_dict(server).get("dbname") is None:
            server = make_conninfo(server, dbname="postgres")
        table_part(server, args.records)


if __name__ == "__main__":
    main()
