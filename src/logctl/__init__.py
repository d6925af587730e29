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
from logctl.handler import LogctlHandler
from logctl.producer import (
    ProducerStats,
    configure_producer,
    emit_log,
    flush_logs,
    get_log_context,
    log_context,
    producer_stats,
    publish_log,
    set_log_context,
    with_log_context,
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
    "LogctlHandler",
    "PrivilegeError",
    "ProducerStats",
    "ProtocolError",
    "SchemaMissing",
    "SchemaOutdated",
    "__version__",
    "configure_producer",
    "emit_log",
    "flush_logs",
    "get_log_context",
    "log_context",
    "producer_stats",
    "publish_log",
    "set_log_context",
    "with_log_context",
]
