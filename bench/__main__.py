"""logctl's benchmark harness: every scenario against the same PostgreSQL, side by side with the original design.

    python -m bench                       # everything, default sizes (long: see docs/performance.md)
    python -m bench --quick               # a smoke run in under a minute; small sizes, no timing asserted
    python -m bench --scenarios ingest,live --reps 5
    python -m bench --scenarios tables --sizes 100000,1000000,10000000 --layouts plain,daily

Scenarios: ingest (1), tables (2 history, 3 retention, and issue 9's GET /admin/runs), live (4),
tail (5), producers (6). Each run makes a database of its own on the server (default
``bench_logctl``; never the shared ``test`` database) and drops it at the end unless
``--keep-database``. Prints a table of medians over ``--reps`` repetitions with ratios, writes
``results.json`` and ``table.md``, and draws one PNG per scenario into ``--out`` (default
``bench/results``; ``bench/results/quick`` with ``--quick``) when matplotlib is installed
(``pip install -e '.[bench]'``); without it the charts are skipped and it says so.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from bench import charts
from bench.common import DEFAULT_DSN
from bench.harness import (
    Database, Measure, load, log, machine, markdown_table, measure_of, read_json, server_version, table, write_json,
)

SCENARIOS = ("ingest", "producers", "tables", "live", "tail")
HERE = Path(__file__).resolve().parent


def ints(text: str) -> list[int]:
    return [int(float(x)) for x in text.split(",") if x.strip()]


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog="\n".join(__doc__.splitlines()[2:]))
    p.add_argument("--quick", action="store_true", help="small sizes, one repetition: a smoke run in under a minute")
    p.add_argument("--database-url", default=os.environ.get("LOGCTL_TEST_DATABASE_URL") or DEFAULT_DSN,
                   help="the server (a database on it to connect to first); default LOGCTL_TEST_DATABASE_URL, else %(default)s")
    p.add_argument("--database", default=None, help="the harness's own database (default bench_logctl)")
    p.add_argument("--keep-database", action="store_true",
                   help="do not drop the harness's database at the end, nor the tables scenario's schemas (see --schema)")
    p.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated, of: " + ", ".join(SCENARIOS))
    p.add_argument("--reps", type=int, default=None, help="repetitions of each measurement (default 3; 1 with --quick)")
    p.add_argument("--out", type=Path, default=None, help="where results.json, table.md and the charts go")
    p.add_argument("--fresh", action="store_true", help="drop the other scenarios' results from results.json")
    p.add_argument("--charts-only", action="store_true",
                   help="run nothing: redraw the charts and table.md from --out's results.json (after --merge)")
    p.add_argument("--merge", type=Path, nargs="*", default=[], metavar="DIR",
                   help="with --charts-only: fold these runs' results.json into --out's (same scenario, variant and"
                        " parameters: the merged one wins), e.g. the layouts run side by side")
    g = p.add_argument_group("ingest and producers")
    g.add_argument("--records", type=int, default=None, help="records per ingest run (default 200,000)")
    g.add_argument("--seed-records", type=int, default=None, help="records per run of the (slow) original design (5,000)")
    g.add_argument("--producers", type=int, default=None, help="producer processes for ingest (default 4)")
    g.add_argument("--many-producers", type=int, default=None, help="processes for scenario 6 (default 50)")
    g.add_argument("--rate-each", type=ints, default=None,
                   help="records/s each of them sends, one run per value (default 1,000 and 200)")
    g.add_argument("--seconds", type=float, default=None, help="length of each paced run (default 10)")
    g = p.add_argument_group("tables: history, retention, the list of threads")
    g.add_argument("--sizes", type=ints, default=None, help="table sizes for history (default 100k,1M,10M,50M)")
    g.add_argument("--retention-sizes", type=ints, default=None, help="sizes to prune at (default 10M,50M)")
    g.add_argument("--layouts", default=None, help="plain,daily,weekly (default plain,daily; partitioned ones need apply-schema --partitioned)")
    g.add_argument("--schema", default=None,
                   help="grow and measure this existing schema of --database (kept) instead of a new one; one layout")
    g.add_argument("--threads", type=int, default=10_000, help="threads the rows are spread over (default 10,000)")
    g.add_argument("--requests", type=int, default=None, help="requests per latency figure (default 200)")
    g.add_argument("--bulk-load", action=argparse.BooleanOptionalAction, default=None,
                   help="grow the tables with the indexes dropped and built again after, the summary triggers off and"
                        " the summary counted once, then VACUUM ANALYZE (bench/bulk.py); default: for growths of"
                        " 2,000,000 rows or more. --no-bulk-load: always through every index and trigger")
    g = p.add_argument_group("live and tail")
    g.add_argument("--rates", type=ints, default=None, help="live rates (default 1k,5k,20k)")
    g.add_argument("--fanouts", type=ints, default=None, help="subscriber counts at 5k/s (default 1,100,1000)")
    g.add_argument("--tail-records", type=int, default=None, help="records in the tailed thread (default 100k)")
    g.add_argument("--memory-records", type=int, default=None, help="records for the memory figure (default 1M)")
    args = p.parse_args(argv)
    q = args.quick
    defaults = {
        "reps": 1 if q else 3, "records": 20_000 if q else 200_000, "seed_records": 100 if q else 5_000,
        "producers": 2 if q else 4, "many_producers": 3 if q else 50, "seconds": 1.0 if q else 10.0,
        "sizes": [20_000] if q else [100_000, 1_000_000, 10_000_000, 50_000_000],
        "retention_sizes": [20_000] if q else [10_000_000, 50_000_000],
        "layouts": "plain,daily", "requests": 10 if q else 200,
        "rates": [] if q else [1000, 5000, 20000], "fanouts": [10] if q else [1, 100, 1000],
        "tail_records": 2_000 if q else 100_000, "memory_records": 10_000 if q else 1_000_000,
    }
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.rate_each is None:
        args.rate_each = [500] if q else [1000, 200]
    args.out = args.out or (HERE / "results" / ("quick" if q else ""))
    args.database = args.database or ("bench_logctl_quick_" + uuid.uuid4().hex[:6] if q else "bench_logctl")
    args.scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        p.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    return args


def order(measures: list[Measure]) -> list[Measure]:
    """In the order of the scenarios' numbers in docs/performance.md."""
    rank = {"ingest": 0, "history": 1, "runs": 2, "retention": 3, "load": 4, "live": 5, "tail": 6, "producers": 7}
    return sorted(measures, key=lambda m: rank.get(m.scenario, 9))


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE).stdout.strip()
    except OSError:
        return "?"


