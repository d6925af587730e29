"""The web viewer's files at the hub's edge: read once from the package, answered from memory.

Which names may be asked for, their content types, the security headers and the caching
rules are decided in ``logctl.core.web`` and ``logctl.core.routes``; this module reads the
package data (``logctl/web/static/``) at start and makes the HTTP answers.
"""

from __future__ import annotations

import dataclasses
import sys
from importlib import resources

from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Response

from logctl.core import web
from logctl.errors import ConfigError

if sys.version_info >= (3, 11):
    from importlib.resources.abc import Traversable
else:  # pragma: no cover - Python 3.10
    from importlib.abc import Traversable

__all__ = ["Asset", "WebFiles", "load_web_files", "with_security_headers"]


@dataclasses.dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


@dataclasses.dataclass(frozen=True, slots=True)
class WebFiles:
    """The viewer's static files by name (``runs.js``, ``index.html``, ``sub/x.css``), and its pages
    by name and depth (``("thread.html", 1)``: rebased for ``/runs/{thread_id}``, :func:`logctl.core.web.rebase_page`)."""

    assets: dict[str, Asset]
    pages: dict[tuple[str, int], Asset]

    def reply(self, ws: ServerConnection, name: str, headers: Headers) -> Response:
        """The answer for file ``name``: 200 with the file, 304 if the client's copy is current, or 404."""
        return _answer(ws, self.assets.get(name), name, headers)

    def reply_page(self, ws: ServerConnection, name: str, depth: int, headers: Headers) -> Response:
        """The answer for page ``name`` served ``depth`` folders below the hub's root (its own body and ETag)."""
        return _answer(ws, self.pages.get((name, depth)), name, headers)


def _answer(ws: ServerConnection, asset: Asset | None, name: str, headers: Headers) -> Response:
    """200 with ``asset``, 304 if the client's copy is current, or 404 when there is none."""
    if asset is None:
        response = ws.respond(404, f"no static file {name[:200]!r}\n")
    elif web.not_modified(asset.etag, headers.get("If-None-Match")):
        response = dataclasses.replace(ws.respond(304, ""), body=b"")
        del response.headers["Content-Length"], response.headers["Content-Type"]
    else:
        response = dataclasses.replace(ws.respond(200, ""), body=asset.body)
        del response.headers["Content-Length"], response.headers["Content-Type"]
        response.headers["Content-Length"] = str(len(asset.body))
        response.headers["Content-Type"] = asset.content_type
    if asset is not None:
        response.headers["ETag"] = asset.etag
        response.headers["Cache-Control"] = web.CACHE_CONTROL
    return response


def load_web_files() -> WebFiles:
    """Read every servable file under the package's ``web/static`` (:class:`ConfigError` if a page is missing)."""
    root = resources.files("logctl.web").joinpath("static")
    assets: dict[str, Asset] = {}

    def walk(node: Traversable, prefix: str) -> None:
        for child in node.iterdir():
            name = prefix + child.name
            if child.is_dir():
                walk(child, name + "/")
            elif web.is_static_name(name):
                body = child.read_bytes()
                assets[name] = Asset(body, web.content_type(name) or "application/octet-stream", web.etag(body))

    walk(root, "")
    missing = [page for page in web.PAGES if page not in assets]
    if missing:
        raise ConfigError(f"the web viewer's files are missing from the installed package: {', '.join(missing)}")
    pages = {}
    for page in web.PAGES:
        for depth in range(web.MAX_PAGE_DEPTH + 1):
            body = web.rebase_page(assets[page].body, depth)
            pages[page, depth] = Asset(body, assets[page].content_type, web.etag(body))
    return WebFiles(assets, pages)


def with_security_headers(response: Response, host: str | None) -> Response:
    """``response`` with the web viewer's security headers (:func:`logctl.core.web.security_headers`) set."""
    for name, value in web.security_headers(host):
        if name in response.headers:
            del response.headers[name]
        response.headers[name] = value
    return response
