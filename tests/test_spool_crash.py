"""The disk spool against real crashes: SIGKILLed producers, torn segments, a real hub and PostgreSQL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from helpers import HubProcess, query, run_cli, wait_until

from logctl.core.segments import parse_segment_name

#: A producer that logs N records to thread "crash", says so, then kills itself or waits to be killed.
PRODUCER = textwrap.dedent(
    """
    import os, signal, sys, time
    from logctl import emit_log
    n, then, pace = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    for i in range(n):
        emit_log(f"m{i}", thread_id="crash")
        if pace:  # say that the call returned, then wait a little
            print(i, flush=True)
            time.sleep(pace)
    print("emitted", flush=True)
    if then == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(120)
    """
)


def dead_url() -> str:
    """A hub URL on a port where nothing listens."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"ws://127.0.0.1:{s.getsockname()[1]}"


def producer_env(env: dict[str, str], spool: Path, **extra: str) -> dict[str, str]:
    return {**env, "LOGCTL_SPOOL_DIR": str(spool), "LOGCTL_SPOOL_FSYNC": "always", "LOGCTL_EXIT_TIMEOUT": "10", **extra}


def start_producer(env: dict[str, str], n: int, then: str, pace: float = 0.0) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", PRODUCER, str(n), then, str(pace)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def crash(env: dict[str, str], n: int) -> None:
    """Run a producer that logs ``n`` records and SIGKILLs itself."""
    proc = start_producer(env, n, "kill")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL, err
    assert out == "emitted\n"


def counts(dsn: str, thread_id: str = "crash") -> tuple[int, int]:
    """(rows, distinct (producer_id, seq) keys) of a thread."""
    [(rows, keys)] = query(dsn, "SELECT count(*), count(DISTINCT (producer_id, seq)) FROM thread_logs WHERE thread_id = %s",
                           (thread_id,))
    return int(rows), int(keys)  # type: ignore[call-overload]


def spooled_producers(spool: Path) -> set[str]:
    return {p[0] for p in map(parse_segment_name, os.listdir(spool)) if p is not None}


