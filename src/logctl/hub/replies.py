"""The hub's plain HTTP answers, made with websockets' public ``ServerConnection.respond()``."""

from __future__ import annotations

import json

from websockets.asyncio.server import ServerConnection
from websockets.http11 import Response

from logctl.core import routes

__all__ = ["json_reply", "refusal_reply", "text_reply"]


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
    """The JSON error answer of a routing :class:`~logctl.core.routes.Refusal`, with its extra headers."""
    response = json_reply(ws, refusal.status, {"error": {"code": refusal.code, "message": refusal.message}})
    for name, value in refusal.headers:
        response.headers[name] = value
    return response
