"""The hub's plain HTTP answers, made with websockets' public ``ServerConnection.respond()``."""

from __future__ import annotations

import html
import json

from websockets.asyncio.server import ServerConnection
from websockets.http11 import Response

from logctl.core import routes

__all__ = ["json_reply", "login_reply", "refusal_reply", "text_reply"]


def text_reply(ws: ServerConnection, status: int, text: str, content_type: str) -> Response:
    """An HTTP response whose body is ``text`` of ``content_type``, made by websockets' ``respond()``."""
    response = ws.respond(status, text)
    del response.headers["Content-Type"]
    response.headers["Content-Type"] = content_type
    return response


def json_reply(ws: ServerConnection, status: int, body: object) -> Response:
    """An HTTP response with ``body`` as JSON."""
    return text_reply(ws, status, json.dumps(body, ensure_ascii=False), "application/json")


def refusal_reply(ws: ServerConnection, refusal: routes.Refusal) -> Response:
    """The error answer of a routing :class:`~logctl.core.routes.Refusal`, with its extra headers: JSON, or a page for a page."""
    if refusal.page:
        response = text_reply(ws, refusal.status, _refusal_page(refusal), "text/html; charset=utf-8")
    else:
        response = json_reply(ws, refusal.status, {"error": {"code": refusal.code, "message": refusal.message}})
    for name, value in refusal.headers:
        response.headers[name] = value
    return response


def login_reply(ws: ServerConnection, login: routes.Login) -> Response:
    """303 to the page without its token, setting the session cookie; never cached."""
    response = ws.respond(303, "")
    response.headers["Location"] = login.location
    response.headers["Cache-Control"] = "no-store"
    if login.set_cookie is not None:
        response.headers["Set-Cookie"] = login.set_cookie
    return response


_HOW_TO_LOG_IN = (
    "This hub needs a token with the read scope. Open this page once with ?token=&lt;token&gt; at the end of"
    " its address: the hub then keeps a session cookie and takes the token out of the address."
    " <code>logctl token create NAME --scope read</code> prints a token."
)


def _refusal_page(refusal: routes.Refusal) -> str:
    """A small page saying why (the message is text, escaped); no script, no style."""
    how = f"<p>{_HOW_TO_LOG_IN}</p>" if refusal.status in (401, 403) else ""
    # No stylesheet or link: the page may sit at any depth under a proxy's prefix; the browser's
    # own light or dark style is enough (and the CSP forbids inline style).
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><meta name="color-scheme" content="light dark">'
        f"<title>logctl: {refusal.status}</title></head><body><h1>logctl</h1><main>"
        f'<p id="refusal" data-code="{html.escape(refusal.code)}">{html.escape(refusal.message)}</p>{how}'
        "</main></body></html>\n"
    )
