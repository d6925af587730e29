"""The hub's few HTTP routes, as one pure function: ``route(request) -> decision``.

The decision depends on the method, the path, the query string and the headers, so that
checks such as authentication or ``Origin`` belong to the same pure function. The hub's
edge (``logctl.hub.server``) only carries the decision out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Final
from urllib.parse import parse_qs, unquote

from logctl.core.cursor import Cursor
from logctl.core.records import validate_thread_id
from logctl.errors import InvalidRecord, ProtocolError

__all__ = [
    "ALLOWED_METHODS",
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "Decision",
    "Health",
    "History",
    "HttpError",
    "HttpRequest",
    "Metrics",
    "Refusal",
    "Route",
    "Upgrade",
    "route",
]

DEFAULT_LIMIT: Final = 1000
MAX_LIMIT: Final = 10_000
HISTORY_PARAMS: Final = frozenset({"limit", "before", "after"})
#: Every route is read-only; HEAD gets GET's headers without the body.
ALLOWED_METHODS: Final = ("GET", "HEAD")


@dataclasses.dataclass(frozen=True, slots=True)
class HttpRequest:
    """What routing looks at: the method, the request target and the headers (name, value) in order."""

    method: str
    target: str
    headers: Sequence[tuple[str, str]] = ()

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (any case), or None."""
        lowered = name.lower()
        return next((value for key, value in self.headers if key.lower() == lowered), None)


@dataclasses.dataclass(frozen=True, slots=True)
class History:
    thread_id: str
    limit: int
    before: Cursor | None
    after: Cursor | None


@dataclasses.dataclass(frozen=True, slots=True)
class Health:
    pass


@dataclasses.dataclass(frozen=True, slots=True)
class Metrics:
    pass


@dataclasses.dataclass(frozen=True, slots=True)
class Upgrade:
    """The WebSocket endpoint."""


Route = History | Health | Metrics | Upgrade


@dataclasses.dataclass(frozen=True, slots=True)
class Refusal:
    """An error answer: ``status``, a JSON body ``{"error": {"code", "message"}}``, extra headers."""

    status: int
    code: str
    message: str
    headers: tuple[tuple[str, str], ...] = ()


Decision = Route | Refusal


class HttpError(ProtocolError):
    """A request the hub refuses, with its HTTP status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code, message)
        self.status = status


def route(request: HttpRequest) -> Decision:
    """Decide what to answer ``request``: a :data:`Route` to serve, or a :class:`Refusal`."""
    path, _, query = request.target.partition("?")
    if request.method not in ALLOWED_METHODS:
        return Refusal(
            405, "method_not_allowed", f"{request.method[:16]} is not allowed: every route answers GET and HEAD",
            (("Allow", ", ".join(ALLOWED_METHODS)),),
        )
    try:
        target = _route_path(path, query)
    except HttpError as exc:
        return Refusal(exc.status, exc.code, str(exc))
    if isinstance(target, Upgrade) and (request.method != "GET" or (request.header("Upgrade") or "").lower() != "websocket"):
        return Refusal(426, "upgrade_required", "this path speaks WebSocket; see docs/protocol.md")
    return target


def _route_path(path: str, query: str) -> Route:
    """Map a request path and query string onto a route, or raise :class:`HttpError`."""
    if path in ("/", "/ws"):
        return Upgrade()
    if path == "/healthz":
        return Health()
    if path == "/metrics":
        return Metrics()
    parts = path.split("/")
    # ['', 'admin', 'runs', '<thread_id>', 'logs']
    if len(parts) == 5 and parts[:3] == ["", "admin", "runs"] and parts[4] == "logs" and parts[3]:
        try:
            thread_id = validate_thread_id(unquote(parts[3], errors="strict"))
        except UnicodeDecodeError:
            raise HttpError(400, "bad_thread_id", "thread id in the path is not valid UTF-8") from None
        except InvalidRecord as exc:
            raise HttpError(400, exc.code, str(exc)) from None
        return _history(thread_id, query)
    raise HttpError(404, "not_found", f"no route for {path[:200]!r}: try /admin/runs/<thread_id>/logs, /healthz or /metrics")


def _history(thread_id: str, query: str) -> History:
    try:
        params = parse_qs(query, keep_blank_values=True, strict_parsing=False, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise HttpError(400, "bad_query", "query string is not valid UTF-8") from None
    unknown = params.keys() - HISTORY_PARAMS
    if unknown:
        raise HttpError(400, "unknown_parameter", f"unknown query parameter(s): {', '.join(sorted(unknown))[:200]}; expected limit, before, after")
    for name, values in params.items():
        if len(values) > 1:
            raise HttpError(400, "bad_query", f"query parameter {name!r} is given {len(values)} times")
    limit = DEFAULT_LIMIT
    if "limit" in params:
        raw = params["limit"][0]
        if not raw.isascii() or not raw.isdigit():
            raise HttpError(400, "bad_limit", f"limit must be an integer from 1 to {MAX_LIMIT}, not {raw[:32]!r}")
        limit = int(raw)
        if not 1 <= limit <= MAX_LIMIT:
            raise HttpError(400, "bad_limit", f"limit must be an integer from 1 to {MAX_LIMIT}, not {raw[:32]}")
    before = _cursor(params, "before")
    after = _cursor(params, "after")
    if before is not None and after is not None:
        raise HttpError(400, "bad_query", "give before= or after=, not both")
    return History(thread_id, limit, before, after)


def _cursor(params: dict[str, list[str]], name: str) -> Cursor | None:
    if name not in params:
        return None
    try:
        return Cursor.parse(params[name][0])
    except ProtocolError as exc:
        raise HttpError(400, "bad_cursor", f"{name}: {exc}") from None
