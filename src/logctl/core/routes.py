"""The hub's few HTTP routes, as one pure function: ``route(request) -> decision``.

The decision depends on the method, the path, the query string and the headers, and on
the hub's :class:`Access` rules (its token table, Host and Origin checks), so that
authentication belongs to the same pure function. The hub's edge (``logctl.hub.server``)
only carries the decision out. Order: method (405), Host (403), Origin (403), then the
credential (401: a bearer token, else the browser's session cookie) for every path but
``/healthz`` and ``/static/``, then the path (404/400), then the scope (403). A web page opened
with ``?token=`` is a :class:`Login` instead: the token is checked and exchanged for the
session cookie (docs/web.md).
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Sequence
from typing import Final
from urllib.parse import parse_qs, unquote

import datetime as dt

from logctl.core.cursor import Cursor
from logctl.core.protocol.runs import RunsCursor, glob_to_like
from logctl.core.records import validate_thread_id
from logctl.core import web
from logctl.core.selection import Selection
from logctl.core.tokens import READ, SCOPES, WRITE, TokenTable, bearer_token, session_value
from logctl.core.times import parse_since_spec
from logctl.core.web import is_static_name
from logctl.errors import ConfigError, InvalidRecord, ProtocolError

__all__ = [
    "ALLOWED_METHODS",
    "Access",
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "Decision",
    "Health",
    "History",
    "HttpError",
    "HttpRequest",
    "Login",
    "Metrics",
    "Page",
    "Refusal",
    "Route",
    "Runs",
    "Static",
    "SelectionHistory",
    "Upgrade",
    "bind_refusal",
    "frame_refusal",
    "is_loopback_host",
    "route",
]

DEFAULT_LIMIT: Final = 1000
MAX_LIMIT: Final = 10_000
HISTORY_PARAMS: Final = frozenset({"limit", "before", "after"})
RUNS_DEFAULT_LIMIT: Final = 100
RUNS_MAX_LIMIT: Final = 1000
RUNS_PARAMS: Final = frozenset({"limit", "since", "match", "before"})
MAX_MATCH: Final = 256
SELECTION_PARAMS: Final = frozenset({"thread", "match", "limit", "before", "after"})
#: ``thread=`` parameters one request may give before any hub limit is looked at.
MAX_QUERY_THREADS: Final = 10_000
#: Every route is read-only; HEAD gets GET's headers without the body.
ALLOWED_METHODS: Final = ("GET", "HEAD")


@dataclasses.dataclass(frozen=True, slots=True)
class HttpRequest:
    """What routing looks at: the method, the request target and the headers (name, value) in order."""

    method: str
    target: str
    headers: Sequence[tuple[str, str]] = ()
    #: The request came over TLS (the session cookie is then ``Secure``).
    tls: bool = False

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
class Runs:
    """The thread list: at most ``limit`` threads active since ``since`` (a time, or a duration
    back from the hub's clock), whose id matches ``like`` (a LIKE pattern, ``\\`` escapes), after ``before``."""

    limit: int = RUNS_DEFAULT_LIMIT
    since: dt.datetime | dt.timedelta | None = None
    like: str | None = None
    before: RunsCursor | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class SelectionHistory:
    """The latest ``limit`` records across a selection (or those before/after a cursor), merged."""

    selection: Selection
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
    """The WebSocket endpoint, with the scopes the connection was granted and its token's name."""

    scopes: frozenset[str] = frozenset(SCOPES)
    token_name: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Page:
    """A web page: ``index.html`` (the runs page, ``/``) or ``thread.html`` (every ``/runs/{thread_id}``, and
    ``/runs?match=…&thread=…``, several threads as one stream).

    ``depth``: how many folders below the hub's root the page's path is (1 for ``/runs/{thread_id}``);
    the page's relative URLs are served rebased by as many ``../`` (:func:`logctl.core.web.rebase_page`).
    """

    name: str
    depth: int = 0


@dataclasses.dataclass(frozen=True, slots=True)
class Static:
    """A file of the web viewer under ``/static/``; ``name`` is safe (:func:`logctl.core.web.is_static_name`)."""

    name: str


Route = History | SelectionHistory | Runs | Health | Metrics | Upgrade | Page | Static


@dataclasses.dataclass(frozen=True, slots=True)
class Refusal:
    """An error answer: ``status``, a JSON body ``{"error": {"code", "message"}}``, extra headers."""

    status: int
    code: str
    message: str
    headers: tuple[tuple[str, str], ...] = ()
    #: For access refusals: the reason counted in /metrics (missing_token, bad_token, scope, host, origin).
    reason: str | None = None
    token_name: str | None = None
    #: The request was for a web page: answer with a page a person can read, not JSON.
    page: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class Login:
    """A page opened with ``?token=``: redirect (303) to ``location``, the same URL without the token,
    setting the session cookie ``set_cookie`` (a ``Set-Cookie`` value; None when there is none to set)."""

    location: str
    set_cookie: str | None
    token_name: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class Access:
    """Who may use the hub. ``tokens`` None: no tokens, every request has both scopes.

    ``check_host``: refuse a ``Host`` that is not a loopback name (on a loopback bind, against
    DNS rebinding). A request with an ``Origin`` is taken only from the hub's own origin or
    one of ``allow_origins``. ``metrics_open``: ``/metrics`` needs no token. A request's
    credential is its bearer token, else its session cookie (docs/web.md), which counts only
    on requests from the hub's own pages.
    """

    tokens: TokenTable | None = None
    check_host: bool = False
    allow_origins: frozenset[str] = frozenset()
    metrics_open: bool = False
    #: The key that signs browser sessions (``core.tokens.session_value``); None: no session cookies.
    session_key: bytes | None = dataclasses.field(default=None, repr=False)


Decision = Route | Refusal | Login


class HttpError(ProtocolError):
    """A request the hub refuses, with its HTTP status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code, message)
        self.status = status


def route(request: HttpRequest, access: Access = Access()) -> Decision:
    """Decide what to answer ``request`` under ``access``: a :data:`Route` to serve, or a :class:`Refusal`."""
    path, _, query = request.target.partition("?")
    if request.method not in ALLOWED_METHODS:
        return Refusal(
            405, "method_not_allowed", f"{request.method[:16]} is not allowed: every route answers GET and HEAD",
            (("Allow", ", ".join(ALLOWED_METHODS)),),
        )
    refused = _check_host_and_origin(request, access)
    if refused is not None:
        return refused
    websocket = (request.header("Upgrade") or "").lower() == "websocket"
    try:
        target: Route | Refusal = _route_path(path, query, websocket=websocket)
    except HttpError as exc:
        target = Refusal(exc.status, exc.code, str(exc))
    if isinstance(target, (Health, Static)):  # the viewer's files are the package's, no secret in them
        return target
    page = isinstance(target, Page)
    if page and _has_parameter(query, web.TOKEN_PARAMETER):
        return _login(request, access, path, query)
    if access.tokens is None or (isinstance(target, Metrics) and access.metrics_open):
        scopes, name = frozenset(SCOPES), None
    else:
        found = _credential(request, access, access.tokens)
        if isinstance(found, Refusal):
            return dataclasses.replace(found, page=page)
        scopes, name = found
    if isinstance(target, Refusal):
        return target
    if isinstance(target, Upgrade):
        if request.method != "GET" or not websocket:
            return Refusal(426, "upgrade_required", "this path speaks WebSocket; see docs/protocol.md")
        return Upgrade(scopes, name)
    if READ not in scopes:
        return Refusal(
            403, "forbidden", f"the token {name!r} lacks the read scope", (("WWW-Authenticate", 'Bearer realm="logctl", error="insufficient_scope", scope="read"'),),
            reason="scope", token_name=name, page=page,
        )
    return target


def _single_host(request: HttpRequest) -> str | None:
    hosts = [value for key, value in request.headers if key.lower() == "host"]
    return hosts[0] if len(hosts) == 1 else None


def _has_parameter(query: str, name: str) -> bool:
    return any(part.partition("=")[0] == name for part in query.split("&"))


def _login(request: HttpRequest, access: Access, path: str, query: str) -> Login | Refusal:
    """A page opened with ``?token=``: check the token, then set the session cookie and redirect without it."""
    location = web.without_token(path, query)
    if access.tokens is None:  # no tokens needed: only take the token out of the address bar
        return Login(location, None, None)
    try:
        values = parse_qs(query, keep_blank_values=True, errors="strict").get(web.TOKEN_PARAMETER, [])
    except (UnicodeDecodeError, ValueError):
        values = []
    if len(values) != 1:
        return Refusal(400, "bad_query", "give the token once: ?token=<token>", page=True)
    entry = access.tokens.find(values[0])
    if entry is None:
        return Refusal(
            401, "unauthorized", "the token in the address is not valid (unknown or revoked)",
            (("WWW-Authenticate", 'Bearer realm="logctl", error="invalid_token"'),), reason="bad_token", page=True,
        )
    if READ not in entry.scopes:
        return Refusal(
            403, "forbidden", f"the token {entry.name!r} lacks the read scope the web pages need",
            reason="scope", token_name=entry.name, page=True,
        )
    if access.session_key is None:
        return Login(location, None, entry.name)
    value = session_value(access.session_key, entry)
    return Login(location, web.set_cookie(web.cookie_name(_single_host(request)), value, secure=request.tls), entry.name)


def _credential(request: HttpRequest, access: Access, tokens: TokenTable) -> tuple[frozenset[str], str] | Refusal:
    """The scopes and token name of a request's bearer token, else of its session cookie; or the 401."""
    token = bearer_token(request.header("Authorization"))
    if token is not None:
        entry = tokens.find(token)
        if entry is None:
            return Refusal(
                401, "unauthorized", "the token is not valid (unknown or revoked)",
                (("WWW-Authenticate", 'Bearer realm="logctl", error="invalid_token"'),), reason="bad_token",
            )
        return entry.scopes, entry.name
    cookies = web.cookie_values([v for k, v in request.headers if k.lower() == "cookie"], web.cookie_name(_single_host(request)))
    if cookies and access.session_key is not None:
        if not _own_page(request):
            return Refusal(
                401, "unauthorized", "a browser session is taken only from this hub's own pages",
                (("WWW-Authenticate", 'Bearer realm="logctl"'),), reason="cross_site_session",
            )
        for value in cookies:
            entry = tokens.find_session(access.session_key, value)
            if entry is not None:
                return entry.scopes, entry.name
        return Refusal(
            401, "unauthorized", "the browser session is no longer valid (its token was revoked or replaced)",
            (("WWW-Authenticate", 'Bearer realm="logctl", error="invalid_token"'),), reason="bad_session",
        )
    return Refusal(
        401, "unauthorized", "a valid token is needed: send Authorization: Bearer <token> (docs/security.md)",
        (("WWW-Authenticate", 'Bearer realm="logctl"'),), reason="missing_token",
    )


def _own_page(request: HttpRequest) -> bool:
    """Whether a request carrying the session cookie comes from a page of the hub's own origin (or is a top-level visit).

    Its ``Origin`` has passed the Origin check already (the hub's own, or one of ``--allow-origin``,
    which is how a proxy's public origin is named). The browser's ``Sec-Fetch-Site`` must say
    the request comes from the very origin it goes to: not another site, and not another origin
    of this site (another port of the same host is "same-site"); a navigation to a page (a
    followed link) is the exception.
    """
    site = request.header("Sec-Fetch-Site")
    return site in (None, "same-origin", "none") or request.header("Sec-Fetch-Mode") == "navigate"


def frame_refusal(grant: Upgrade, frame_type: str) -> str | None:
    """Why a connection granted ``grant`` may not send a frame of ``frame_type``, or None if it may.

    ``publish`` needs ``write``; ``subscribe`` needs ``read``; other frames need neither.
    """
    needed = {"publish": WRITE, "subscribe": READ}.get(frame_type)
    if needed is None or needed in grant.scopes:
        return None
    return f"this connection's token {grant.token_name!r} lacks the {needed} scope needed to {frame_type}"


def _host_name(host: str) -> str:
    """The name part of a ``Host`` header value: ``[::1]:80`` -> ``::1``, ``localhost:80`` -> ``localhost``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` (a name or address, no port) is ``localhost`` or a loopback address."""
    host = host.strip().lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind_refusal(host: str, *, has_tokens: bool, insecure_no_auth: bool) -> str | None:
    """Why the hub must not listen on ``host``, or None: a non-loopback bind needs a tokens file."""
    if has_tokens or insecure_no_auth or is_loopback_host(host):
        return None
    return (
        f"refusing to listen on {host} without authentication: create a token (logctl token create NAME --scope read,write)"
        " and pass --tokens-file, or pass --insecure-no-auth to serve everyone on the network (docs/security.md)"
    )


def _check_host_and_origin(request: HttpRequest, access: Access) -> Refusal | None:
    hosts = [value for key, value in request.headers if key.lower() == "host"]
    host = hosts[0] if len(hosts) == 1 else None
    if access.check_host and (host is None or not is_loopback_host(_host_name(host))):
        return Refusal(
            403, "host_not_allowed",
            f"this hub listens on loopback and answers only one Host: localhost, 127.0.0.1 or [::1], not {', '.join(hosts)[:100]!r}",
            reason="host",
        )
    origin = request.header("Origin")
    if origin is None or origin in access.allow_origins:
        return None
    if host is not None and origin.lower() in (f"http://{host.lower()}", f"https://{host.lower()}"):
        return None
    return Refusal(
        403, "origin_not_allowed", f"requests from origin {origin[:100]!r} are not allowed: see serve --allow-origin",
        reason="origin",
    )


def _route_path(path: str, query: str, *, websocket: bool) -> Route:
    """Map a request path and query string onto a route, or raise :class:`HttpError`.

    ``/`` is the WebSocket endpoint for a request with ``Upgrade: websocket`` and the runs
    page for any other; ``/ws`` is only the WebSocket endpoint.
    """
    if path == "/ws" or (path == "/" and websocket):
        return Upgrade()
    if path == "/":
        return Page("index.html")
    if path.startswith("/static/"):
        name = path[len("/static/"):]
        if not is_static_name(name):
            raise HttpError(404, "not_found", f"no static file {name[:200]!r}")
        return Static(name)
    if path == "/healthz":
        return Health()
    if path == "/metrics":
        return Metrics()
    if path == "/admin/runs":
        return _runs(query)
    if path == "/admin/logs":
        return _selection_history(query)
    if path == "/runs":  # several threads: the page reads its selection (match, thread) from the query
        return Page("thread.html")
    parts = path.split("/")
    if len(parts) == 3 and parts[1] == "runs" and parts[2]:  # /runs/<thread_id>: the page reads its id from the URL
        _thread_id(parts[2])
        return Page("thread.html", depth=1)
    # ['', 'admin', 'runs', '<thread_id>', 'logs']
    if len(parts) == 5 and parts[:3] == ["", "admin", "runs"] and parts[4] == "logs" and parts[3]:
        return _history(_thread_id(parts[3]), query)
    raise HttpError(404, "not_found", f"no route for {path[:200]!r}: try /admin/runs/<thread_id>/logs, /healthz or /metrics")


def _thread_id(segment: str) -> str:
    """The thread id of a URL-encoded path segment, or HttpError 400."""
    try:
        return validate_thread_id(unquote(segment, errors="strict"))
    except UnicodeDecodeError:
        raise HttpError(400, "bad_thread_id", "thread id in the path is not valid UTF-8") from None
    except InvalidRecord as exc:
        raise HttpError(400, exc.code, str(exc)) from None


def _params(query: str, allowed: frozenset[str], repeatable: frozenset[str] = frozenset()) -> dict[str, list[str]]:
    """The query's parameters, all of them in ``allowed`` and each given once (but ``repeatable`` ones), or HttpError 400."""
    try:
        params = parse_qs(query, keep_blank_values=True, strict_parsing=False, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise HttpError(400, "bad_query", "query string is not valid UTF-8") from None
    unknown = params.keys() - allowed
    if unknown:
        raise HttpError(
            400, "unknown_parameter",
            f"unknown query parameter(s): {', '.join(sorted(unknown))[:200]}; expected {', '.join(sorted(allowed))}",
        )
    for name, values in params.items():
        if len(values) > 1 and name not in repeatable:
            raise HttpError(400, "bad_query", f"query parameter {name!r} is given {len(values)} times")
    return params


def _limit(params: dict[str, list[str]], default: int, maximum: int) -> int:
    if "limit" not in params:
        return default
    raw = params["limit"][0]
    if not raw.isascii() or not raw.isdigit():
        raise HttpError(400, "bad_limit", f"limit must be an integer from 1 to {maximum}, not {raw[:32]!r}")
    limit = int(raw)
    if not 1 <= limit <= maximum:
        raise HttpError(400, "bad_limit", f"limit must be an integer from 1 to {maximum}, not {raw[:32]}")
    return limit


def _runs(query: str) -> Runs:
    params = _params(query, RUNS_PARAMS)
    limit = _limit(params, RUNS_DEFAULT_LIMIT, RUNS_MAX_LIMIT)
    since: dt.datetime | dt.timedelta | None = None
    if "since" in params:
        try:
            since = parse_since_spec(params["since"][0])
        except ConfigError:
            raise HttpError(
                400, "bad_since", f"since must be a duration (10m, 2h, 1d) or an ISO 8601 time, not {params['since'][0][:64]!r}"
            ) from None
    like = None
    if "match" in params:
        pattern = params["match"][0]
        if not pattern or len(pattern) > MAX_MATCH or "\x00" in pattern:
            raise HttpError(400, "bad_match", f"match must be a glob of 1 to {MAX_MATCH} characters (no NUL)")
        like = glob_to_like(pattern)
    before = None
    if "before" in params:
        try:
            before = RunsCursor.parse(params["before"][0])
        except ProtocolError as exc:
            raise HttpError(400, "bad_cursor", str(exc)) from None
    return Runs(limit, since, like, before)


def _selection_history(query: str) -> SelectionHistory:
    params = _params(query, SELECTION_PARAMS, frozenset({"thread"}))
    threads = params.get("thread", [])
    if len(threads) > MAX_QUERY_THREADS:
        raise HttpError(400, "too_many_threads", f"{len(threads)} thread= parameters; a request may give at most {MAX_QUERY_THREADS}")
    match = params["match"][0] if "match" in params else None
    if not threads and match is None:
        raise HttpError(400, "bad_selection", "give one or more thread= parameters and/or match=<glob>")
    try:
        selection = Selection(tuple(threads), match)
    except ProtocolError as exc:
        raise HttpError(400, exc.code, str(exc)) from None
    limit = _limit(params, DEFAULT_LIMIT, MAX_LIMIT)
    before = _cursor(params, "before")
    after = _cursor(params, "after")
    if before is not None and after is not None:
        raise HttpError(400, "bad_query", "give before= or after=, not both")
    return SelectionHistory(selection, limit, before, after)


def _history(thread_id: str, query: str) -> History:
    params = _params(query, HISTORY_PARAMS)
    limit = _limit(params, DEFAULT_LIMIT, MAX_LIMIT)
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
