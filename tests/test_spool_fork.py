"""Forked and spawned workers ship their logs without a flush_logs() call: each has its own producer."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from helpers import HubProcess, query

#: A multiprocessing pool whose workers log and return; the script never calls flush_logs().
POOL = textwrap.dedent(
    """
    import multiprocessing, os, sys
    from logctl import emit_log

    def work(task):
        for i in range(PER_TASK):
            emit_log(f"task {task} line {i}", thread_id="pool")
        return os.getpid()

    PER_TASK = 200

    if __name__ == "__main__":
        method, tasks, parent_logs = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "yes"
        if parent_logs:
            emit_log("parent before the pool", thread_id="pool")
        ctx = multiprocessing.get_context(method)
        pool = ctx.Pool(3)
        pids = set(pool.map(work, range(tasks), chunksize=1))
        pool.close()
        pool.join()
        print(len(pids), flush=True)
    """
)


def run_pool(script: Path, env: dict[str, str], method: str, tasks: int, parent_logs: bool) -> int:
    """Run the pool script; how many distinct worker processes ran tasks.

    The exit flush may take up to 30 s: on a loaded machine, 4 processes connecting at
    once can take longer than the default 5 s (the timeout bounds a flush that does run;
    without one, an ``os._exit`` loses the records whatever the timeout).
    """
    env = {**env, "LOGCTL_EXIT_TIMEOUT": "30"}
    result = subprocess.run([sys.executable, str(script), method, str(tasks), "yes" if parent_logs else "no"],
                            env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    assert "not delivered" not in result.stderr, result.stderr
    return int(result.stdout)


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "pool_script.py"
    path.write_text(POOL, "utf-8")
    assert "flush_logs" not in POOL
    return path


@pytest.mark.parametrize("method", ["fork", "spawn"])
@pytest.mark.parametrize("parent_logs", [True, False], ids=["parent-logs", "parent-silent"])
def test_pool_workers_ship_every_record_without_flush_logs(
    dsn: str, hub: HubProcess, cli_env: dict[str, str], script: Path, method: str, parent_logs: bool
) -> None:
    """Every record logged by pool workers (fork or spawn) is stored once, each worker under its own producer id."""
    tasks = 9
    env = {**cli_env, "LOGCTL_SERVER": hub.url}
    workers = run_pool(script, env, method, tasks, parent_logs)
    expected = tasks * 200 + parent_logs
    [(rows, keys, producers)] = query(
        dsn, "SELECT count(*), count(DISTINCT (producer_id, seq)), count(DISTINCT producer_id) FROM thread_logs"
    )
    assert (rows, keys) == (expected, expected)
    assert producers == workers + parent_logs


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_pool_workers_with_a_spool_dir_get_their_own_segments_and_leave_none(
    dsn: str, hub: HubProcess, cli_env: dict[str, str], script: Path, tmp_path: Path, method: str
) -> None:
    """With a spool directory, each worker spools under its own producer and removes its files at exit."""
    spool = tmp_path / "spool"
    env = {**cli_env, "LOGCTL_SERVER": hub.url, "LOGCTL_SPOOL_DIR": str(spool)}
    workers = run_pool(script, env, method, 6, True)
    [(rows, producers)] = query(dsn, "SELECT count(*), count(DISTINCT producer_id) FROM thread_logs")
    assert rows == 6 * 200 + 1 and producers == workers + 1
    assert os.listdir(spool) == []


def test_a_forked_child_that_exits_with_os_exit_after_multiprocessing_finalizers_ships_its_records(
    dsn: str, hub: HubProcess, cli_env: dict[str, str]
) -> None:
    """A multiprocessing.Process child (fork) logs and returns: it exits through os._exit, and its records are stored."""
    code = textwrap.dedent(
        """
        import multiprocessing
        from logctl import emit_log

        def child():
            for i in range(1000):
                emit_log(f"child {i}", thread_id="proc")

        if __name__ == "__main__":
            p = multiprocessing.get_context("fork").Process(target=child)
            p.start()
            p.join()
            assert p.exitcode == 0
        """
    )
    result = subprocess.run([sys.executable, "-c", code], env={**cli_env, "LOGCTL_SERVER": hub.url},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert query(dsn, "SELECT count(*) FROM thread_logs WHERE thread_id = 'proc'") == [(1000,)]
