"""What selections (tail A B C, tail --match) cost, side by side.

Run:  .venv/bin/python bench/bench_selection.py [--records 1000000] [--database-url URL] [--before REV] [--skip-table]
                                              [--table-database bench_NAME] [--keep] [--partitioned] [--skip-fan-out]

Two parts, no assertion anywhere:

  fan-out, single threads   the hub's pure fan-out (core/fanout.py) delivering feed reads to
                            single-thread subscribers (100 threads, 3 subscribers each, 20 rows
                            per thread per read), CPU per row: the FanOut from before selections
                            (``git show REV:src/logctl/core/fanout.py``), today's with no
                            selection, with one idle glob that matches none of the threads, and
                            with one selection of three of the threads. Modes alternate round by
                            round, so the noise of a shared machine falls on all alike.
  history across threads    on a table of ``--records`` rows over 1,000 threads (in its own
                            database, ``--table-database``, dropped afterwards unless ``--keep``;
                            plain, or ``--partitioned`` daily over 60 days):
                            GET /admin/logs's store read for 3 named threads and for a glob
                            matching 10 and 90 threads, four ways taking turns: today's choice
                            (one query up to ONE_QUERY_SCANS threads x partitions, else the k-way merge),
                            each of the two forced, and the naive query (``thread_id = ANY(…)
                            ORDER BY txid DESC, id DESC LIMIT``, no records built): p50 wall time
                            and CPU per call (this process and its PostgreSQL backend, from /proc),
                            with the load average before and after.
"""

from __future__ import annotations

import importlib.util
import os
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


