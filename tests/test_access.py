"""Access to a real hub: tokens and scopes on every endpoint and frame, Host and Origin checks, reloads, refusals."""

from __future__ import annotations

import json
import os
import signal
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from helpers import HubProcess, recv_json, run_cli, wait_until
from logctl.tokens_file import create_token, revoke_token

#: Who asks: a name -> the Authorization header value (None: no header).
WHO = ("none", "wrong", "read", "write", "read+write")

#: The documented answers (docs/security.md), endpoint or frame -> one answer per WHO.
EXPECTED: dict[str, tuple[str, ...]] = {
    "GET /healthz": ("200", "200", "200", "200", "200"),
    "GET /metrics": ("401", "401", "200", "403", "200"),
    "GET /admin/runs/t/logs": ("401", "401", "200", "403", "200"),
    "HEAD /admin/runs/t/logs": ("401", "401", "200", "403", "200"),
    "GET /admin/logs?thread=t&match=u*": ("401", "401", "200", "403", "200"),
    "GET /": ("401", "401", "200", "403", "200"),
    "GET /static/style.css": ("200", "200", "200", "200", "200"),
    "WebSocket handshake": ("401", "401", "101", "101", "101"),
    "publish frame": ("-", "-", "forbidden", "ack", "ack"),
    "subscribe frame": ("-", "-", "subscribed", "forbidden", "subscribed"),
    "selection subscribe frame": ("-", "-", "subscribed", "forbidden", "subscribed"),
    "unsubscribe frame": ("-", "-", "unsubscribed", "unsubscribed", "unsubscribed"),
    "ping frame": ("-", "-", "pong", "pong", "pong"),
}


