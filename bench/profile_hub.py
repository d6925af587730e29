"""Where the hub's CPU goes while it ingests: py-spy samples a `logctl serve` under a flood.

    python -m bench.profile_hub [--records 400000] [--producers 4] [--database-url URL] [--svg FILE]

Starts a hub on a schema of its own in the harness's database, attaches py-spy (the ``bench``
extra; needs ptrace, so root or kernel.yama.ptrace_scope=0), floods it from producer
processes (:mod:`bench.producer`), and prints the functions with the most samples, by self
time and by inclusive time, per thread (the event loop, the writer thread), and the ingest rate.
The profile in docs/performance.md ("Profile of the hot path") was made with it.
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import DEFAULT_DSN, Hub
from bench.harness import Database
from bench.scenario_ingest import hub_flood


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise SystemExit("py-spy is not installed: pip install -e '.[bench]'")
    return found


def summarise(raw: Path, top: int) -> str:
    """Self and inclusive sample counts per function from py-spy's collapsed stacks."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    threads: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        frames = stack.split(";")
        total += n
        threads[frames[0]] += n
        own[_short(frames[-1])] += n
        for name in {_short(f) for f in frames[1:]}:
            inclusive[name] += n
    lines = [f"{total} samples"]
    lines += [f"  thread {name}: {100 * n / total:.1f} %" for name, n in threads.most_common(6)]
    lines.append("self time:")
    lines += [f"  {100 * n / total:5.1f} %  {name}" for name, n in own.most_common(top)]
    lines.append("inclusive time:")
    lines += [f"  {100 * n / total:5.1f} %  {name}" for name, n in inclusive.most_common(top)]
    return "\n".join(lines)


def _short(frame: str) -> str:
    """``fn (path/to/module.py:12)`` → ``fn (module.py)``."""
    name, _, where = frame.partition(" (")
    return f"{name} ({Path(where.split(':')[0]).name})" if where else name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=400_000)
    parser.add_argument("--producers", type=int, default=4)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--database-url", default=os.environ.get("LOGCTL_TEST_DATABASE_URL") or DEFAULT_DSN)
    args = parser.parse_args()
    db = Database(args.database_url, "bench_logctl")
    db.create()
    with db.schema("plain", prefix="profile") as dsn, Hub(dsn) as hub, tempfile.TemporaryDirectory() as tmp:
        hub_flood([hub.url], args.producers, 20_000)  # warm-up
        raw = Path(tmp) / "hub.txt"
        spy = subprocess.Popen([py_spy(), "record", "--pid", str(hub.proc.pid), "--rate", str(args.rate),
                                "--format", "raw", "--threads", "--output", str(raw), "--nonblocking"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            rate = hub_flood([hub.url], args.producers, args.records)
        finally:
            spy.send_signal(signal.SIGINT)
            _, err = spy.communicate(timeout=60)
        if not raw.exists():
            raise SystemExit(f"py-spy wrote no profile: {err.strip()}")
        print(f"hub ingest while sampled: {rate:,.0f} records/s ({args.producers} producers, {args.records:,} records)")
        print(summarise(raw, args.top))


if __name__ == "__main__":
    main()
