"""The hub's HTTP routing is one pure decision on method, path, query and headers."""

from __future__ import annotations

from logctl.core.routes import Health, History, HttpRequest, Metrics, Refusal, Upgrade, route


def test_every_route_answers_get_and_head_and_refuses_other_methods_with_405_and_allow() -> None:
    """POST, PUT, DELETE, OPTIONS on any path get 405 with ``Allow: GET, HEAD``; GET and HEAD are routed."""
    for method in ("POST", "PUT", "DELETE", "OPTIONS", "PATCH"):
        for target in ("/healthz", "/admin/runs/t/logs", "/ws", "/nowhere"):
            decision = route(HttpRequest(method, target))
            assert isinstance(decision, Refusal) and decision.status == 405, (method, target)
            assert ("Allow", "GET, HEAD") in decision.headers
    for method in ("GET", "HEAD"):
        assert route(HttpRequest(method, "/healthz")) == Health()
        assert route(HttpRequest(method, "/metrics")) == Metrics()
        assert isinstance(route(HttpRequest(method, "/admin/runs/t/logs?limit=5")), History)


def test_the_websocket_path_needs_an_upgrade_header() -> None:
    """/ws with GET and ``Upgrade: websocket`` (any case) is the handshake; without the header, or as HEAD, 426."""
    assert route(HttpRequest("GET", "/ws", (("upgrade", "WebSocket"),))) == Upgrade()
    for refusal in (route(HttpRequest("GET", "/ws")), route(HttpRequest("HEAD", "/ws", (("Upgrade", "websocket"),)))):
        assert isinstance(refusal, Refusal) and (refusal.status, refusal.code) == (426, "upgrade_required")


def test_bad_paths_and_queries_are_refusals_not_exceptions() -> None:
    """Unknown paths, bad limits and non-ASCII-digit cursors are decisions with a status, never a raise."""
    cases = {"/nope": 404, "/admin/runs/t/logs?limit=0": 400, "/admin/runs/t/logs?after=%C2%B2-1": 400,
             "/admin/runs/t/logs?after=1-99999999999999999999": 400}
    for target, status in cases.items():
        decision = route(HttpRequest("GET", target))
        assert isinstance(decision, Refusal) and decision.status == status, target
