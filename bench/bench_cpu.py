"""CPU per record in each process of `logctl send` → hub → PostgreSQL, beside raw COPY's.

Run:  .venv/bin/python bench/bench_cpu.py [--records 100000] [--runs 3] [--database-url URL]

On a machine whose cores are shared by the producer, the hub, PostgreSQL (and whatever else
is running), wall-clock rates swing with the load; CPU time per record in each process does
not, much. For each run this prints:
  send   CPU of the `logctl send` process (os.wait4), and the same less the CPU of a
         one-record send (interpreter start-up, imports, connecting)
  hub    CPU of the `logctl serve` subprocess (/proc/<pid>/stat)
  pg     CPU of the hub's PostgreSQL backends, found by application_name (PGAPPNAME)
and for raw COPY of the same number of rows the client's and its backend's CPU. Linux only;
the PostgreSQL server must run on this machine. Nothing here is asserted anywhere.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Hub, arguments, copy_in, schema  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def backends_cpu(server: str, app: str) -> float:
    """CPU seconds of the PostgreSQL backends whose application_name is ``app``."""
    with psycopg.connect(server, autocommit=True) as conn:
        pids = [r[0] for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s", (app,))]
    total = 0.0
    for pid in pids:
        try:
            total += process_cpu(pid)
        except FileNotFoundError:  # the backend ended meanwhile
            pass
    return total


def send(url: str, n: int, thread_id: str) -> tuple[float, float]:
    """Wall seconds and CPU seconds of `seq 1 n | logctl send thread_id`."""
    data = "".join(f"{i}\n" for i in range(1, n + 1)).encode()
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "logctl", "send", thread_id, "--server", url],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert proc.stdin is not None
    proc.stdin.write(data)
    proc.stdin.close()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 0, f"logctl send exited {proc.returncode}"
    return time.perf_counter() - t0, usage.ru_utime + usage.ru_stime


def copy_rows(dsn: str, n: int) -> tuple[float, float, float]:
    """Wall seconds, client CPU and backend CPU of a raw COPY of n rows (common.copy_in)."""
    with psycopg.connect(dsn) as conn:
        backend = conn.info.backend_pid
        b0, c0, t0 = process_cpu(backend), time.process_time(), time.perf_counter()
        copy_in(conn, n)
        wall = time.perf_counter() - t0
        return wall, time.process_time() - c0, process_cpu(backend) - b0


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    n, server = args.records, args.database_url
    per = lambda seconds: seconds / n * 1e6  # noqa: E731  (µs per record)
    app = f"logctl-bench-{uuid.uuid4().hex[:8]}"
    with schema(server) as dsn:
        hub = Hub(dsn, env=dict(os.environ, PGAPPNAME=app))  # its backends carry application_name
        try:
            _, start_cpu = send(hub.url, 1, "warm-up")
            print(f"a one-record send: {start_cpu:.2f} s CPU (start-up, imports, connecting)")
            for k in range(args.runs):
                h0, p0 = process_cpu(hub.proc.pid), backends_cpu(server, app)
                wall, cpu = send(hub.url, n, f"cpu-{k}")
                time.sleep(0.2)  # let the last commit's CPU be counted
                hub_cpu, pg_cpu = process_cpu(hub.proc.pid) - h0, backends_cpu(server, app) - p0
                print(f"send → hub → PostgreSQL: {n / wall:8,.0f} records/s   CPU µs/record: send {per(cpu):5.1f}"
                      f" (less start-up {per(cpu - start_cpu):4.1f})  hub {per(hub_cpu):4.1f}  PostgreSQL {per(pg_cpu):4.1f}"
                      f"  all {per(cpu + hub_cpu + pg_cpu):5.1f}")
        finally:
            hub.close()
        for _ in range(args.runs):
            wall, client, backend = copy_rows(dsn, n)
            print(f"raw COPY:                {n / wall:8,.0f} records/s   CPU µs/record: client {per(client):4.1f}"
                  f"  PostgreSQL {per(backend):4.1f}  all {per(client + backend):5.1f}")


if __name__ == "__main__":
    main()
