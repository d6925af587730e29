"""Connections to PostgreSQL and the translation of driver errors into logctl's own."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Final, NoReturn

import psycopg
import psycopg.errors

from logctl.config import DatabaseTarget, redact_dsn
from logctl.errors import (
    AuthenticationFailed,
    DatabaseError,
    DatabaseUnavailable,
    PrivilegeError,
    SchemaMissing,
)

__all__ = ["CONNECT_TIMEOUT", "connect", "dsn_for", "raise_translated", "translating"]

CONNECT_TIMEOUT: Final = 5


def dsn_for(target: DatabaseTarget) -> str:
    """The DSN to connect to, starting the embedded server if the target is embedded."""
    if target.dsn is not None:
        return target.dsn
    from logctl.embedded import embedded_dsn

    return embedded_dsn()


def raise_translated(exc: psycopg.Error, dsn: str | None = None) -> NoReturn:
    """Raise the :class:`DatabaseError` that says in one sentence what ``exc`` means."""
    where = f" at {redact_dsn(dsn)}" if dsn else ""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
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
    if isinstance(exc, psycopg.OperationalError):
        lowered = text.lower()
        if "password authentication failed" in lowered or "no password supplied" in lowered:
            raise AuthenticationFailed(f"the database refused the credentials{where}") from exc
        if "does not exist" in lowered and ("database" in lowered or "role" in lowered):
            raise AuthenticationFailed(f"the database refused the connection{where}: {text}") from exc
        raise DatabaseUnavailable(f"cannot reach the database{where}: {text}") from exc
    if isinstance(exc, psycopg.errors.AdminShutdown | psycopg.errors.CannotConnectNow):
        raise DatabaseUnavailable(f"the database{where} is shutting down or restarting") from exc
    raise DatabaseError(f"database error{where}: {text}") from exc


@contextlib.contextmanager
def translating(dsn: str | None = None) -> Iterator[None]:
    """Turn any psycopg error raised inside the block into a :class:`DatabaseError`."""
    try:
        yield
    except psycopg.Error as exc:
        raise_translated(exc, dsn)


def connect(dsn: str, *, autocommit: bool = True) -> psycopg.Connection[tuple[object, ...]]:
    """Open one connection, failing with a precise :class:`DatabaseError`."""
    with translating(dsn):
        return psycopg.connect(dsn, autocommit=autocommit, connect_timeout=CONNECT_TIMEOUT)
