"""Settings: where the database is, where the hub is, and how to describe them safely."""

from __future__ import annotations

import dataclasses
import os
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal

from logctl.errors import ConfigError

if TYPE_CHECKING:
    import ssl

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "DEFAULT_SERVER",
    "DatabaseTarget",
    "HubAddress",
    "data_dir",
    "redact_dsn",
    "resolve_cacert",
    "resolve_database",
    "resolve_hub",
    "resolve_server",
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


@dataclasses.dataclass(frozen=True, slots=True)
class HubAddress:
    """Where a hub is, as every client reaches it: its WebSocket URL, its HTTP base, TLS, token.

    Parsed by :meth:`parse` from what users give: ``ws://h:p``, ``ws://h:p/ws``,
    ``http://h:p``, ``wss://host/prefix/ws``. A path before the final ``/ws`` is the prefix
    of a proxy in front of the hub; it is kept for the stream *and* for HTTP (history).
    ``cafile`` (a PEM file of the CAs to trust for ``wss``/``https`` instead of the system's,
    ``LOGCTL_CACERT``) and ``token`` (sent by :meth:`headers`) are set by :func:`resolve_hub`.
    """

    url: str           #: as the user gave it, without a trailing ``/`` (for messages)
    secure: bool       #: wss/https
    netloc: str        #: host[:port]
    prefix: str = ""   #: "" or a path such as ``/logctl`` (no trailing ``/``)
    cafile: str | None = None
    token: str | None = dataclasses.field(default=None, repr=False)

    @classmethod
    def parse(cls, text: str, *, cafile: str | None = None, token: str | None = None) -> HubAddress:
        """The address a hub URL means; ConfigError for anything but a ws/wss/http/https URL with a host."""
        url = text.strip().rstrip("/")
        try:
            parts = urllib.parse.urlsplit(url)
            parts.port  # noqa: B018  (raises ValueError for a port that is not a number in range)
        except ValueError as exc:
            raise ConfigError(f"hub URL {text!r} is not a valid URL: {exc}") from None
        scheme = parts.scheme.lower()
        if scheme not in ("ws", "wss", "http", "https"):
            raise ConfigError(f"hub URL {text!r} must start with ws://, wss://, http:// or https://")
        if not parts.hostname:
            raise ConfigError(f"hub URL {text!r} names no host")
        if parts.query or parts.fragment:
            raise ConfigError(f"hub URL {text!r} must not have a query or a fragment")
        path = parts.path.rstrip("/")
        prefix = path[: -len("/ws")] if path.endswith("/ws") else path
        return cls(url, scheme in ("wss", "https"), parts.netloc, prefix, cafile, token)

    @property
    def ws_url(self) -> str:
        """The WebSocket endpoint: ``ws[s]://netloc/prefix/ws``."""
        return f"{'wss' if self.secure else 'ws'}://{self.netloc}{self.prefix}/ws"

    @property
    def http_base(self) -> str:
        """The base of the HTTP routes, prefix kept: ``http[s]://netloc/prefix``."""
        return f"{'https' if self.secure else 'http'}://{self.netloc}{self.prefix}"

    def http_url(self, path: str, query: str = "") -> str:
        """The URL of an HTTP route (``path`` starts with ``/``) behind the prefix."""
        return f"{self.http_base}{path}{'?' + query if query else ''}"

    def headers(self) -> dict[str, str]:
        """Headers every request to the hub carries: the bearer token, when there is one."""
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def ssl_context(self) -> ssl.SSLContext | None:
        """TLS settings for ``wss``/``https``: certificate and host name verified against the system CAs,
        or only those of ``cafile``; None for plain ones. ConfigError if ``cafile`` cannot be loaded."""
        if not self.secure:
            return None
        import ssl

        try:
            return ssl.create_default_context(cafile=self.cafile)
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            why = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or str(exc) or type(exc).__name__
            raise ConfigError(f"cannot load the CA certificates in {self.cafile} (LOGCTL_CACERT): {why}") from None

    def __str__(self) -> str:
        return self.url


def resolve_hub(option: str | None) -> HubAddress:
    """The hub's address: ``--server``, then ``LOGCTL_SERVER``, then :data:`DEFAULT_SERVER`; the token of
    :func:`resolve_token`; the CAs of ``LOGCTL_CACERT``, checked now for a ``wss``/``https`` URL."""
    address = HubAddress.parse(
        option or os.environ.get("LOGCTL_SERVER") or DEFAULT_SERVER, cafile=resolve_cacert(), token=resolve_token(),
    )
    address.ssl_context()  # an unreadable LOGCTL_CACERT is a ConfigError now, not a retried failure later
    return address


def resolve_cacert() -> str | None:
    """``LOGCTL_CACERT``: a PEM file of the CA certificates to trust for a ``wss``/``https`` hub, instead of the system's."""
    return os.environ.get("LOGCTL_CACERT", "").strip() or None


def resolve_token() -> str | None:
    """The hub token: ``LOGCTL_TOKEN``, else the first line of the file named by ``LOGCTL_TOKEN_FILE``, else None.

    Never a command-line option, where ``ps`` would show it.
    """
    token = os.environ.get("LOGCTL_TOKEN", "").strip()
    if token:
        return token
    path = os.environ.get("LOGCTL_TOKEN_FILE")
    if not path:
        return None
    try:
        text = Path(path).expanduser().read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the token file {path} (LOGCTL_TOKEN_FILE): {getattr(exc, 'strerror', None) or exc}") from None
    token = (text.strip().splitlines() or [""])[0].strip()
    if not token:
        raise ConfigError(f"the token file {path} (LOGCTL_TOKEN_FILE) is empty")
    return token


def resolve_server(option: str | None) -> str:
    """The hub URL as given (checked by :meth:`HubAddress.parse`), for settings that keep text."""
    return resolve_hub(option).url


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
