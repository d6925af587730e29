"""How a client words a hub's refusal of its token (HTTP 401/403, or a ``forbidden`` frame)."""

from __future__ import annotations

import json

from logctl.errors import HubRefused

__all__ = ["refused_by_hub"]


def refused_by_hub(status: int, body: bytes | str | None, where: str, *, has_token: bool) -> HubRefused | None:
    """The :class:`HubRefused` for an HTTP answer of ``status`` from ``where``, or None if it is no refusal of the token."""
    if status not in (401, 403):
        return None
    if status == 401 and not has_token:
        return HubRefused(f"the hub refused the token: none was given; set LOGCTL_TOKEN or LOGCTL_TOKEN_FILE (HTTP 401 from {where})")
    try:
        message = str(json.loads(body or b"")["error"]["message"])
    except (ValueError, KeyError, TypeError):
        message = "no reason given"
    return HubRefused(f"the hub refused the token: {message[:300]} (HTTP {status} from {where})")
