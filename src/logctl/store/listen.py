"""The LISTEN side of the wake-ups: a thread with its own connection that calls back on NOTIFY.

The trigger of migration 002 sends a notification on the schema's channel after every
insert, whoever makes it. :class:`Listener` waits for those and calls ``wake`` for each, and
at least every ``poll_interval`` seconds anyway, so a lost notification costs at most that.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Final

from psycopg import sql

from logctl.core.retry import Attempt, RetryPolicy
from logctl.errors import LogctlError
from logctl.store.connect import connect, translating

__all__ = ["Listener", "notify_channel"]

logger = logging.getLogger("logctl.store.listen")

POLL_INTERVAL: Final = 1.0  # wake at least this often, even with no NOTIFY
RETRY: Final = RetryPolicy(base=0.1, cap=5.0)  # waits between LISTEN reconnects, no jitter


def notify_channel(schema: str) -> str:
    """The schema's NOTIFY channel: ``logctl_<schema>``, or ``logctl_<md5 of schema>`` when that would
    pass PostgreSQL's 63-byte limit on names. The trigger of migration 004 applies the same rule."""
    if len(schema.encode("utf-8")) <= 56:
        return "logctl_" + schema
    return "logctl_" + hashlib.md5(schema.encode("utf-8"), usedforsecurity=False).hexdigest()


class Listener:
    """LISTENs on the schema's channel on its own thread and connection; reconnects with backoff."""

    def __init__(
        self,
        dsn: str,
        wake: Callable[[], None],
        *,
        stop: threading.Event | None = None,
        poll_interval: float = POLL_INTERVAL,
    ) -> None:
        self._dsn = dsn
        self._wake = wake
        self._stop = stop if stop is not None else threading.Event()
        self._poll_interval = poll_interval
        self._thread = threading.Thread(target=self._run, name="logctl-listen", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to end (within one poll interval); does not wait for it."""
        self._stop.set()

    def _run(self) -> None:
        attempt = Attempt(RETRY)
        while not self._stop.is_set():
            try:
                # connect() and translating(): the same error translation and password scrubbing
                # as every other connection, so the log below never shows raw driver text.
                with connect(self._dsn) as conn, translating(self._dsn):
                    schema = conn.execute("SELECT current_schema()").fetchone()
                    channel = notify_channel(str(schema[0]) if schema and schema[0] else "public")
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                    attempt = attempt.reset()
                    self._wake()  # catch anything committed while we were not listening
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=self._poll_interval, stop_after=1):
                            pass
                        self._wake()
            except LogctlError as exc:
                attempt = attempt.failed(time.monotonic())
                logger.warning("LISTEN connection failed, retrying in %.1fs: %s", attempt.delay, exc)
                self._stop.wait(attempt.delay)
            except Exception:  # a bug must not end the hub's wake-ups for good: log it and start again
                attempt = attempt.failed(time.monotonic())
                logger.exception("LISTEN loop failed unexpectedly, retrying in %.1fs", attempt.delay)
                self._stop.wait(attempt.delay)