@pytest.fixture
def tokens(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A tokens file with a read, a write and a read+write token, and those tokens by WHO name."""
    path = tmp_path / "tokens.json"
    made = {
        "read": create_token(path, "reader", frozenset({"read"})),
        "write": create_token(path, "writer", frozenset({"write"})),
        "read+write": create_token(path, "both", frozenset({"read", "write"})),
    }
    made["wrong"] = "lgt_" + "x" * 43
    return path, made


@pytest.fixture
def secure_hub(dsn: str, cli_env: dict[str, str], tokens: tuple[Path, dict[str, str]]) -> Iterator[HubProcess]:
    """A real hub on loopback that requires the tokens of :func:`tokens`."""
    proc = HubProcess(dsn, cli_env, "--tokens-file", str(tokens[0]))
    yield proc
    proc.close()


def _headers(token: str | None, **extra: str) -> dict[str, str]:
    return {**({"Authorization": f"Bearer {token}"} if token else {}), **extra}


def http(hub: HubProcess, method: str, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    """A real HTTP request: status, headers, body."""
    request = urllib.request.Request(hub.http + path, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def open_ws(hub: HubProcess, headers: dict[str, str]) -> ClientConnection | int:
    """A WebSocket connection, or the HTTP status that refused the handshake."""
    try:
        return connect(hub.url + "/ws", additional_headers=headers, open_timeout=10, close_timeout=5)
    except InvalidStatus as exc:
        return exc.response.status_code


def frame_answer(conn: ClientConnection, frame: dict[str, Any]) -> str:
    """Send ``frame`` and name the answer: the reply's type, or an error's code."""
    conn.send(json.dumps(frame))
    while True:
        reply = recv_json(conn)
        if reply["type"] in ("status", "records"):
            continue
        return str(reply["code"]) if reply["type"] == "error" else str(reply["type"])


FRAMES: dict[str, dict[str, Any]] = {
    "publish frame": {"type": "publish", "ref": 1, "records": [{"thread_id": "t", "message": "m"}]},
    "subscribe frame": {"type": "subscribe", "thread_id": "t", "cursor": "now"},
    "selection subscribe frame": {"type": "subscribe", "sub": "s", "threads": ["t"], "match": "u*", "cursor": "now"},
    "unsubscribe frame": {"type": "unsubscribe", "thread_id": "t"},
    "ping frame": {"type": "ping", "ref": 2},
}


def answer_matrix(hub: HubProcess, secrets: dict[str, str]) -> dict[str, tuple[str, ...]]:
    """Ask every endpoint and frame as every WHO, against the real hub."""
    rows: dict[str, list[str]] = {key: [] for key in EXPECTED}
    for who in WHO:
        headers = _headers(secrets.get(who))
        for key in ("GET /healthz", "GET /metrics", "GET /admin/runs/t/logs", "HEAD /admin/runs/t/logs",
                    "GET /admin/logs?thread=t&match=u*", "GET /", "GET /static/style.css"):
            method, path = key.split()
            rows[key].append(str(http(hub, method, path, headers)[0]))
        conn = open_ws(hub, headers)
        rows["WebSocket handshake"].append(str(conn) if isinstance(conn, int) else "101")
        if isinstance(conn, int):
            for key in FRAMES:
                rows[key].append("-")
            continue
        with conn:
            for key, frame in FRAMES.items():
                rows[key].append(frame_answer(conn, frame))
    return {key: tuple(value) for key, value in rows.items()}


def test_every_endpoint_and_frame_answers_as_documented(secure_hub: HubProcess, tokens: tuple[Path, dict[str, str]]) -> None:
    """No token, a wrong one, read-only, write-only and read+write get exactly the documented answer everywhere."""
    matrix = answer_matrix(secure_hub, tokens[1])
    print("\n" + "\n".join(f"{key:26} " + " ".join(f"{v:>12}" for v in row) for key, row in [("", WHO), *matrix.items()]))
    assert matrix == EXPECTED


def test_refusals_say_how_and_never_echo_the_token(secure_hub: HubProcess, tokens: tuple[Path, dict[str, str]]) -> None:
    """401 carries WWW-Authenticate: Bearer; refusals are counted by reason; no token appears in bodies, metrics or logs."""
    secrets = tokens[1]
    status, headers, body = http(secure_hub, "GET", "/metrics", _headers(None))
    assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer") and json.loads(body)["error"]["code"] == "unauthorized"
    bodies = [body]
    for who in ("wrong", "write"):
        bodies.append(http(secure_hub, "GET", "/admin/runs/t/logs", _headers(secrets[who]))[2])
    conn = open_ws(secure_hub, _headers(secrets["read"]))
    assert not isinstance(conn, int)
    with conn:
        conn.send(json.dumps(FRAMES["publish frame"]))
        bodies.append(str(conn.recv(timeout=10)).encode())
    status, _, metrics = http(secure_hub, "GET", "/metrics", _headers(secrets["read"]))
    text = metrics.decode()
    assert 'logctl_auth_refused_total{reason="missing_token"} 1' in text
    assert 'logctl_auth_refused_total{reason="bad_token"} 1' in text
    assert 'logctl_auth_refused_total{reason="scope"} 2' in text
    assert secure_hub.stop() == 0
    log = secure_hub.stderr()
    assert "token name: writer" in log and "token name: reader" in log and "127.0.0.1:" in log
    everything = "\n".join([log, text, *(b.decode() for b in bodies)])
    for secret in secrets.values():
        assert secret not in everything


def test_a_revoked_token_stops_working_without_a_restart(secure_hub: HubProcess, tokens: tuple[Path, dict[str, str]]) -> None:
    """Revoking a token in the file is picked up by the running hub (mtime poll), then a new token by SIGHUP."""
    path, secrets = tokens
    assert http(secure_hub, "GET", "/metrics", _headers(secrets["read"]))[0] == 200
    revoke_token(path, "reader")
    wait_until(lambda: http(secure_hub, "GET", "/metrics", _headers(secrets["read"]))[0] == 401, timeout=15)
    assert http(secure_hub, "GET", "/metrics", _headers(secrets["read+write"]))[0] == 200
    fresh = create_token(path, "fresh", frozenset({"read"}))
    assert secure_hub.proc is not None
    os.kill(secure_hub.proc.pid, signal.SIGHUP)
    wait_until(lambda: http(secure_hub, "GET", "/metrics", _headers(fresh))[0] == 200, timeout=15)


def test_metrics_open_serves_metrics_without_a_token(dsn: str, cli_env: dict[str, str], tokens: tuple[Path, dict[str, str]]) -> None:
    """With --metrics-open, /metrics answers without a token while history still needs one."""
    hub = HubProcess(dsn, cli_env, "--tokens-file", str(tokens[0]), "--metrics-open")
    try:
        assert http(hub, "GET", "/metrics", {})[0] == 200
        assert http(hub, "GET", "/admin/runs/t/logs", {})[0] == 401
    finally:
        hub.stop()


def test_host_and_origin_checks_on_loopback(hub: HubProcess, dsn: str, cli_env: dict[str, str]) -> None:
    """Without tokens on loopback: Host evil.example is 403, a foreign Origin is 403, the own origin passes, no Origin passes."""
    assert http(hub, "GET", "/admin/runs/t/logs", {"Host": "evil.example"})[0] == 403
    assert http(hub, "GET", "/admin/runs/t/logs", {"Host": f"evil.example:{hub.port}"})[0] == 403
    assert open_ws(hub, {"Host": "evil.example"}) == 403
    for host in (f"localhost:{hub.port}", f"127.0.0.1:{hub.port}", "[::1]"):
        assert http(hub, "GET", "/admin/runs/t/logs", {"Host": host})[0] == 200, host
    assert http(hub, "GET", "/admin/runs/t/logs", {"Origin": "http://evil.example"})[0] == 403
    assert open_ws(hub, {"Origin": "http://evil.example"}) == 403
    assert http(hub, "GET", "/admin/runs/t/logs", {"Origin": f"http://127.0.0.1:{hub.port}"})[0] == 200
    assert http(hub, "GET", "/admin/runs/t/logs", {})[0] == 200
    allowed = HubProcess(dsn, cli_env, "--allow-origin", "https://dash.example")
    try:
        assert http(allowed, "GET", "/admin/runs/t/logs", {"Origin": "https://dash.example"})[0] == 200
        conn = open_ws(allowed, {"Origin": "https://dash.example"})
        assert not isinstance(conn, int)
        with conn:
            assert frame_answer(conn, FRAMES["ping frame"]) == "pong"
        assert http(allowed, "GET", "/admin/runs/t/logs", {"Origin": "https://other.example"})[0] == 403
    finally:
        allowed.stop()


def test_a_network_bind_without_tokens_is_refused(dsn: str, cli_env: dict[str, str]) -> None:
    """serve --host 0.0.0.0 with no tokens file exits 2 with one line naming the fix."""
    done = run_cli(["serve", "--host", "0.0.0.0", "--port", "0", "--database-url", dsn], cli_env, timeout=30)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "--tokens-file" in lines[0] and "--insecure-no-auth" in lines[0]


def test_insecure_no_auth_starts_with_a_warning(dsn: str, cli_env: dict[str, str]) -> None:
    """serve --host 0.0.0.0 --insecure-no-auth starts, warns at start, and serves without a token."""
    hub = HubProcess(dsn, cli_env, "--host", "0.0.0.0", "--insecure-no-auth")
    try:
        assert http(hub, "GET", "/admin/runs/t/logs", {})[0] == 200
    finally:
        hub.stop()
    assert "--insecure-no-auth" in hub.stderr()


def test_a_missing_tokens_file_is_refused_at_start(dsn: str, cli_env: dict[str, str], tmp_path: Path) -> None:
    """serve --tokens-file naming no file exits 2 with one line saying how to create one (it does not start open)."""
    done = run_cli(["serve", "--port", "0", "--tokens-file", str(tmp_path / "none.json"), "--database-url", dsn], cli_env, timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    (line,) = done.stderr.strip().splitlines()
    assert "does not exist" in line and "logctl token create" in line


def test_a_broken_tokens_file_keeps_the_previous_tokens(secure_hub: HubProcess, tokens: tuple[Path, dict[str, str]]) -> None:
    """A tokens file that stops parsing is logged on reload and the tokens already loaded stay in force."""
    path, secrets = tokens
    path.write_text("{ not json")
    assert secure_hub.proc is not None
    os.kill(secure_hub.proc.pid, signal.SIGHUP)
    for _ in range(3):  # a few loop turns after the signal
        assert http(secure_hub, "GET", "/metrics", _headers(secrets["read"]))[0] == 200
    assert secure_hub.stop() == 0
    log = secure_hub.stderr()
    assert "kept the previous tokens" in log and str(path) in log
