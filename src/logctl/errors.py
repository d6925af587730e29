"""The one error hierarchy of logctl.

Every error that logctl raises on purpose is a :class:`LogctlError`; the CLI turns it
into one sentence on stderr and an exit code, in one place (``logctl.cli``)::

    LogctlError                      exit 1
    ├── ConfigError                  exit 2   bad setting or option value
    ├── DatabaseError                exit 3   (hub: 500 database_error)
    │   ├── DatabaseDataError                 a value the database refused or cannot load
    │   ├── DatabaseUnavailable               server unreachable or went away (hub: 503 database_unavailable)
    │   ├── AuthenticationFailed              bad credentials                  (hub: 503)
    │   ├── SchemaMissing                     no thread_logs table: run `logctl apply-schema` (hub: 503)
    │   ├── SchemaOutdated                    pending migrations and --no-migrate
    │   ├── MigrationEdited                   an applied migration's file has changed since
    │   └── PrivilegeError                    role lacks INSERT/DELETE/CREATE rights (hub: 503)
    ├── InvalidRecord                exit 1   a log record failed validation (has a ``code``)
    ├── ProtocolError                exit 1   a malformed frame or request (has a ``code``)
    ├── HubUnavailable               exit 4   no logctl hub answers at the URL
    ├── HubRefused                   exit 5   the hub refused the token (401/403, forbidden)
    └── HubUntrusted                 exit 6   the hub's TLS certificate failed verification

Messages name the object involved and never contain a DSN password. A hub never sends a
:class:`DatabaseError`'s message to its clients, since it names the database, user and host:
they get the class's ``public_message``, and the hub's log gets the message.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationFailed",
    "ConfigError",
    "DatabaseDataError",
    "DatabaseError",
    "DatabaseUnavailable",
    "HubRefused",
    "HubUnavailable",
    "HubUntrusted",
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
    #: The database cannot serve anyone now (down, or logctl is set up wrong), as opposed
    #: to one request failing: a hub answers 503 ``database_unavailable``, else 500 ``database_error``.
    unavailable: bool = False
    #: What a hub tells its clients instead of the message (no database, user, host or driver text).
    public_message: str = "the database failed to process the request; the hub's log has the details"


class DatabaseDataError(DatabaseError):
    """The database refused a value (out of range, a violated constraint) or sent one logctl cannot hold."""

    public_message = "the database could not process a value of this request; the hub's log has the details"


class DatabaseUnavailable(DatabaseError):
    """The database server cannot be reached, or the connection was lost."""

    unavailable = True
    public_message = "the hub's database is unavailable; try again later"


class AuthenticationFailed(DatabaseError):
    """The server refused the credentials."""

    unavailable = True
    public_message = "the hub cannot log in to its database; the hub's log has the details"


class SchemaMissing(DatabaseError):
    """The ``thread_logs`` table (or logctl's additions to it) is not there."""

    unavailable = True
    public_message = "the hub's database schema is missing or out of date; the hub's log has the details"


class SchemaOutdated(DatabaseError):
    """Migrations are pending and logctl was told not to apply them."""


class MigrationEdited(DatabaseError):
    """An applied migration's file no longer matches the checksum recorded when it ran."""


class PrivilegeError(DatabaseError):
    """The database role lacks a privilege that the operation needs."""

    unavailable = True
    public_message = "the hub's database role lacks a privilege; the hub's log has the details"


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


class HubRefused(LogctlError):
    """The hub refused this client's token: missing, unknown, revoked, or without the scope. Not retried."""

    exit_code = 5


class HubUntrusted(LogctlError):
    """The hub's TLS certificate failed verification (unknown CA, wrong name, expired). Not retried."""

    exit_code = 6
