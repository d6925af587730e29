"""Connections to PostgreSQL, the translation of driver errors into logctl's own, and password scrubbing.

Every connection logctl opens (the pool's, LISTEN's, migrations') goes through :func:`connect` or
:func:`translating`, so every driver error becomes one :class:`~logctl.errors.DatabaseError`
whose text holds no password.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Final, NoReturn

import psycopg
import psycopg.errors

from logctl.errors import (
    AuthenticationFailed,
    ConfigError,
    DatabaseDataError,
    DatabaseError,
    DatabaseUnavailable,
    PrivilegeError,
    SchemaMissing,
)

__all__ = [
    "CONNECT_TIMEOUT",
    "check_dsn",
    "connect",
    "raise_translated",
    "redact_dsn",
    "scrub_passwords",
    "translating",
]

CONNECT_TIMEOUT: Final = 5

_SCHEME: Final = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")

# A password inside a URL (``scheme://user:secret@``) or a key/value DSN (``password=secret``).
_URL_PASSWORD: Final = re.compile(r"(\w+://[^:/@\s]*:)[^@\s]*@")
_KV_PASSWORD: Final = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def redact_dsn(dsn: str) -> str:
    """Describe a DSN as ``postgresql://user@host:port/dbname`` with no password."""
    from psycopg.conninfo import conninfo_to_dict

    try:  # psycopg's parser; no connection is made
        parts = conninfo_to_dict(dsn)
    except Exception:
        return "<unparseable database URL>"
    user = str(parts.get("user") or "")
    host = str(parts.get("host") or "localhost")
    port = parts.get("port")
    db = str(parts.get("dbname") or "")
    where = f"{host}:{port}" if port else f"{host}"
    if host.startswith("/"):
        where = f"[socket {host}]"
    return f"postgresql://{user + '@' if user else ''}{where}/{db}"


def scrub_passwords(text: str, dsn: str | None = None) -> str:
    """``text`` with ``dsn`` replaced by its redacted form and any other password masked."""
    if dsn and dsn in text:
        text = text.replace(dsn, redact_dsn(dsn))
    text = _URL_PASSWORD.sub(r"\1***@", text)
    return _KV_PASSWORD.sub(r"\1***", text)


def raise_translated(exc: psycopg.Error, dsn: str | None = None) -> NoReturn:
    """Raise the :class:`DatabaseError` that says in one sentence what ``exc`` means."""
    where = f" at {redact_dsn(dsn)}" if dsn else ""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = scrub_passwords(text, dsn)
    if isinstance(exc, psycopg.errors.UndefinedTable):
        raise SchemaMissing(f"the thread_logs table does not exist{where}: run `logctl apply-schema`") from exc
    if isinstance(exc, psycopg.errors.UndefinedColumn | psycopg.errors.UndefinedFunction):
        raise SchemaMissing(
            f"the thread_logs schema{where} is out of date ({text}): run `logctl apply-schema`"
        ) from exc
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        raise PrivilegeError(f"the database role lacks a privilege{where}: {text}") from exc
    if isinstance(exc, psycopg.errors.InvalidPassword | psycopg.errors.InvalidAuthorizationSpecification):
        raise AuthenticationFailed(f"the database refused the credentials{where}: {text}") from exc
    # Before OperationalError: both are subclasses of it.
    if isinstance(exc, psycopg.errors.AdminShutdown | psycopg.errors.CannotConnectNow):
        raise DatabaseUnavailable(f"the database{where} is shutting down or restarting") from exc
    if isinstance(exc, psycopg.OperationalError):
        lowered = text.lower()
        if "password authentication failed" in lowered or "no password supplied" in lowered:
            raise AuthenticationFailed(f"the database refused the credentials{where}") from exc
        if "not permitted to log in" in lowered:
            raise AuthenticationFailed(f"the database refused the login{where}: {text}") from exc
        if "does not exist" in lowered and ("database" in lowered or "role" in lowered):
            raise AuthenticationFailed(f"the database refused the connection{where}: {text}") from exc
        raise DatabaseUnavailable(f"cannot reach the database{where}: {text}") from exc
    if isinstance(exc, psycopg.DataError | psycopg.IntegrityError):  # SQLSTATE 22/23, or a value psycopg cannot load
        raise DatabaseDataError(f"the database refused or could not load a value{where}: {text}") from exc
    raise DatabaseError(f"database error{where}: {text}") from exc


@contextlib.contextmanager
def translating(dsn: str | None = None) -> Iterator[None]:
    """Turn any psycopg error raised inside the block into a :class:`DatabaseError`."""
    try:
        yield
    except psycopg.Error as exc:
        raise_translated(exc, dsn)


def check_dsn(dsn: str) -> None:
    """Raise :class:`ConfigError` unless ``dsn`` is a ``postgresql://`` URL or key=value string psycopg can parse.

    The value itself is never echoed (it may hold a password); a foreign URL's scheme is.
    """
    from psycopg.conninfo import conninfo_to_dict

    expected = "expected postgresql://user@host:port/dbname (or key=value settings such as 'host=db dbname=app')"
    scheme = _SCHEME.match(dsn.strip())
    if scheme is not None and scheme.group(1).lower() not in ("postgresql", "postgres"):
        raise ConfigError(f"the database URL is a {scheme.group(1)}:// URL; logctl needs PostgreSQL: {expected}")
    if scheme is None and "=" not in dsn:
        raise ConfigError(f"the database URL is not a postgresql:// URL: {expected}")
    try:
        conninfo_to_dict(dsn)
    except psycopg.Error as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConfigError(f"the database URL is not valid: {scrub_passwords(first, dsn)}") from None


def connect(dsn: str, *, autocommit: bool = True) -> psycopg.Connection[tuple[object, ...]]:
    """Open one connection, failing with a precise :class:`DatabaseError`."""
    check_dsn(dsn)
    with translating(dsn):
        return psycopg.connect(dsn, autocommit=autocommit, connect_timeout=CONNECT_TIMEOUT)
