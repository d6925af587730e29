"""``logctl prune``: by age, per thread, for one thread, dry runs, the advisory lock, progress."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import psycopg
import pytest

from helpers import HOSTILE_THREAD_ID, query, records, run_cli

from logctl.store import LogStore
from logctl.store.prune import try_lock

pytestmark = pytest.mark.both_layouts  # each test runs on the plain and the partitioned thread_logs

NOW = dt.datetime.now(dt.timezone.utc)
OLD = NOW - dt.timedelta(days=40)
RECENT = NOW - dt.timedelta(days=1)


def _remaining(dsn: str) -> dict[str | None, list[str]]:
    """Messages left per thread, in id order."""
    out: dict[str | None, list[str]] = {}
    for thread_id, message in query(dsn, "SELECT thread_id, message FROM thread_logs ORDER BY id"):
        out.setdefault(thread_id, []).append(str(message))  # type: ignore[arg-type]
    return out


def _prune(dsn: str, env: dict[str, str], *args: str) -> tuple[str, str]:
    result = run_cli(["prune", *args, "--database-url", dsn], env)
    assert result.returncode == 0, result.stderr
    return result.stdout, result.stderr


def test_prune_days_deletes_only_older_rows(store: LogStore, dsn: str, cli_env: dict[str, str]) -> None:
    """--days 30 deletes every row created more than 30 days ago, in every thread, and nothing newer."""
    store.insert(records("a", 3, created_at=OLD) + records("a", 2, start=3, created_at=RECENT))
    store.insert(records("b", 4, created_at=OLD) + records("c", 1, created_at=RECENT))
    out, _ = _prune(dsn, cli_env, "--days", "30")
    assert re.search(r"^deleted 7 rows in \d+\.\d\ds \(rows created before .* in every thread\)$", out, re.M), out
    assert _remaining(dsn) == {"a": ["m3", "m4"], "c": ["m0"]}


def test_prune_keep_per_thread_keeps_n_rows_of_each_thread(store: LogStore, dsn: str, cli_env: dict[str, str]) -> None:
    """--keep-per-thread 2 keeps the newest 2 rows of EACH thread (not 2 rows in all, the seed's bug)."""
    for thread_id, n in (("a", 5), ("b", 3), ("c", 1)):
        for record in records(thread_id, n):  # one transaction each: distinct txids, as in real use
            store.insert([record])
    store.insert(records(None, 4))  # type: ignore[arg-type]  # the seed allows rows without a thread
    out, _ = _prune(dsn, cli_env, "--keep-per-thread", "2")
    assert "deleted 6 rows" in out, out
    assert _remaining(dsn) == {"a": ["m3", "m4"], "b": ["m1", "m2"], "c": ["m0"], None: ["m2", "m3"]}


def test_prune_thread_limits_the_prune_to_that_thread(store: LogStore, dsn: str, cli_env: dict[str, str]) -> None:
    """--thread ID prunes only that thread, matched literally, by age and by count."""
    store.insert(records(HOSTILE_THREAD_ID, 4, created_at=OLD) + records(HOSTILE_THREAD_ID, 3, start=4))
    store.insert(records("other", 4, created_at=OLD) + records("other", 3, start=4))
    out, _ = _prune(dsn, cli_env, "--days", "30", "--keep-per-thread", "2", "--thread", HOSTILE_THREAD_ID)
    assert "deleted 5 rows" in out and f"in thread {HOSTILE_THREAD_ID!r}" in out, out
    assert _remaining(dsn) == {HOSTILE_THREAD_ID: ["m5", "m6"], "other": [f"m{i}" for i in range(7)]}


def test_prune_dry_run_counts_and_deletes_nothing(store: LogStore, dsn: str, cli_env: dict[str, str]) -> None:
    """--dry-run prints how many rows would go, for age and per-thread limits, and deletes none."""
    store.insert(records("a", 3, created_at=OLD) + records("a", 2, start=3))
    store.insert(records("b", 6))
    out, _ = _prune(dsn, cli_env, "--days", "30", "--dry-run")
    assert out.startswith("dry run: would delete 3 rows"), out
    out, _ = _prune(dsn, cli_env, "--keep-per-thread", "4", "--dry-run")
    assert out.startswith("dry run: would delete 3 rows"), out  # a: 1 over, b: 2 over
    assert store.count() == 11


def test_prune_in_small_batches_prints_plain_progress_lines(
    store: LogStore, dsn: str, cli_env: dict[str, str], layout: str
) -> None:
    """With stderr not a terminal, each batch (or dropped partition) of a prune prints a plain progress line, not a bar."""
    store.insert(records("a", 7, created_at=OLD))
    _, err = _prune(dsn, cli_env, "--days", "30", "--batch-size", "3")
    progress = [line for line in err.splitlines() if line.startswith("logctl: prune:")]
    done = [0, 3, 6, 7] if layout == "plain" else [0, 7]  # partitioned: OLD's whole partition goes at once
    assert progress == [f"logctl: prune: deleted {n} of 7 rows" for n in done]
    assert "\x1b[" not in err and "\r" not in err
    assert store.count() == 0


def test_prune_skips_while_another_prune_holds_the_lock(store: LogStore, dsn: str, cli_env: dict[str, str]) -> None:
    """A prune started while another holds the advisory lock skips, says so, exits 0 and deletes nothing."""
    store.insert(records("a", 3, created_at=OLD))
    lock = try_lock(store, "prune")
    assert lock is not None
    try:
        out, _ = _prune(dsn, cli_env, "--days", "30")
        assert "another logctl prune holds the lock on this database; skipped" in out
        assert store.count() == 3
        assert try_lock(store, "prune") is None
    finally:
        lock.close()
    out, _ = _prune(dsn, cli_env, "--days", "30")
    assert "deleted 3 rows" in out


def test_prune_on_a_terminal_shows_a_progress_bar(store: LogStore, dsn: str, cli_env: dict[str, str]) -> None:
    """With stderr on a real terminal (a pty), prune draws a rich progress bar instead of plain lines."""
    import os
    import pty
    import subprocess
    import sys

    store.insert(records("a", 5, created_at=OLD))
    main, child = pty.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "logctl", "prune", "--days", "30", "--batch-size", "2", "--database-url", dsn],
            env={**cli_env, "TERM": "xterm", "COLUMNS": "100"}, stdout=subprocess.PIPE, stderr=child, text=True, timeout=60,
        )
        os.close(child)
        screen = b""
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # EIO: the child side is closed and drained
                break
            if not chunk:
                break
            screen += chunk
    finally:
        os.close(main)
    assert proc.returncode == 0, screen
    assert "deleted 5 rows" in proc.stdout
    assert b"pruning" in screen and b"\x1b[" in screen  # drawn with terminal control sequences
    assert b"logctl: prune: deleted" not in screen
    assert store.count() == 0


@pytest.mark.both_layouts
def test_the_keep_boundary_is_read_in_index_order_with_no_sort_of_the_thread(dsn: str) -> None:
    """`--keep-per-thread` finds a thread's boundary row from the (thread_id, txid, id) index, never by sorting the thread."""
    from logctl.store.prune import _KEEP_BOUNDARY  # the query itself: no public way to EXPLAIN it
    from logctl.store.scope import thread_filter

    where, args = thread_filter("t")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET enable_sort = off")
        conn.execute("SET enable_incremental_sort = off")
        row = conn.execute(f"EXPLAIN (FORMAT JSON) {_KEEP_BOUNDARY.format(where=where)}", (*args, 9)).fetchone()
    assert row is not None

    def nodes(plan: dict[str, Any]) -> set[str]:
        return {plan["Node Type"]}.union(*(nodes(p) for p in plan.get("Plans", [])))

    assert not nodes(row[0][0]["Plan"]) & {"Sort", "Incremental Sort"}
