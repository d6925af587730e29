"""How a client words what retrying cannot fix: the hub refused its token (HTTP 401/403, or a
``forbidden`` frame), or the client does not trust the hub's TLS certificate."""

from __future__ import annotations

import http.client
import json
import ssl

from logctl.errors import HubRefused, HubUntrusted

__all__ = ["plain_to_tls_hint", "refused_by_hub", "untrusted_hub"]


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


def untrusted_hub(error: BaseException, where: str, cafile: str | None) -> HubUntrusted | None:
    """The :class:`HubUntrusted` for a failed TLS certificate verification of ``where``, or None for any other error.

    ``error`` may be the ``ssl.SSLCertVerificationError`` itself or a ``urllib`` error whose
    ``reason`` is one.
    """
    reason = getattr(error, "reason", None) if not isinstance(error, ssl.SSLCertVerificationError) else error
    if not isinstance(reason, ssl.SSLCertVerificationError):
        return None
    why = (reason.verify_message or reason.reason or str(reason)).rstrip(".")
    trusted = f"the CAs in {cafile} (LOGCTL_CACERT)" if cafile else "the system's CAs; set LOGCTL_CACERT to a PEM file of the hub's CA"
    return HubUntrusted(f"the hub's certificate is not trusted: {why} ({where}; verified against {trusted})")


def plain_to_tls_hint(error: BaseException, secure: bool) -> str:
    """A hint to add when a plain ``ws://``/``http://`` client got no HTTP answer at all, as from a hub serving TLS."""
    from websockets.exceptions import InvalidMessage

    if secure or not isinstance(error, (InvalidMessage, http.client.RemoteDisconnected, http.client.BadStatusLine)):
        return ""
    return " (if the hub serves TLS, use a wss:// or https:// URL)"
