"""``logctl tail`` in plain and JSON mode, as a real subprocess against a real hub."""

from __future__ import annotations

import datetime as dt
import json
import queue
import shlex
import subprocess
import sys
import time

import pytest

from helpers import HubProcess, TailProcess, run_cli, wait_until
from logctl.core.records import LogRecord
from logctl.store import LogStore

T0 = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
LEVELS = ("DEBUG", "INFO", "WARN", "ERROR")


def recs(thread: str, start: int, n: int) -> list[LogRecord]:
    return [
        LogRecord(thread, f"m{i}" + ("\n  at line 2" if i % 10 == 9 else ""), LEVELS[i % 4], T0 + dt.timedelta(seconds=i))
        for i in range(start, start + n)
    ]


def test_no_follow_prints_history_one_line_per_record_and_exits(hub: HubProcess, store: LogStore, cli_env: dict[str, str]) -> None:
    """Plain --no-follow prints `time level message`, one line per record, in UTC, then exits 0."""
    store.insert(recs("t1", 0, 12))
    out = run_cli(["tail", "t1", "--no-follow", "--server", hub.url], cli_env)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 12
    assert lines[0] == "2026-01-02T03:04:05.000Z DEBUG m0"
    assert lines[9] == "2026-01-02T03:04:14.000Z INFO  m9\\n  at line 2"
    assert "\x1b[" not in out.stdout  # NO_COLOR is set in cli_env, and stdout is a pipe


def test_json_no_follow_has_the_history_shape_and_respects_n(hub: HubProcess, store: LogStore, cli_env: dict[str, str]) -> None:
    """--json prints JSON Lines in the history API's record shape; -n keeps the latest N."""
    store.insert(recs("t1", 0, 30))
    out = run_cli(["tail", "t1", "--no-follow", "--json", "-n", "25", "--server", hub.url], cli_env)
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["message"].split("\n")[0] for r in rows] == [f"m{i}" for i in range(5, 30)]
    assert set(rows[0]) >= {"id", "thread_id", "message", "created_at", "level", "cursor"}
    assert rows[0]["created_at"] == "2026-01-02T03:04:10Z"


def test_filters_and_since_apply_to_plain_output(hub: HubProcess, store: LogStore, cli_env: dict[str, str]) -> None:
    """--level, --include, --exclude and --since filter the printed records."""
    store.insert(recs("t1", 0, 40))
    out = run_cli(["tail", "t1", "--no-follow", "--level", "warn", "--include", "m[12]", "--exclude", "m2",
                   "--server", hub.url], cli_env)
    assert [line.split(None, 2)[2] for line in out.stdout.splitlines()] == ["m10", "m11", "m14", "m15", "m18", "m19\\n  at line 2"]
    since = (T0 + dt.timedelta(seconds=35)).isoformat()
    out = run_cli(["tail", "t1", "--no-follow", "--since", since, "--server", hub.url], cli_env)
    assert [line.split(None, 2)[2] for line in out.stdout.splitlines()] == ["m35", "m36", "m37", "m38", "m39\\n  at line 2"]


def test_color_always_and_never(hub: HubProcess, store: LogStore, cli_env: dict[str, str]) -> None:
    """--color always colours even through a pipe and despite NO_COLOR; never does not."""
    store.insert(recs("t1", 3, 1))
    out = run_cli(["tail", "t1", "--no-follow", "--color", "always", "--server", hub.url], cli_env)
    assert "\x1b[1;31mERROR\x1b[0m" in out.stdout
    out = run_cli(["tail", "t1", "--no-follow", "--color", "never", "--server", hub.url], cli_env)
    assert "\x1b[" not in out.stdout


def test_follow_prints_history_then_live_records(hub: HubProcess, store: LogStore, cli_env: dict[str, str], tails: list[TailProcess]) -> None:
    """Without --no-follow, plain mode keeps printing records as they are committed."""
    store.insert(recs("t1", 0, 5))
    tail = TailProcess(["t1", "--json", "--server", hub.url], cli_env)
    tails.append(tail)
    assert [json.loads(x)["message"] for x in tail.take(5)] == [f"m{i}" for i in range(5)]
    store.insert(recs("t1", 5, 5))
    assert [json.loads(x)["message"] for x in tail.take(5)] == [f"m{i}" for i in range(5, 9)] + ["m9\n  at line 2"]
    assert tail.proc.poll() is None


def test_hub_restart_while_following_loses_and_doubles_nothing(
    hub: HubProcess, store: LogStore, cli_env: dict[str, str], tails: list[TailProcess]
) -> None:
    """Records written while the hub is down arrive once after it is back, with a note on stderr."""
    store.insert(recs("t1", 0, 10))
    tail = TailProcess(["t1", "--json", "--server", hub.url], cli_env)
    tails.append(tail)
    got = tail.take(10)
    hub.stop()
    store.insert(recs("t1", 10, 10))
    hub.start()
    store.insert(recs("t1", 20, 10))
    got += tail.take(20, timeout=30)
    ids = [json.loads(x)["id"] for x in got]
    assert [json.loads(x)["message"].split("\n")[0] for x in got] == [f"m{i}" for i in range(30)]
    assert len(set(ids)) == 30
    with pytest.raises(queue.Empty):
        tail.lines.get(timeout=0.5)
    assert any("reconnected: " in line and "caught up" in line for line in tail.err), tail.err


