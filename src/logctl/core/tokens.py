"""Scoped access tokens, as data: their format, their hash, the tokens file, and the checks.

A token is ``lgt_`` and 43 URL-safe characters (32 random bytes). Only its SHA-256 is kept:
a fast hash is enough for a high-entropy random secret (nobody can guess a preimage), and
it keeps the per-request check cheap. Lookups compare every stored hash with
:func:`hmac.compare_digest`. This module does no I/O; ``logctl.tokens_file`` reads and
writes the file.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable
from typing import Final

from logctl.errors import ConfigError

__all__ = [
    "READ",
    "SCOPES",
    "TOKEN_PREFIX",
    "WRITE",
    "TokenEntry",
    "TokenTable",
    "bearer_token",
    "hash_token",
    "new_token",
    "parse_scopes",
    "parse_tokens",
    "render_tokens",
    "session_value",
]

READ: Final = "read"
WRITE: Final = "write"
SCOPES: Final = (READ, WRITE)
TOKEN_PREFIX: Final = "lgt_"
_FORMAT_VERSION: Final = 1


def new_token() -> str:
    """A fresh random token (32 bytes from :mod:`secrets`)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """The stored form of ``token``: ``sha256:<hex>``."""
    return "sha256:" + hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def parse_scopes(text: str) -> frozenset[str]:
    """``read``, ``write`` or ``read,write`` as a set; :class:`ConfigError` for anything else."""
    scopes = frozenset(part.strip() for part in text.split(",") if part.strip())
    unknown = scopes - set(SCOPES)
    if not scopes or unknown:
        raise ConfigError(f"scope {text[:64]!r} is not read, write or read,write")
    return scopes


@dataclasses.dataclass(frozen=True, slots=True)
class TokenEntry:
    """One token as stored: its name, the hash of its secret, its scopes and when it was made."""

    name: str
    hash: str
    scopes: frozenset[str]
    created: str

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "hash": self.hash, "scopes": sorted(self.scopes), "created": self.created}


@dataclasses.dataclass(frozen=True, slots=True)
class TokenTable:
    """The tokens a hub accepts."""

    entries: tuple[TokenEntry, ...] = ()

    def find(self, token: str) -> TokenEntry | None:
        """The entry whose hash matches ``token``, compared in constant time against every entry."""
        digest = hash_token(token).encode()
        found: TokenEntry | None = None
        for entry in self.entries:
            if hmac.compare_digest(digest, entry.hash.encode()):
                found = entry
        return found

    def find_session(self, key: bytes, value: str) -> TokenEntry | None:
        """The entry whose browser session ``value`` (:func:`session_value` under ``key``) this is, or None.

        None once the token is revoked or replaced (a new token under the same name has another hash).
        """
        name, dot, _mac = value.rpartition(".")
        entry = self.named(name) if dot and key else None
        if entry is None:
            return None
        return entry if hmac.compare_digest(session_value(key, entry).encode(), value.encode("utf-8", "surrogatepass")) else None

    def named(self, name: str) -> TokenEntry | None:
        return next((e for e in self.entries if e.name == name), None)

    def with_token(self, name: str, token: str, scopes: Iterable[str], now: dt.datetime) -> TokenTable:
        """This table plus a new entry; :class:`ConfigError` if ``name`` is taken or invalid."""
        _check_name(name)
        if self.named(name) is not None:
            raise ConfigError(f"a token named {name!r} already exists: revoke it first or pick another name")
        entry = TokenEntry(name, hash_token(token), frozenset(scopes), now.astimezone(dt.timezone.utc).isoformat(timespec="seconds"))
        return TokenTable((*self.entries, entry))

    def without(self, name: str) -> TokenTable:
        """This table without the token ``name``; :class:`ConfigError` if there is none."""
        if self.named(name) is None:
            raise ConfigError(f"no token named {name!r}")
        return TokenTable(tuple(e for e in self.entries if e.name != name))


def session_value(key: bytes, entry: TokenEntry) -> str:
    """A browser session for ``entry``'s token: ``<name>.<HMAC-SHA256(key, name, hash)>``, never the token itself.

    Only a hub holding ``key`` can make one; it names the token's current hash, so revoking
    the token (or replacing it) ends every session made from it.
    """
    mac = hmac.new(key, b"logctl-session-v1\0" + entry.name.encode() + b"\0" + entry.hash.encode(), hashlib.sha256)
    return f"{entry.name}.{mac.hexdigest()}"


def _check_name(name: str) -> None:
    if not name or len(name) > 64 or not all(c.isalnum() or c in "-_.@" for c in name) or not name.isascii():
        raise ConfigError(f"token name {name[:64]!r} must be 1-64 ASCII letters, digits or -_.@")


def parse_tokens(text: str, source: str) -> TokenTable:
    """Parse a tokens file's text; :class:`ConfigError` naming ``source`` when it is not one."""
    if not text.strip():
        return TokenTable()
    try:
        data = json.loads(text)
        raw = data["tokens"]
        entries = []
        for item in raw:
            scopes = frozenset(str(s) for s in item["scopes"])
            if not scopes or scopes - set(SCOPES):
                raise ValueError(f"bad scopes {sorted(scopes)}")
            hashed = str(item["hash"])
            if not hashed.startswith("sha256:"):
                raise ValueError("unknown hash kind")
            entries.append(TokenEntry(str(item["name"]), hashed, scopes, str(item.get("created", ""))))
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"the tokens file {source} is not valid: {exc}") from None
    return TokenTable(tuple(entries))


def render_tokens(table: TokenTable) -> str:
    """The tokens file's text for ``table``."""
    return json.dumps({"version": _FORMAT_VERSION, "tokens": [e.to_json() for e in table.entries]}, indent=2) + "\n"


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header value, or None."""
    if header is None:
        return None
    kind, _, token = header.strip().partition(" ")
    if kind.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
