"""logctl: keep, stream and read the logs of workflow runs."""

from __future__ import annotations

from logctl.core.cursor import Cursor
from logctl.core.records import LEVELS, LogRecord
from logctl.errors import (
    AuthenticationFailed,
    ConfigError,
    DatabaseError,
    DatabaseUnavailable,
    HubUnavailable,
    InvalidRecord,
    LogctlError,
    PrivilegeError,
    ProtocolError,
    SchemaMissing,
    SchemaOutdated,
)

__version__ = "0.1.0"

__all__ = [
    "LEVELS",
    "AuthenticationFailed",
    "ConfigError",
    "Cursor",
    "DatabaseError",
    "DatabaseUnavailable",
    "HubUnavailable",
    "InvalidRecord",
    "LogRecord",
    "LogctlError",
    "PrivilegeError",
    "ProtocolError",
    "SchemaMissing",
    "SchemaOutdated",
    "__version__",
]
