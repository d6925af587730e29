"""Clients send their token (LOGCTL_TOKEN / LOGCTL_TOKEN_FILE) and stop at once, in one line, when the hub refuses it."""

from __future__ import annotations

import json
import logging
import os
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import HubProcess, run_cli, scoped_tokens, wait_for_horizon

REFUSED_EXIT = 5


@pytest.fixture
def tokens(tmp_path: Path) -> dict[str, str]:
    """Tokens by scope name (helpers.scoped_tokens)."""
    return scoped_tokens(tmp_path)


@pytest.fixture
def secure_hub(dsn: str, cli_env: dict[str, str], tokens: dict[str, str]) -> Iterator[HubProcess]:
    """A real hub that requires the tokens of :func:`tokens`."""
    proc = HubProcess(dsn, cli_env, "--tokens-file", tokens["path"])
    yield proc
    proc.close()


def _env(cli_env: dict[str, str], hub: HubProcess, token: str | None) -> dict[str, str]:
    env = {k: v for k, v in cli_env.items() if k not in ("LOGCTL_TOKEN", "LOGCTL_TOKEN_FILE")}
    env["LOGCTL_SERVER"] = hub.url
    if token is not None:
        env["LOGCTL_TOKEN"] = token
    return env


def _one_refusal_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "the hub refused the token" in lines[0] and "Traceback" not in stderr
    return lines[0]


def test_send_and_tail_work_with_the_right_tokens(
    secure_hub: HubProcess, cli_env: dict[str, str], tokens: dict[str, str], tmp_path: Path, dsn: str
) -> None:
    """send with a write token (from LOGCTL_TOKEN_FILE) commits; tail --no-follow --json with a read token reads it back."""
    token_file = tmp_path / "writer.token"
    token_file.write_text(tokens["write"] + "\n")
    env = _env(cli_env, secure_hub, None)
    env["LOGCTL_TOKEN_FILE"] = str(token_file)
    sent = run_cli(["send", "t1", "hello"], env)
    assert sent.returncode == 0, sent.stderr
    wait_for_horizon(dsn, timeout=60)
    shown = run_cli(["tail", "t1", "--no-follow", "--json"], _env(cli_env, secure_hub, tokens["read"]))
    assert shown.returncode == 0, shown.stderr
    assert [json.loads(line)["message"] for line in shown.stdout.splitlines()] == ["hello"]
    for output in (sent.stdout, sent.stderr, shown.stdout, shown.stderr):
        assert tokens["write"] not in output and tokens["read"] not in output


@pytest.mark.parametrize("who", ["none", "wrong", "read"])
def test_send_fails_fast_in_one_line_without_a_write_token(secure_hub: HubProcess, cli_env: dict[str, str], tokens: dict[str, str], who: str) -> None:
    """send with no token, a wrong one or a read-only one exits 5 with one line, without waiting for its --timeout."""
    token = None if who == "none" else tokens[who]
    done = run_cli(["send", "t1", "hello", "--timeout", "3600"], _env(cli_env, secure_hub, token), timeout=60)
    assert done.returncode == REFUSED_EXIT, done.stderr
    line = _one_refusal_line(done.stderr)
    if token is not None:
        assert token not in done.stderr + done.stdout
    if who == "none":
        assert "LOGCTL_TOKEN" in line
    if who == "read":
        assert "write scope" in line


@pytest.mark.parametrize("who", ["none", "wrong", "write"])
def test_tail_fails_fast_in_one_line_without_a_read_token(secure_hub: HubProcess, cli_env: dict[str, str], tokens: dict[str, str], who: str) -> None:
    """tail (following, plain) with no token, a wrong one or a write-only one exits 5 with one line instead of retrying."""
    token = None if who == "none" else tokens[who]
    done = run_cli(["tail", "t1", "--plain"], _env(cli_env, secure_hub, token), timeout=60)
    assert done.returncode == REFUSED_EXIT, done.stderr
    _one_refusal_line(done.stderr)
    if token is not None:
        assert token not in done.stderr + done.stdout


PRODUCER = textwrap.dedent("""
    import json, logging, sys
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    from logctl import producer
    for i in range(5):
        producer.emit_log(f"m{i}", thread_id="p1")
    producer.flush_logs(float(sys.argv[1]))
    producer.emit_log("later", thread_id="p1")
    producer.flush_logs(float(sys.argv[1]))
    s = producer.producer_stats()
    print(json.dumps({"committed": s.committed, "pending": s.pending, "last_error": s.last_error}))
""")


def _producer(env: dict[str, str], timeout: float, run_timeout: float = 120) -> tuple[dict[str, object], str]:
    import subprocess

    done = subprocess.run([sys.executable, "-c", PRODUCER, str(timeout)], env=env, capture_output=True, text=True, timeout=run_timeout, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def test_the_producer_api_sends_the_token(secure_hub: HubProcess, cli_env: dict[str, str], tokens: dict[str, str]) -> None:
    """emit_log with a write token in LOGCTL_TOKEN delivers everything."""
    stats, stderr = _producer(_env(cli_env, secure_hub, tokens["write"]), 30)
    assert stats == {"committed": 6, "pending": 0, "last_error": None}, stderr
    assert tokens["write"] not in stderr


@pytest.mark.parametrize("who", ["wrong", "read"])
def test_the_producer_reports_a_refused_token_once_and_stops(secure_hub: HubProcess, cli_env: dict[str, str], tokens: dict[str, str], who: str) -> None:
    """With a wrong or read-only token the producer warns once, names the refusal in last_error, and stops retrying (flush returns at once)."""
    stats, stderr = _producer(_env(cli_env, secure_hub, tokens[who]), 3600)
    assert stats["committed"] == 0 and "the hub refused the token" in str(stats["last_error"])
    assert stderr.count("not retrying") == 1 and stderr.count("the hub refused the token") <= 2, stderr  # the warning, and the exit summary
    assert tokens[who] not in stderr + json.dumps(stats)
    logging.getLogger(__name__).debug("stderr: %s", stderr)


def test_a_producer_refused_for_good_exits_without_waiting_out_its_exit_timeout(
    secure_hub: HubProcess, cli_env: dict[str, str], tokens: dict[str, str]
) -> None:
    """Once the hub refused the token, interpreter exit does not wait LOGCTL_EXIT_TIMEOUT for records that can never go."""
    env = _env(cli_env, secure_hub, tokens["wrong"])
    env["LOGCTL_EXIT_TIMEOUT"] = "3600"
    stats, stderr = _producer(env, 3600, run_timeout=60)
    assert stats["committed"] == 0 and "the hub refused the token" in str(stats["last_error"]), stderr


@pytest.mark.parametrize("who", ["wrong", "read"])
def test_spool_replay_with_a_refused_token_keeps_the_segments(
    secure_hub: HubProcess, cli_env: dict[str, str], tokens: dict[str, str], tmp_path: Path, who: str
) -> None:
    """`spool replay` whose token the hub refuses (wrong, or read-only: forbidden frames) exits 5 and deletes no segment."""
    from test_spool_crash import crash, dead_url, producer_env

    spool = tmp_path / "spool"
    crash(producer_env(cli_env, spool, LOGCTL_SERVER=dead_url()), 10)
    before = sorted(os.listdir(spool))
    env = _env(cli_env, secure_hub, tokens[who])
    result = run_cli(["spool", "replay", str(spool), "--server", secure_hub.url, "--timeout", "3600"], env, timeout=60)
    assert result.returncode == REFUSED_EXIT, result.stderr
    assert "the hub refused the token" in result.stderr and tokens[who] not in result.stderr
    assert sorted(os.listdir(spool)) == before
