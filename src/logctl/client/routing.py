"""Where a producer ships to: a hub, or PostgreSQL directly. See docs/producers.md."""

from __future__ import annotations

import dataclasses
import os
from typing import Literal

from logctl.client.transports import DatabaseTransport, HubTransport, Transport
from logctl.config import DEFAULT_SERVER, DatabaseTarget, HubAddress, resolve_database, resolve_hub, resolve_token
from logctl.errors import ConfigError, DatabaseUnavailable, HubUnavailable, LogctlError

__all__ = ["Route", "choose_route"]


@dataclasses.dataclass(frozen=True, slots=True)
class Route:
    """A hub address or a database target, and why it was chosen."""

    server: HubAddress | None
    database: DatabaseTarget | None
    reason: str

    def describe(self) -> str:
        if self.server is not None:
            return f"the logctl hub at {self.server}"
        assert self.database is not None
        return self.database.describe()

    def transport(self, producer_id: str, *, window: int = 8) -> Transport:
        if self.server is not None:
            return HubTransport(self.server, producer_id, window=window)
        assert self.database is not None
        return DatabaseTransport(self.database, producer_id)

    def unavailable(self, message: str) -> LogctlError:
        """The error that says this destination could not be reached."""
        return HubUnavailable(message) if self.server is not None else DatabaseUnavailable(message)


def choose_route(server: str | None, database_url: str | None, *, fallback: Literal["hub", "embedded"]) -> Route:
    """Options first, then ``LOGCTL_SERVER``, then ``DATABASE_URL``, then ``fallback``.

    ``fallback="hub"`` means the hub at :data:`~logctl.config.DEFAULT_SERVER` (``logctl
    send``); ``"embedded"`` means the embedded PostgreSQL (the Python API).
    """
    if server and database_url:
        raise ConfigError("give a hub (--server) or a database (--database-url), not both")
    if server:
        return Route(resolve_hub(server), None, "--server")
    if database_url:
        return Route(None, resolve_database(database_url), "--database-url")
    if os.environ.get("LOGCTL_SERVER"):
        return Route(resolve_hub(None), None, "LOGCTL_SERVER")
    if os.environ.get("DATABASE_URL"):
        return Route(None, resolve_database(None), "DATABASE_URL")
    if fallback == "hub":
        return Route(HubAddress.parse(DEFAULT_SERVER, token=resolve_token()), None, "default")
    return Route(None, DatabaseTarget("embedded"), "default")
