"""Settings: where the database is, where the hub is, and how to describe them safely."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Final, Literal

from logctl.errors import ConfigError

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "DEFAULT_SERVER",
    "DatabaseTarget",
    "data_dir",
    "redact_dsn",
    "resolve_database",
    "resolve_server",
    "websocket_url",
]

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 8765
DEFAULT_SERVER: Final = f"ws://{DEFAULT_HOST}:{DEFAULT_PORT}"


@dataclasses.dataclass(frozen=True, slots=True)
class DatabaseTarget:
    """A database to use: a DSN, or the embedded server (started on demand)."""

    source: Literal["option", "env", "embedded"]
    dsn: str | None = None

    def describe(self) -> str:
        """A one-line description, password removed."""
        if self.dsn is None:
            return f"embedded PostgreSQL in {data_dir() / 'pgdata'}"
        origin = {"option": "--database-url", "env": "DATABASE_URL"}.get(self.source, self.source)
        return f"{redact_dsn(self.dsn)} (from {origin})"


def resolve_database(option: str | None) -> DatabaseTarget:
    """``--database-url`` wins, then ``DATABASE_URL``; with neither, the embedded server."""
    if option:
        return DatabaseTarget("option", option)
    env = os.environ.get("DATABASE_URL")
    if env:
        return DatabaseTarget("env", env)
    return DatabaseTarget("embedded")


def resolve_server(option: str | None) -> str:
    """The hub URL: ``--server``, then ``LOGCTL_SERVER``, then :data:`DEFAULT_SERVER`."""
    url = option or os.environ.get("LOGCTL_SERVER") or DEFAULT_SERVER
    if not url.startswith(("ws://", "wss://")):
        raise ConfigError(f"hub URL {url!r} must start with ws:// or wss://")
    return url.rstrip("/")


def websocket_url(server: str) -> str:
    """The hub's WebSocket endpoint for a hub URL given with or without its ``/ws`` path
    (the hub announces ``ws://host:port/ws``; ``ws://host:port`` means the same hub)."""
    server = server.rstrip("/")
    return server if server.endswith("/ws") else server + "/ws"


def data_dir() -> Path:
    """``LOGCTL_DATA_DIR``, else ``$XDG_DATA_HOME/logctl``, else ``~/.local/share/logctl``."""
    explicit = os.environ.get("LOGCTL_DATA_DIR")
    if explicit:
        return Path(explicit).expanduser().resolve()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base).expanduser().resolve() / "logctl"


def redact_dsn(dsn: str) -> str:
    """Describe a DSN as ``postgresql://user@host:port/dbname`` with no password."""
    # The storage layer parses it (with psycopg, the only place that imports it). psycopg loads
    # here, on first use, not with this module: importing it takes about 0.2 s of CPU, which
    # ``logctl send`` to a hub never needs. A first import of psycopg racing between two threads
    # can see a half-initialised module, so every path that uses a database imports it on the
    # caller's thread before starting any (the direct transport, the store, the hub).
    from logctl.store.connect import redact_dsn as redact

    return redact(dsn)
