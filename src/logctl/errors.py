"""The one error hierarchy of logctl.

Every error that logctl raises on purpose is a :class:`LogctlError`; the CLI turns it
into one sentence on stderr and an exit code, in one place (``logctl.cli``)::

    LogctlError                      exit 1
    ├── ConfigError                  exit 2   bad setting or option value
    ├── DatabaseError                exit 3
    │   ├── DatabaseUnavailable               server unreachable or went away
    │   ├── AuthenticationFailed              bad credentials
    │   ├── SchemaMissing                     no thread_logs table: run `logctl apply-schema`
    │   ├── SchemaOutdated                    pending migrations and --no-migrate
    │   ├── MigrationEdited                   an applied migration's file has changed since
    │   └── PrivilegeError                    role lacks INSERT/DELETE/CREATE rights
    ├── InvalidRecord                exit 1   a log record failed validation (has a ``code``)
    ├── ProtocolError                exit 1   a malformed frame or request (has a ``code``)
    └── HubUnavailable               exit 4   no logctl hub answers at the URL

Messages name the object involved and never contain a DSN password.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationFailed",
    "ConfigError",
    "DatabaseError",
    "DatabaseUnavailable",
    "HubUnavailable",
    "InvalidRecord",
    "LogctlError",
    "MigrationEdited",
    "PrivilegeError",
    "ProtocolError",
    "SchemaMissing",
    "SchemaOutdated",
]


class LogctlError(Exception):
    """Base class of every error that logctl raises on purpose."""

    exit_code = 1


class ConfigError(LogctlError):
    """A setting or option has a value logctl cannot use."""

    exit_code = 2


class DatabaseError(LogctlError):
    """Something went wrong talking to PostgreSQL."""

    exit_code = 3


class DatabaseUnavailable(DatabaseError):
    """The database server cannot be reached, or the connection was lost."""


class AuthenticationFailed(DatabaseError):
    """The server refused the credentials."""


class SchemaMissing(DatabaseError):
    """The ``thread_logs`` table (or logctl's additions to it) is not there."""


class SchemaOutdated(DatabaseError):
    """Migrations are pending and logctl was told not to apply them."""


class MigrationEdited(DatabaseError):
    """An applied migration's file no longer matches the checksum recorded when it ran."""


class PrivilegeError(DatabaseError):
    """The database role lacks a privilege that the operation needs."""


class InvalidRecord(LogctlError):
    """A log record failed validation. ``code`` is a stable machine-readable reason."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class ProtocolError(LogctlError):
    """A frame or HTTP request that logctl cannot accept. ``code`` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class HubUnavailable(LogctlError):
    """No logctl hub answers at the configured URL."""

    exit_code = 4
