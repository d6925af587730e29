"""The hub's few HTTP routes, as one pure function: ``route(path, query)``."""

from __future__ import annotations

import dataclasses
from typing import Final
from urllib.parse import parse_qs, unquote

from logctl.core.cursor import Cursor
from logctl.core.records import validate_thread_id
from logctl.errors import InvalidRecord, ProtocolError

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "Health",
    "History",
    "HttpError",
    "Metrics",
    "Route",
    "Upgrade",
    "route",
]

DEFAULT_LIMIT: Final = 1000
MAX_LIMIT: Final = 10_000
HISTORY_PARAMS: Final = frozenset({"limit", "before", "after"})


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


class HttpError(ProtocolError):
    """A request the hub refuses, with its HTTP status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code, message)
        self.status = status


def route(path: str, query: str = "") -> Route:
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