def backend_cpu(pids: list[int]) -> float:
    """Seconds of CPU the PostgreSQL backends ``pids`` have used (Linux /proc; 0 where it cannot be read)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def side_by_side(modes: dict[str, Any], pids: list[int], rounds: int = 6, per: int = 5) -> dict[str, tuple[float, float]]:
    """Each mode ``rounds`` x ``per`` times, the modes taking turns round by round (the order rotating):
    mode -> (p50 wall ms per call, mean CPU ms per call: this process and the backends ``pids``)."""
    names = list(modes)
    for fn in modes.values():
        fn()  # warm
    wall: dict[str, list[float]] = {name: [] for name in names}
    cpu = dict.fromkeys(names, 0.0)
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            start_cpu = time.process_time() + backend_cpu(pids)
            for _ in range(per):
                start = time.perf_counter()
                modes[name]()
                wall[name].append(time.perf_counter() - start)
            cpu[name] += time.process_time() + backend_cpu(pids) - start_cpu
    return {name: (statistics.median(wall[name]) * 1000, cpu[name] / (rounds * per) * 1000) for name in names}


def table_part(server: str, records: int, name: str, keep: bool, partitioned: bool) -> None:
    from logctl.store import LogStore
    from logctl.store.selection import ONE_QUERY_SCANS, selection_history

    admin = make_conninfo(server, dbname="postgres")
    dsn = make_conninfo(server, dbname=name)
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None
    rows, partitions = 0, 0
    if exists and keep:
        with psycopg.connect(dsn, autocommit=True) as conn:
            rows = int(conn.execute("SELECT count(*) FROM thread_logs").fetchone()[0])  # type: ignore[index]
            partitions = int(conn.execute(  # type: ignore[index]
                "SELECT count(*) FROM pg_inherits WHERE inhparent = 'thread_logs'::regclass").fetchone()[0])
    layout = "partitioned daily over 60 days" if partitioned else "plain"
    try:
        if rows != records or (partitions > 0) != partitioned:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {name}")
                conn.execute(f"CREATE DATABASE {name}")
            subprocess.run([sys.executable, "-m", "logctl", "apply-schema", "--database-url", dsn,
                            *(["--partitioned", "daily"] if partitioned else [])], check=True, capture_output=True)
            with psycopg.connect(dsn, autocommit=True) as conn:
                if partitioned:
                    conn.execute("SELECT logctl_create_partition(d) FROM generate_series(now() - interval '61 days', now(),"
                                 " interval '1 day') d")
                start = time.perf_counter()
                for low in range(1, records + 1, 50_000):  # short transactions: a long one would hold the cluster's horizon
                    conn.execute(  # 60 days up to an hour ago, in id order
                        "INSERT INTO thread_logs (thread_id, message, level, created_at)"
                        " SELECT 'build-' || (g %% 1000), 'message ' || g, 'INFO',"
                        "  now() - interval '1 hour' - (%s - g)::float8 / %s * interval '60 days' FROM generate_series(%s, %s) g",
                        (records, records, low, min(records, low + 49_999)))
                conn.execute("VACUUM ANALYZE thread_logs")
                print(f"history across threads: {records:,} rows over 1,000 threads, {layout}"
                      f" (loaded in {time.perf_counter() - start:.0f} s)")
        else:
            print(f"history across threads: {records:,} rows over 1,000 threads, {layout} (database {name}, kept from an earlier run)")
        with psycopg.connect(dsn, autocommit=True) as conn:
            partitions = int(conn.execute(  # type: ignore[index]
                "SELECT count(*) FROM pg_inherits WHERE inhparent = 'thread_logs'::regclass").fetchone()[0])
        print(f"  p50 wall ms and CPU ms per call (this process + its PostgreSQL backend), modes alternating;"
              f" load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        with LogStore(dsn, max_size=1) as store, psycopg.connect(dsn, autocommit=True) as conn:
            store.horizon()  # opens the pool's one connection
            me = conn.execute("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[index]
            pids = [int(r[0]) for r in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> %s", (name, me)).fetchall()]
            named = Selection(("build-1", "build-2", "build-3"))
            wide = Selection((), "build-?")  # build-0 … build-9: 10 threads
            many = Selection((), "build-??")  # build-10 … build-99: 90 threads

            def naive(threads: list[str]) -> None:
                with store.pool.connection() as c:
                    c.execute(
                        "SELECT id, thread_id, message, created_at, level, txid::text::int8 FROM thread_logs"
                        " WHERE thread_id = ANY(%s) ORDER BY txid DESC, id DESC LIMIT 1001", (threads,)).fetchall()

            def threads_of(selection: Selection) -> list[str]:
                """The selection's threads as the store resolves them (named, then matched in the summary and its deltas)."""
                return list(selection_history(store, selection, limit=1).threads)

            for label, selection in (("3 named threads", named), ("glob, 10 threads", wide), ("glob, 90 threads", many)):
                threads = threads_of(selection)
                got = side_by_side({
                    "today": lambda: selection_history(store, selection, limit=1000),
                    "k-way merge": lambda: selection_history(store, selection, limit=1000, one_query_scans=0),
                    "one query": lambda: selection_history(store, selection, limit=1000, one_query_scans=10**6),
                    "naive ORDER BY": lambda: naive(threads),
                }, pids)
                plan = "one query" if len(threads) * max(1, partitions) <= ONE_QUERY_SCANS else "k-way merge"
                print(f"  {label:<18} latest 1,000 ({len(threads)} threads, {partitions} partitions; today = {plan}): "
                      + "   ".join(f"{mode} {w:6.1f} ms ({c:5.1f} CPU)" for mode, (w, c) in got.items()), flush=True)
            for label, selection in (("3 named, before=", named), ("glob, 90, before=", many)):
                page = selection_history(store, selection, limit=1000)
                assert page.page.before is not None
                older = page.page.before
                got = side_by_side({
                    "today": lambda: selection_history(store, selection, limit=1000, before=older),
                    "k-way merge": lambda: selection_history(store, selection, limit=1000, before=older, one_query_scans=0),
                    "one query": lambda: selection_history(store, selection, limit=1000, before=older, one_query_scans=10**6),
                }, pids)
                print(f"  {label:<18} an older page:  "
                      + "   ".join(f"{mode} {w:6.1f} ms ({c:5.1f} CPU)" for mode, (w, c) in got.items()), flush=True)
            print(f"  load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        if not keep:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {name}")


def main() -> None:
    parser = arguments(__doc__)
    parser.set_defaults(records=1_000_000)
    parser.add_argument("--before", default=None, help="the git revision whose FanOut is the 'before' (default: found by its commit message)")
    parser.add_argument("--skip-table", action="store_true", help="only the fan-out part")
    parser.add_argument("--skip-fan-out", action="store_true", help="only the table part")
    parser.add_argument("--table-database", default="bench_multi_selection",
                        help="the database the table part creates (use one of your own), dropped afterwards unless --keep")
    parser.add_argument("--partitioned", action="store_true", help="the table part on the partitioned layout (daily, 60 days)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the table part's database, and reuse it if it already holds --records rows")
    args = parser.parse_args()
    if not args.skip_fan_out:
        fan_out_part(args.before)
    if not args.skip_table:
        server = args.database_url
        if conninfo_to_dict(server).get("dbname") is None:
            server = make_conninfo(server, dbname="postgres")
        table_part(server, args.records, args.table_database, args.keep, args.partitioned)


if __name__ == "__main__":
    main()
