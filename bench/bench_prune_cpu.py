"""CPU of one ``logctl prune --days 30`` on the partitioned layout, and of the summary fold it leaves to the hubs.

Run:  .venv/bin/python bench/bench_prune_cpu.py --make-template bench_prune_t1m --rows 1000000
      .venv/bin/python bench/bench_prune_cpu.py --template bench_prune_t1m [--prune-arg=--pace=0] [--runs 2]
      .venv/bin/python bench/bench_prune_cpu.py --drop-template bench_prune_t1m

``--make-template`` loads a daily-partitioned table (``bench.data.load``: 10,000 threads over 60
days ending an hour ago; ``--old-rows N`` puts exactly N of the rows in the 30 days before that
and the rest after, so tables of different sizes drop the same rows) into a database of its own,
schema ``t``, folded and vacuumed. Each run copies it (``CREATE DATABASE … TEMPLATE``), runs the
prune with ``PGAPPNAME=prunecpu``, and prints the CPU seconds of the prune process (``wait4``)
and of its PostgreSQL backends (``/proc``, sampled every 20 ms), then folds what the prune left
in ``thread_log_summary_delta`` as a hub would and prints that fold's backend CPU, and checks
the summary against a ``GROUP BY``. CPU time is steadier than wall time on a loaded machine.
Linux only; the server must run on this machine. Nothing here is asserted anywhere.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import data  # noqa: E402
from bench.bench_cpu import process_cpu  # noqa: E402
from bench.harness import apply_schema, schema_dsn  # noqa: E402

COPY = "bench_prune_cpu_run"
_TRUTH = "SELECT thread_id, min(created_at), max(created_at), count(*) FROM thread_logs WHERE thread_id IS NOT NULL GROUP BY 1 ORDER BY 1"
_SUMMARY = "SELECT thread_id, first_at, last_at, count FROM thread_log_summary ORDER BY 1"


def _db(server: str, name: str) -> str:
    return psycopg.conninfo.make_conninfo(server, dbname=name)


def make_template(server: str, name: str, rows: int, old_rows: int | None) -> None:
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    with psycopg.connect(_db(server, name), autocommit=True) as conn:
        conn.execute("CREATE SCHEMA t")
    dsn = schema_dsn(_db(server, name), "t")
    apply_schema(dsn, "daily")
    end = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
    if old_rows is None:
        data.load(dsn, rows)
    else:
        data.load(dsn, old_rows, days=30, end=end - dt.timedelta(days=30))
        data.load(dsn, rows - old_rows, days=30, end=end)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT logctl_summary_compact()")
        conn.execute("VACUUM ANALYZE")


def run(server: str, template: str, prune_args: list[str]) -> str:
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(COPY)))
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(
            sql.Identifier(COPY), sql.Identifier(template)))
    dsn = schema_dsn(_db(server, COPY), "t")
    seen: dict[int, float] = {}
    stop = threading.Event()

    def poll() -> None:
        with psycopg.connect(server, autocommit=True) as conn:
            while not stop.is_set():
                for (pid,) in conn.execute("SELECT pid FROM pg_stat_activity WHERE application_name = 'prunecpu'"):
                    try:
                        seen[pid] = process_cpu(pid)
                    except FileNotFoundError:
                        pass
                time.sleep(0.02)

    poller = threading.Thread(target=poll)
    poller.start()
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "logctl", "prune", "--days", "30", *prune_args, "--database-url", dsn],
                            env=dict(os.environ, PGAPPNAME="prunecpu"), capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    stop.set()
    poller.join()
    if result.returncode != 0:
        raise RuntimeError(result.stderr)
    proc = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT pg_backend_pid(), (SELECT count(*) FROM thread_log_summary_delta)").fetchone()
        assert row is not None
        pid, deltas = row
        cpu0 = process_cpu(pid)
        while (folded := conn.execute("SELECT logctl_summary_compact(10000)").fetchone()) and folded[0]:
            pass
        fold = process_cpu(pid) - cpu0
        exact = conn.execute(_TRUTH).fetchall() == conn.execute(_SUMMARY).fetchall()
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(COPY)))
    return (f"{template} {' '.join(prune_args)}: prune {wall:.2f} s wall, CPU {proc:.2f} s process +"
            f" {sum(seen.values()):.2f} s backends; {deltas} deltas left, their fold {fold:.2f} s CPU;"
            f" summary exact: {exact}; load {load:.2f}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--database-url", default=os.environ.get("LOGCTL_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    p.add_argument("--make-template", metavar="DB")
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--old-rows", type=int, default=None)
    p.add_argument("--template", metavar="DB")
    p.add_argument("--drop-template", metavar="DB")
    p.add_argument("--prune-arg", action="append", default=[], help="passed to logctl prune (repeat)")
    p.add_argument("--runs", type=int, default=1)
    args = p.parse_args()
    if args.make_template:
        make_template(args.database_url, args.make_template, args.rows, args.old_rows)
    if args.template:
        for _ in range(args.runs):
            print(run(args.database_url, args.template, args.prune_arg), flush=True)
    if args.drop_template:
        with psycopg.connect(args.database_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(args.drop_template)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
