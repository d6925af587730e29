"""The pure access decisions of core/routes.py: tokens, scopes, Host, Origin, binds."""

from __future__ import annotations

import datetime as dt

import pytest

from logctl.core.routes import Access, Health, History, HttpRequest, Refusal, Upgrade, bind_refusal, frame_refusal, is_loopback_host, route
from logctl.core.tokens import TokenTable, new_token

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)
READER, WRITER = new_token(), new_token()
TABLE = TokenTable().with_token("r", READER, {"read"}, NOW).with_token("w", WRITER, {"write"}, NOW)
SECURE = Access(tokens=TABLE, check_host=True)
HOST = ("Host", "127.0.0.1:8765")


def _get(target: str, *headers: tuple[str, str], access: Access = SECURE) -> object:
    return route(HttpRequest("GET", target, (HOST, *headers)), access)


def test_tokens_decide_before_the_path_and_scopes_after() -> None:
    """No token is 401 even on an unknown path; a valid token meets 404; a write token meets 403 on history."""
    refused = _get("/nope")
    assert isinstance(refused, Refusal) and refused.status == 401 and refused.reason == "missing_token"
    assert isinstance(_get("/nope", ("Authorization", f"Bearer {READER}")), Refusal)
    assert _get("/nope", ("Authorization", f"Bearer {READER}")) == Refusal(404, "not_found", "no route for '/nope': try /admin/runs/<thread_id>/logs, /healthz or /metrics")
    scoped = _get("/admin/runs/t/logs", ("Authorization", f"Bearer {WRITER}"))
    assert isinstance(scoped, Refusal) and (scoped.status, scoped.reason, scoped.token_name) == (403, "scope", "w")
    assert isinstance(_get("/admin/runs/t/logs", ("Authorization", f"Bearer {READER}")), History)
    assert _get("/healthz") == Health()


def test_the_upgrade_carries_the_granted_scopes() -> None:
    """A handshake with a write token is let through with only the write scope, and frames are judged by it."""
    grant = _get("/ws", ("Upgrade", "websocket"), ("Authorization", f"Bearer {WRITER}"))
    assert grant == Upgrade(frozenset({"write"}), "w")
    assert isinstance(grant, Upgrade)
    assert frame_refusal(grant, "publish") is None and frame_refusal(grant, "") is None
    assert "read scope" in (frame_refusal(grant, "subscribe") or "")


@pytest.mark.parametrize("host,ok", [("localhost", True), ("127.0.0.2", True), ("::1", True), ("[::1]", True), ("LOCALHOST.", True),
                                     ("evil.example", False), ("10.0.0.1", False), ("0.0.0.0", False), ("", False)])
def test_loopback_names(host: str, ok: bool) -> None:
    """Loopback: localhost and loopback addresses only."""
    assert is_loopback_host(host) is ok


def test_host_header_rules() -> None:
    """On a loopback bind: a non-loopback Host, no Host, or two Host headers are refused."""
    open_loopback = Access(check_host=True)
    for headers in ((("Host", "evil.example"),), (), (("Host", "127.0.0.1"), ("Host", "evil.example"))):
        decision = route(HttpRequest("GET", "/healthz", headers), open_loopback)
        assert isinstance(decision, Refusal) and decision.reason == "host", headers
    assert route(HttpRequest("GET", "/healthz", (("Host", "[::1]:9"),)), open_loopback) == Health()


def test_origin_rules() -> None:
    """Own origin and allowed origins pass; others and 'null' are refused; no Origin passes."""
    access = Access(check_host=True, allow_origins=frozenset({"https://dash.example"}))
    for origin, ok in (("http://127.0.0.1:8765", True), ("https://dash.example", True), ("http://evil.example", False),
                       ("null", False), ("http://127.0.0.1:9999", False)):
        decision = _get("/healthz", ("Origin", origin), access=access)
        assert (decision == Health()) is ok, origin
    assert _get("/healthz", access=access) == Health()


def test_binds() -> None:
    """A non-loopback bind needs tokens or --insecure-no-auth."""
    assert bind_refusal("127.0.0.1", has_tokens=False, insecure_no_auth=False) is None
    assert "--tokens-file" in (bind_refusal("0.0.0.0", has_tokens=False, insecure_no_auth=False) or "")
    assert bind_refusal("0.0.0.0", has_tokens=True, insecure_no_auth=False) is None
    assert bind_refusal("0.0.0.0", has_tokens=False, insecure_no_auth=True) is None