def test_crash_while_the_hub_is_down_then_logctl_spool_replay_stores_exactly_n(
    dsn: str, hub: HubProcess, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """N records logged with fsync=always while no hub answers, then SIGKILL: `spool replay` stores exactly N."""
    spool, n = tmp_path / "spool", 3000
    crash(producer_env(cli_env, spool, LOGCTL_SERVER=dead_url()), n)
    assert counts(dsn) == (0, 0)
    status = run_cli(["spool", "status", str(spool)], cli_env)
    assert status.returncode == 0, status.stderr
    assert "stopped" in status.stdout and f"{n} records of 1 stopped producer(s)" in status.stdout
    result = run_cli(["spool", "replay", str(spool), "--server", hub.url], cli_env)
    assert result.returncode == 0, result.stderr
    print(f"crash with hub down: {n} emitted, 0 stored before replay, {counts(dsn)[0]} after")
    assert counts(dsn) == (n, n)
    assert f"replayed {n} records" in result.stderr
    assert spooled_producers(spool) == set() and os.listdir(spool) == []


def test_crash_then_a_later_producer_on_the_same_directory_replays_it(
    dsn: str, hub: HubProcess, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """After a SIGKILLed producer, the next process that logs with the same spool directory ships its records once."""
    spool, n = tmp_path / "spool", 2000
    crash(producer_env(cli_env, spool, LOGCTL_SERVER=dead_url()), n)
    later = subprocess.run(
        [sys.executable, "-c", "from logctl import emit_log; emit_log('later', thread_id='after')"],
        env=producer_env(cli_env, spool, LOGCTL_SERVER=hub.url), capture_output=True, text=True, timeout=120,
    )
    assert later.returncode == 0, later.stderr
    assert counts(dsn) == (n, n)
    assert counts(dsn, "after") == (1, 1)
    assert os.listdir(spool) == []


def test_crash_mid_delivery_stores_exactly_n_after_replay(
    dsn: str, hub: HubProcess, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """Killed while shipping to a live hub, some records committed: a replay completes them to exactly N, no duplicate."""
    spool, n = tmp_path / "spool", 3000
    proc = start_producer(producer_env(cli_env, spool, LOGCTL_SERVER=hub.url), n, "wait", pace=0.001)
    try:
        wait_until(lambda: counts(dsn)[0] >= 300, timeout=60)
    finally:
        proc.kill()
        out, _ = proc.communicate(timeout=30)
    returned = int(out.split()[-1]) + 1  # emit_log calls known to have returned before the kill
    before = counts(dsn)[0]
    status = run_cli(["spool", "status", str(spool)], cli_env)
    result = run_cli(["spool", "replay", str(spool), "--server", hub.url], cli_env)
    assert result.returncode == 0, result.stderr
    print(f"crash mid-delivery: {returned} emit_log calls returned, {before} stored at the kill; "
          f"{status.stdout.splitlines()[-1]}; {result.stderr.splitlines()[-1]}; {counts(dsn)[0]} stored after")
    assert 0 < before < n
    rows, keys = counts(dsn)
    assert rows == keys
    assert rows in (returned, returned + 1)  # every call that returned, and perhaps the one under way at the kill
    assert sorted(int(s) for (s,) in query(dsn, "SELECT seq FROM thread_logs WHERE thread_id = 'crash'")) == list(range(rows))  # type: ignore[call-overload]


def test_crash_mid_delivery_after_all_n_were_logged_stores_exactly_n(
    dsn: str, hub: HubProcess, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """All N logged, some committed, then SIGKILL: exactly N rows after the replay (resent ones are not doubled)."""
    spool, n = tmp_path / "spool", 20_000
    env = producer_env(cli_env, spool, LOGCTL_SERVER=hub.url, LOGCTL_SPOOL_FSYNC="interval")
    proc = start_producer(env, n, "wait")
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "emitted\n"
    finally:
        proc.kill()
        proc.communicate(timeout=30)
    before = counts(dsn)[0]
    result = run_cli(["spool", "replay", str(spool), "--server", hub.url], cli_env)
    assert result.returncode == 0, result.stderr
    print(f"all logged then killed: {before} stored at the kill; {result.stderr.splitlines()[-1]}; {counts(dsn)[0]} after")
    assert counts(dsn) == (n, n)


def test_a_torn_segment_replays_up_to_the_torn_record_and_counts_the_damage(
    dsn: str, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """A segment cut in the middle of its last record gives up the records before it; the damage is reported."""
    spool, n = tmp_path / "spool", 100
    crash(producer_env(cli_env, spool, LOGCTL_SERVER=dead_url()), n)
    [segment] = [p for p in spool.iterdir() if p.suffix == ".seg"]
    os.truncate(segment, segment.stat().st_size - 3)
    status = run_cli(["spool", "status", str(spool)], cli_env)
    assert "1 tail(s)" in status.stdout and f"{n - 1} records of 1 stopped" in status.stdout
    result = run_cli(["spool", "replay", str(spool), "--database-url", dsn], cli_env)
    assert result.returncode == 0, result.stderr
    assert counts(dsn) == (n - 1, n - 1)
    assert "skipped 1 damaged segment tail(s)" in result.stderr
    assert query(dsn, "SELECT max(seq) FROM thread_logs") == [(n - 2,)]


def test_a_live_owners_segments_are_never_replayed_by_another_process(
    dsn: str, hub: HubProcess, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """Two processes on one directory: the second neither replays nor deletes the first's segments while it lives."""
    spool, n = tmp_path / "spool", 50
    first = start_producer(producer_env(cli_env, spool, LOGCTL_SERVER=dead_url()), n, "wait")
    try:
        assert first.stdout is not None and first.stdout.readline() == "emitted\n"
        owner = spooled_producers(spool)
        second = subprocess.run(
            [sys.executable, "-c", "from logctl import emit_log; emit_log('second', thread_id='after')"],
            env=producer_env(cli_env, spool, LOGCTL_SERVER=hub.url), capture_output=True, text=True, timeout=120,
        )
        assert second.returncode == 0, second.stderr
        replay = run_cli(["spool", "replay", str(spool), "--server", hub.url], cli_env)
        assert replay.returncode == 0 and "left 1 live producer(s) alone" in replay.stderr
        status = run_cli(["spool", "status", str(spool)], cli_env)
        assert "live" in status.stdout and f"{n} are held by 1 live one(s)" in status.stdout
        assert counts(dsn) == (0, 0) and counts(dsn, "after") == (1, 1)
        assert spooled_producers(spool) == owner
    finally:
        first.kill()
        first.communicate(timeout=30)
    replay = run_cli(["spool", "replay", str(spool), "--server", hub.url], cli_env)
    assert replay.returncode == 0, replay.stderr
    assert counts(dsn) == (n, n)


def test_the_direct_to_postgresql_path_spools_and_replays_too(dsn: str, cli_env: dict[str, str], tmp_path: Path) -> None:
    """A producer writing straight to an unreachable PostgreSQL spools to disk; a replay to the database stores exactly N."""
    spool, n = tmp_path / "spool", 500
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        nowhere = f"postgresql://postgres@127.0.0.1:{s.getsockname()[1]}/test?connect_timeout=1"
    crash(producer_env(cli_env, spool, DATABASE_URL=nowhere), n)
    result = run_cli(["spool", "replay", str(spool), "--database-url", dsn], cli_env)
    assert result.returncode == 0, result.stderr
    assert counts(dsn) == (n, n)


def test_a_replay_with_no_destination_exits_non_zero_and_keeps_the_files(cli_env: dict[str, str], tmp_path: Path) -> None:
    """`spool replay` to a hub that never answers fails after --timeout and leaves the segments for later."""
    spool = tmp_path / "spool"
    crash(producer_env(cli_env, spool, LOGCTL_SERVER=dead_url()), 10)
    before = sorted(os.listdir(spool))
    result = run_cli(["spool", "replay", str(spool), "--server", dead_url(), "--timeout", "1"], cli_env)
    assert result.returncode == 4, result.stderr
    assert "10 spooled records were not committed" in result.stderr
    assert sorted(os.listdir(spool)) == before


def test_send_with_a_spool_dir_leaves_nothing_behind_once_committed(
    dsn: str, hub: HubProcess, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """`logctl send --spool-dir` commits every line and removes its segments and lock when done."""
    spool = tmp_path / "spool"
    lines = "".join(f"line {i}\n" for i in range(5000))
    result = run_cli(["send", "crash", "--server", hub.url, "--spool-dir", str(spool)], cli_env, input=lines)
    assert result.returncode == 0, result.stderr
    assert counts(dsn) == (5000, 5000)
    assert os.listdir(spool) == []


@pytest.mark.parametrize("policy", ["drop", "block"])
def test_the_size_cap_applies_the_full_policy(dsn: str, cli_env: dict[str, str], tmp_path: Path, policy: str) -> None:
    """A disk spool at its size cap drops (counted) or blocks the caller, as the buffer policy says."""
    code = textwrap.dedent(
        f"""
        from logctl import configure_producer, emit_log, producer_stats
        configure_producer(server={dead_url()!r}, spool_dir={str(tmp_path / 'spool')!r}, policy={policy!r}, exit_timeout=0)
        import threading
        def work():
            for i in range(1000):
                emit_log("x" * 100, thread_id="cap")
        t = threading.Thread(target=work, daemon=True)
        t.start()
        t.join(3)
        s = producer_stats()
        print(t.is_alive(), s.accepted, s.dropped, flush=True)
        """
    )
    env = {**cli_env, "LOGCTL_SPOOL_MAX_BYTES": "20000"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    alive, accepted, dropped = out.stdout.split()
    assert 50 < int(accepted) < 200
    if policy == "drop":
        assert alive == "False" and int(accepted) + int(dropped) == 1000
        assert f"{dropped} log records were dropped" in out.stderr
    else:
        assert alive == "True" and int(dropped) == 0
