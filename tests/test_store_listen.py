"""``Listener``: the LISTEN thread wakes on NOTIFY, and its failures are logged like every database error."""

from __future__ import annotations

import logging
import threading

import pytest
from helpers import records, wait_until
from psycopg.conninfo import make_conninfo

from logctl.store import LogStore
from logctl.store.listen import Listener

SECRET = "listen-s3cret-pw"


class _Wakes:
    """Counts the listener's calls (from its own thread)."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def __call__(self) -> None:
        with self._lock:
            self.count += 1


def test_listener_wakes_on_an_insert_notification(store: LogStore) -> None:
    """With a long poll interval, an insert's NOTIFY alone wakes the listener (after its first wake)."""
    wakes = _Wakes()
    listener = Listener(store.dsn, wakes, poll_interval=60.0)
    listener.start()
    try:
        wait_until(lambda: wakes.count >= 1, timeout=10)  # connected and listening
        before = wakes.count
        store.insert(records("t", 1))
        wait_until(lambda: wakes.count > before, timeout=10)
    finally:
        listener.stop()


def test_listener_logs_a_translated_one_line_error_without_password(
    server_dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    """An unreachable database is logged as logctl's one sentence naming the database, no password, no driver text."""
    dsn = make_conninfo(server_dsn, host="127.0.0.1", port=1, password=SECRET)
    listener = Listener(dsn, lambda: None)
    with caplog.at_level(logging.WARNING, logger="logctl.store.listen"):
        listener.start()
        try:
            wait_until(lambda: any("LISTEN" in r.getMessage() for r in caplog.records), timeout=20)
        finally:
            listener.stop()
    message = next(r.getMessage() for r in caplog.records if "LISTEN" in r.getMessage())
    assert "cannot reach the database at postgresql://" in message
    assert ":1/" in message
    assert SECRET not in message
    assert "\n" not in message
