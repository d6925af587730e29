"""``Listener``: the LISTEN thread wakes on NOTIFY in any schema, and its failures are logged like every database error."""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from helpers import records, wait_until
from psycopg import sql
from psycopg.conninfo import make_conninfo

from logctl.store import LogStore
from logctl.store.listen import Listener, notify_channel
from logctl.store.migrate import apply_migrations

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


@contextlib.contextmanager
def _schema(server_dsn: str, name: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """A connection whose search_path is a new schema ``name`` with logctl's migrations (dropped afterwards)."""
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
        try:
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(name)))
            apply_migrations(conn)
            yield conn
        finally:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))


@pytest.mark.parametrize(
    "length_and_char",
    [(56, "s"), (57, "s"), (63, "s"), (63, "é")],  # é is two bytes: 31 of them and one "s"
    ids=["56-bytes", "57-bytes", "63-bytes", "63-bytes-multibyte"],
)
def test_a_schema_of_any_name_length_notifies_on_the_channel_the_listener_derives(
    server_dsn: str, length_and_char: tuple[int, str]
) -> None:
    """Inserts into a schema with a name of up to 63 bytes succeed, and NOTIFY the channel notify_channel() names."""
    length, char = length_and_char
    unique = uuid.uuid4().hex[:8]
    name = (char * ((length - 8) // len(char.encode())) + unique)
    name = "s" * (length - len(name.encode())) + name
    assert len(name.encode()) == length
    with _schema(server_dsn, name) as conn, psycopg.connect(server_dsn, autocommit=True) as listener:
        channel = notify_channel(name)
        assert len(channel.encode()) <= 63
        listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        conn.execute("INSERT INTO thread_logs (thread_id, message) VALUES ('t', 'm')")
        got = [n.channel for n in listener.notifies(timeout=10, stop_after=1)]
    assert got == [channel]


def test_a_listener_in_a_63_byte_schema_wakes_on_an_insert(server_dsn: str) -> None:
    """End to end in a schema with a 63-byte name: a hub-side Listener wakes on a LogStore insert."""
    name = "s" * 55 + uuid.uuid4().hex[:8]
    with _schema(server_dsn, name):
        dsn = make_conninfo(server_dsn, options=f"-c search_path={name}")
        wakes = _Wakes()
        listener = Listener(dsn, wakes, poll_interval=60.0)
        listener.start()
        try:
            with LogStore(dsn) as store:
                wait_until(lambda: wakes.count >= 1, timeout=10)
                before = wakes.count
                assert store.insert(records("t", 3)) == 3
                wait_until(lambda: wakes.count > before, timeout=10)
        finally:
            listener.stop()


def test_listener_survives_an_unexpected_exception_and_keeps_waking(store: LogStore) -> None:
    """A wake-up that raises something unexpected is logged; the listener reconnects and goes on waking."""
    calls = {"n": 0}

    def wake() -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("a bug in the wake-up")

    listener = Listener(store.dsn, wake, poll_interval=0.05)
    listener.start()
    try:
        wait_until(lambda: calls["n"] >= 3, timeout=10)
    finally:
        listener.stop()