def test_unknown_thread_is_named_and_unreachable_hub_is_one_line(hub: HubProcess, cli_env: dict[str, str]) -> None:
    """An empty thread is named on stderr (exit 0); no hub is one error line, exit 4, no traceback."""
    out = run_cli(["tail", "nobody", "--no-follow", "--server", hub.url], cli_env)
    assert out.returncode == 0 and out.stdout == ""
    assert "thread 'nobody' has no records yet" in out.stderr
    out = run_cli(["tail", "t1", "--no-follow", "--server", "ws://127.0.0.1:9"], cli_env)
    assert out.returncode == 4
    assert out.stderr.startswith("logctl: error: no logctl hub answers at http://127.0.0.1:9")
    assert "Traceback" not in out.stderr and len(out.stderr.splitlines()) == 1


def test_bad_options_are_config_errors(cli_env: dict[str, str]) -> None:
    """A bad regex, --since, --color or --server is named in one line with exit code 2."""
    for args, needle in [
        (["--include", "("], "--include '(' is not a valid regular expression"),
        (["--since", "soon"], "--since 'soon'"),
        (["--color", "pink"], "--color must be auto, always or never"),
        (["--server", "ftp://x"], "must start with ws://, wss://, http:// or https://"),
        (["--level", "loud"], "unknown level"),
    ]:
        out = run_cli(["tail", "t1", "--no-follow", *args], cli_env)
        assert out.returncode == 2, (args, out.stderr)
        assert needle in out.stderr and "Traceback" not in out.stderr


def test_records_shown_pending_during_a_database_outage_are_not_shown_again(
    dsn: str, store: LogStore, cli_env: dict[str, str], tails: list[TailProcess]
) -> None:
    """While the hub cannot write, tail shows records as pending; once stored they do not repeat."""
    import psycopg
    from websockets.sync.client import connect

    from helpers import limited_role

    store.insert(recs("t1", 0, 3))
    with limited_role(dsn, "SELECT", "INSERT") as role_dsn:
        with psycopg.connect(dsn, autocommit=True) as admin:
            role = str(psycopg.conninfo.conninfo_to_dict(role_dsn)["user"])
            admin.execute(f'GRANT USAGE ON ALL SEQUENCES IN SCHEMA {admin.execute("SELECT current_schema()").fetchone()[0]} TO "{role}"')  # type: ignore[index]
            hub = HubProcess(role_dsn, cli_env, "--no-migrate")
            try:
                tail = TailProcess(["t1", "--json", "--server", hub.url], cli_env)
                tails.append(tail)
                assert len(tail.take(3)) == 3
                with connect(hub.url + "/ws") as ws:

                    def publish(start: int, n: int) -> None:
                        ws.send(json.dumps({"type": "publish", "producer": "p1", "records": [
                            {"seq": i, "thread_id": "t1", "message": f"live {i}"} for i in range(start, start + n)]}))

                    admin.execute(f'REVOKE INSERT ON thread_logs FROM "{role}"')
                    publish(0, 5)
                    pending = [json.loads(x) for x in tail.take(5)]
                    assert [(r["message"], r["id"], r.get("cursor")) for r in pending] == [(f"live {i}", None, None) for i in range(5)]
                    admin.execute(f'GRANT INSERT ON thread_logs TO "{role}"')
                    wait_until(lambda: any("database is back" in line for line in tail.err), timeout=30)
                    publish(5, 2)
                    after = [json.loads(x) for x in tail.take(2, timeout=30)]
                    assert [r["message"] for r in after] == ["live 5", "live 6"]
                    assert all(isinstance(r["id"], int) for r in after)
                    with pytest.raises(queue.Empty):
                        tail.lines.get(timeout=1)  # live 0..4 were committed, and not shown twice
                assert store.count("t1") == 10
                assert any("cannot write to its database" in line for line in tail.err), tail.err
                assert all("Traceback" not in line for line in tail.err)
            finally:
                hub.kill()


def test_following_into_head_ends_quietly_when_the_reader_goes(hub: HubProcess, store: LogStore, cli_env: dict[str, str]) -> None:
    """`logctl tail t1 | head -3` in follow mode exits 0 once head has gone and a live record arrives, without reconnecting."""
    store.insert(recs("t1", 0, 3))  # head prints these and exits; tail then follows
    proc = subprocess.Popen(
        ["bash", "-c", f"set -o pipefail; {shlex.quote(sys.executable)} -m logctl tail t1 --plain --server {hub.url} | head -3"],
        env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        i = 3
        deadline = time.monotonic() + 30
        while proc.poll() is None:  # a live record's write meets the closed pipe
            assert time.monotonic() < deadline, "tail kept running after head exited"
            store.insert(recs("t1", i, 1))
            i += 1
            time.sleep(0.2)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert [line.split(None, 2)[2] for line in out.splitlines()] == ["m0", "m1", "m2"]
    assert proc.returncode == 0, err
    assert "reconnecting" not in err and "Broken pipe" not in err and "Traceback" not in err, err