def charts_only(args: argparse.Namespace) -> int:
    """Fold ``--merge`` runs into ``--out``'s results.json; redraw every chart and table.md from it."""
    path = args.out / "results.json"
    data = json.loads(path.read_text()) if path.exists() else {"runs": {}, "measures": []}
    runs = data.get("runs") or {}
    key = lambda m: (m["scenario"], m["name"], json.dumps(m["params"], sort_keys=True))  # noqa: E731
    merged = {key(m): m for m in data["measures"]}
    for source in args.merge:
        other = json.loads((source / "results.json").read_text())
        for name, meta in (other.get("runs") or {}).items():
            runs[f"{name} ({source.name})"] = meta
        merged.update({key(m): m for m in other["measures"]})
    measures = order([measure_of(m) for m in merged.values()])
    write_json(path, measures, {"runs": runs})
    (args.out / "table.md").write_text(markdown_table(measures) + "\n")
    print(table(measures))
    if not charts.available():
        print("charts skipped: matplotlib is not installed (pip install -e '.[bench]')")
        return 0
    for path in charts.draw(measures, args.out, "python -m bench: see docs/performance.md for the runs, the machine and its load"):
        print(f"chart: {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.charts_only:
        return charts_only(args)
    started = time.perf_counter()
    db = Database(args.database_url, args.database)
    db.create()
    layouts = [x for x in args.layouts.split(",") if x]
    skipped = [x for x in layouts if not db.supports(x)]
    layouts = [x for x in layouts if x not in skipped]
    meta = {
        "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "commit": git_commit(),
        "argv": sys.argv[1:], "machine": machine(), "postgresql": server_version(db.dsn), "load_at_start": load(),
        "layouts_skipped": skipped,
    }
    measures: list[Measure] = []
    loads: dict[str, str] = {}
    # results.json keeps the latest run of every scenario: a run of some scenarios replaces
    # theirs and keeps the others' (with the meta of the run that made them).
    kept, runs = ([], {}) if args.fresh else read_json(args.out / "results.json", args.scenarios)

    def report(ms: list[Measure]) -> None:
        measures.extend(ms)
        meta["loads"] = loads
        write_json(args.out / "results.json", kept + measures, {"runs": {**runs, **{s: meta for s in args.scenarios}}})

    if skipped:
        log(f"layouts skipped (this logctl's apply-schema has no --partitioned): {', '.join(skipped)}")
    from bench import scenario_ingest, scenario_live, scenario_tables, scenario_tail

    try:
        for scenario in args.scenarios:
            loads[scenario] = load()
            log(f"scenario {scenario} (load {loads[scenario]})")
            if scenario == "ingest":
                report(scenario_ingest.ingest(db, records=args.records, seed_records=args.seed_records,
                                              producers=args.producers, reps=args.reps))
            elif scenario == "producers":
                for rate in args.rate_each:
                    report(scenario_ingest.many_producers(db, producers=args.many_producers, rate=rate,
                                                          seconds=args.seconds, reps=args.reps))
            elif scenario == "tables":
                for layout in layouts:
                    scenario_tables.growing_table(
                        db, layout, sizes=args.sizes, retention_sizes=args.retention_sizes, threads=args.threads,
                        requests=args.requests, ingest_seconds=min(args.seconds, 2.0) if args.quick else max(args.seconds, 20.0), report=report,
                        reuse=args.schema, bulk=args.bulk_load, keep=args.keep_database)
            elif scenario == "live":
                report(scenario_live.live(db, rates=args.rates, fanouts=args.fanouts, fanout_rate=2000 if args.quick else 5000,
                                          seconds=args.seconds, reps=args.reps, quick=args.quick))
            elif scenario == "tail":
                report(scenario_tail.tail(db, records=args.tail_records, memory_records=args.memory_records,
                                          reps=args.reps, quick=args.quick))
            loads[scenario] += f" → {load()}"
    finally:
        if not args.keep_database:
            db.drop()
    meta["seconds"] = round(time.perf_counter() - started, 1)
    meta["load_at_end"] = load()
    report([])
    print(table(measures))
    (args.out / "table.md").write_text(markdown_table(order(kept + measures)) + "\n")
    print(f"\nload average (1, 5, 15 min) per scenario, start → end: "
          + "; ".join(f"{k} {v}" for k, v in loads.items()))
    print(f"wrote {args.out / 'results.json'} and {args.out / 'table.md'} in {meta['seconds']} s")
    if charts.available():
        subtitle = f"{meta['started']}  {meta['machine']['cores']} cores  load {meta['load_at_start']}  commit {meta['commit']}"
        for path in charts.draw(measures, args.out, subtitle):
            print(f"chart: {path}")
    else:
        print("charts skipped: matplotlib is not installed (pip install -e '.[bench]')")
    return 0


if __name__ == "__main__":
    sys.exit(main())
