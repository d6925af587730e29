"""The web viewer's HTTP rules, as data: static file names, content types, security headers, caching.

The hub's edge (``logctl.hub.web``) reads the files and sends the answers; this module
decides which names may be asked for, what each answer carries and when a cached copy is
still good. No I/O, no clock.
"""

from __future__ import annotations

import hashlib
import re
from typing import Final
from urllib.parse import parse_qsl, urlencode

__all__ = [
    "CACHE_CONTROL",
    "CONTENT_TYPES",
    "MAX_PAGE_DEPTH",
    "PAGES",
    "TOKEN_PARAMETER",
    "content_type",
    "cookie_name",
    "cookie_values",
    "etag",
    "is_static_name",
    "not_modified",
    "rebase_page",
    "security_headers",
    "set_cookie",
    "without_token",
]

#: The query parameter that carries a token once, to be exchanged for a session cookie.
TOKEN_PARAMETER: Final = "token"

#: What a static file's extension says it is; a file of any other kind is never served.
CONTENT_TYPES: Final = {
    "html": "text/html; charset=utf-8",
    "js": "text/javascript; charset=utf-8",
    "css": "text/css; charset=utf-8",
    "svg": "image/svg+xml",
    "png": "image/png",
    "json": "application/json",
    "txt": "text/plain; charset=utf-8",
}

#: The two pages: the runs page on ``/`` and one thread page for every ``/runs/{thread_id}``.
PAGES: Final = ("index.html", "thread.html")

#: How many folders below the hub's root a page's path may be: ``/runs/{thread_id}`` is one.
MAX_PAGE_DEPTH: Final = 1

#: Files carry no content hash in their names (there is no build step), so a browser keeps
#: its copy but asks each time whether it is still good (ETag, 304).
CACHE_CONTROL: Final = "no-cache"

# A relative URL in a page's href="…" or src="…": no scheme, not absolute, not a fragment.
_RELATIVE_URL: Final = re.compile(rb'(\s(?:href|src)=")(?![A-Za-z][A-Za-z0-9+.-]*:|/|#)([^"]*)"')
# One path segment: starts with a letter or digit, then letters, digits, '_', '-', '.';
# no segment may be '.' or '..', and no '%', '\\' or NUL can get in.
_SEGMENT: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
_HOST: Final = re.compile(r"[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]{2,45}\](:[0-9]{1,5})?")


def is_static_name(name: str) -> bool:
    """Whether ``name`` (the part after ``/static/``) may name a static file: safe segments, a known extension."""
    segments = name.split("/")
    if len(segments) > 4 or not all(_SEGMENT.fullmatch(s) and ".." not in s for s in segments):
        return False
    return content_type(name) is not None


def content_type(name: str) -> str | None:
    """The ``Content-Type`` of a static file by its extension, or None for a kind never served."""
    _, dot, extension = name.rpartition(".")
    return CONTENT_TYPES.get(extension) if dot else None


def rebase_page(body: bytes, depth: int) -> bytes:
    """A page written as if at the hub's root (``static/x.css``, ``./``), as served ``depth`` folders below it.

    Every relative ``href="…"`` and ``src="…"`` gets one ``../`` per folder (``./`` becomes
    ``../``), so that the page finds the hub's files both directly and behind a proxy that
    serves the hub under a path prefix; absolute URLs, fragments and schemes are left alone.
    (The policy's ``base-uri 'none'`` rules out a ``<base>`` element, and a script could only
    fix the links after the browser had already asked for them.)
    """
    if depth == 0:
        return body
    up = b"../" * depth

    def rebased(match: re.Match[bytes]) -> bytes:
        url = match[2].removeprefix(b"./")
        return match[1] + up + url + b'"'

    return _RELATIVE_URL.sub(rebased, body)


def etag(body: bytes) -> str:
    """A strong validator for ``body``: a quoted prefix of its SHA-256."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def not_modified(tag: str, if_none_match: str | None) -> bool:
    """Whether a request's ``If-None-Match`` value names ``tag`` (or ``*``): answer 304."""
    if if_none_match is None:
        return False
    candidates = [c.strip() for c in if_none_match.split(",")]
    return "*" in candidates or any(c.removeprefix("W/") == tag for c in candidates)


def security_headers(host: str | None) -> tuple[tuple[str, str], ...]:
    """The headers every web answer carries: a strict CSP, nosniff, no referrer, no framing.

    ``host`` is the request's ``Host``; when it is a plain host name or address (with an
    optional port), the WebSocket URLs of that host are named in ``connect-src`` next to
    ``'self'`` (which newer browsers already take to cover them).
    """
    connect = "'self'"
    if host is not None and _HOST.fullmatch(host.strip()):
        connect += f" ws://{host.strip()} wss://{host.strip()}"
    policy = (
        f"default-src 'self'; connect-src {connect}; img-src 'self' data:; object-src 'none';"
        " base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
    return (
        ("Content-Security-Policy", policy),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        ("Cross-Origin-Resource-Policy", "same-origin"),
        ("X-Frame-Options", "DENY"),
    )


# -- the browser session: a token in the URL once, then an HttpOnly cookie --------------------


def cookie_name(host: str | None) -> str:
    """The session cookie's name for a hub reached as ``host``: ``logctl-<port>``.

    Browsers share cookies between the ports of one host, so two hubs on one machine
    (or a hub and another local app) must not overwrite each other's cookie.
    """
    port = (host or "").rpartition(":")[2] if host and not host.endswith("]") else ""
    return f"logctl-{port}" if port.isascii() and port.isdigit() else "logctl"


def set_cookie(name: str, value: str, *, secure: bool) -> str:
    """A ``Set-Cookie`` value: the whole hub (``Path=/``), no script access, never sent from another site."""
    return f"{name}={value}; Path=/; HttpOnly; SameSite=Strict" + ("; Secure" if secure else "")


def cookie_values(headers: list[str], name: str) -> list[str]:
    """Every value of cookie ``name`` in the request's ``Cookie`` header values."""
    found = []
    for header in headers:
        for part in header.split(";"):
            key, eq, value = part.strip().partition("=")
            if eq and key == name:
                found.append(value.strip())
    return found


def without_token(path: str, query: str) -> str:
    """Where to redirect after taking the token: the same page with every other parameter kept, in order.

    Relative to the page (``./?match=b``, ``./a%2Fb?level=WARN``), so that a proxy serving the
    hub under a path prefix keeps it.
    """
    kept = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != TOKEN_PARAMETER]
    return "./" + path.rpartition("/")[2] + ("?" + urlencode(kept) if kept else "")
