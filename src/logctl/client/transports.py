"""Where a producer's batches go: a hub over WebSocket, or PostgreSQL directly.

Both transports have the same shape (:class:`Transport`), so one :class:`~logctl.client.
shipper.Shipper` drives either. ``send`` hands a batch over; ``poll`` returns what has
been acknowledged since. Failures are :class:`~logctl.errors.LogctlError` subclasses
(:class:`HubUnavailable`, :class:`DatabaseError`); the shipper then closes the transport,
waits, opens it again and resends everything unacknowledged.

A transport imports its driver (websockets, psycopg) when it is built, on the caller's
thread: a first import racing on two threads can fail inside psycopg ("partially
initialized module"), so the shipper's thread must never be the first to import it.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import datetime as dt
import logging
from typing import TYPE_CHECKING, Protocol

from logctl.client.frames import Acked, Event, Refused, Rejected, RETRY_CODES, decode_reply, encode_publish
from logctl.config import DatabaseTarget, HubAddress
from logctl.core.batching import Batch
from logctl.core.records import LogRecord, Row, escape_nul
from logctl.errors import HubUnavailable

if TYPE_CHECKING:  # websockets and psycopg load on first use, not at import
    from websockets.sync.client import ClientConnection

    from logctl.store import LogStore

__all__ = ["DatabaseTransport", "HubTransport", "Transport"]

logger = logging.getLogger("logctl.client")


class Transport(Protocol):
    """What the shipper needs from a destination."""

    #: Batches that may be in flight (sent, not yet acknowledged) at once.
    window: int

    def describe(self) -> str: ...

    def open(self) -> None: ...

    def send(self, batch: Batch[LogRecord]) -> None: ...

    def poll(self, timeout: float) -> list[Event]: ...

    def close(self) -> None: ...


@dataclasses.dataclass(slots=True)
class _Frame:
    ref: int
    last_seq: int
    count: int
    done: bool = False


class HubTransport:
    """``publish`` frames to a logctl hub, several in flight; cumulative acks back.

    Acks arrive in frame order. A frame refused as a whole with a retryable code
    (``shutting_down``) yields :class:`Refused`, and the shipper reconnects and resends;
    a record refused for good yields :class:`Rejected` and is acknowledged with its
    frame. A hub with a full backlog sends no error: it stops reading (TCP
    backpressure), so sends block and acks come later.
    """

    def __init__(self, address: HubAddress | str, producer_id: str, *, window: int = 8, open_timeout: float = 5.0) -> None:
        import websockets.sync.client  # noqa: F401  (see the module docstring)

        self.address = address if isinstance(address, HubAddress) else HubAddress.parse(address)
        self.url = self.address.url
        self.producer_id = producer_id
        self.window = window
        self.open_timeout = open_timeout
        self._ws: ClientConnection | None = None
        self._stack = contextlib.ExitStack()
        self._frames: collections.deque[_Frame] = collections.deque()
        self._ref = 0

    def describe(self) -> str:
        return f"the logctl hub at {self.url}"

    def open(self) -> None:
        from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
        from websockets.sync.client import connect

        self._frames.clear()
        try:
            # Entered as a context manager (closed by close()), as websockets >= 17.1 asks.
            address = self.address
            self._ws = self._stack.enter_context(connect(
                address.ws_url, open_timeout=self.open_timeout, compression=None, max_size=None,
                ssl=address.ssl_context(), additional_headers=address.headers(),
                logger=logging.getLogger("logctl.client.websockets"),
            ))
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            raise HubUnavailable(f"no logctl hub answers at {self.url}: {exc or type(exc).__name__}") from exc
        except ConnectionClosed as exc:  # the hub went away during the opening handshake
            raise HubUnavailable(f"the logctl hub at {self.url} closed the connection while it opened: {exc}") from exc

    def send(self, batch: Batch[LogRecord]) -> None:
        from websockets.exceptions import ConnectionClosed

        assert self._ws is not None, "send() before open()"
        self._ref += 1
        text = encode_publish(self.producer_id, self._ref, batch)
        self._frames.append(_Frame(self._ref, batch.last_seq, len(batch.items)))
        try:
            self._ws.send(text)
        except (ConnectionClosed, OSError) as exc:
            raise HubUnavailable(f"lost the connection to the logctl hub at {self.url}: {exc}") from exc

    def poll(self, timeout: float) -> list[Event]:
        """Wait up to ``timeout`` seconds for the hub's answers; return the events they mean."""
        from websockets.exceptions import ConnectionClosed

        assert self._ws is not None, "poll() before open()"
        events: list[Event] = []
        wait: float = timeout
        try:
            while True:
                try:
                    text = self._ws.recv(timeout=wait)
                except TimeoutError:
                    break
                wait = 0  # then take whatever else has already arrived
                self._absorb(decode_reply(text), events)
        except (ConnectionClosed, OSError) as exc:
            raise HubUnavailable(f"lost the connection to the logctl hub at {self.url}: {exc}") from exc
        return events

    def _absorb(self, event: Event | None, events: list[Event]) -> None:
        if isinstance(event, Acked):
            self._mark_done(event.ref, event.upto)
        elif isinstance(event, Rejected):
            events.append(event)
        elif isinstance(event, Refused):
            frame = self._find(event.ref)
            if frame is None or event.code in RETRY_CODES:
                events.append(event)
                return
            # The whole frame was refused for good: its records count as rejected.
            frame.done = True
            events.append(Rejected(None, event.code, event.message, frame.count))
        done_upto = None
        while self._frames and self._frames[0].done:
            done_upto = self._frames.popleft().last_seq
        if done_upto is not None:
            events.append(Acked(None, done_upto))

    def _find(self, ref: int | None) -> _Frame | None:
        return next((f for f in self._frames if f.ref == ref), None) if ref is not None else None

    def _mark_done(self, ref: int | None, upto: int | None) -> None:
        frame = self._find(ref)
        if frame is not None:
            frame.done = True
        elif upto is not None:
            for f in self._frames:
                if f.last_seq <= upto:
                    f.done = True

    def close(self) -> None:
        self._ws = None
        self._frames.clear()
        try:
            self._stack.close()
        except Exception:  # closing a broken connection: nothing more to learn
            logger.debug("closing the connection to %s failed", self.url, exc_info=True)


class DatabaseTransport:
    """Batches straight into ``thread_logs`` via :meth:`LogStore.insert_rows` (one COPY each).

    A batch is acknowledged once it commits; a resend is written with ``INSERT … ON
    CONFLICT (producer_id, seq) DO NOTHING``, which makes it harmless. For the embedded
    server, which logctl owns, the schema is created on first use; an explicit database
    is never migrated here (run ``logctl apply-schema``).
    """

    window = 1

    def __init__(self, target: DatabaseTarget, producer_id: str) -> None:
        import logctl.store  # noqa: F401  (psycopg: see the module docstring)
        import logctl.store.connect
        import logctl.store.migrate

        if target.dsn is None:
            import logctl.store.embedded  # noqa: F401

        self.target = target
        self.producer_id = producer_id
        self._description = f"PostgreSQL ({target.describe()})"
        self._store: LogStore | None = None
        self._acks: list[Event] = []

    def describe(self) -> str:
        return self._description

    def open(self) -> None:
        from logctl.store.connect import connect
        from logctl.store.embedded import dsn_for
        from logctl.store import LogStore

        self._acks = []
        dsn = dsn_for(self.target)
        if self.target.dsn is None:
            from logctl.store.migrate import apply_migrations

            with connect(dsn) as conn:
                apply_migrations(conn)
        self._store = LogStore(dsn, min_size=1, max_size=1, name="logctl-producer").open(timeout=5.0)

    def send(self, batch: Batch[LogRecord]) -> None:
        assert self._store is not None, "send() before open()"
        pid, seq = self.producer_id, batch.first_seq
        rows: list[Row] = []
        append = rows.append
        for r in batch.items:  # rows as LogStore.insert makes them, without a LogRecord copy each
            message, at = r.message, r.created_at
            if "\x00" in message:
                message = escape_nul(message)
            if at is None or at.tzinfo is None:
                at = dt.datetime.now(dt.timezone.utc) if at is None else at.replace(tzinfo=dt.timezone.utc)
            append((r.thread_id, message, r.level, at, pid, seq))
            seq += 1
        self._store.insert_rows(rows)
        self._acks.append(Acked(None, batch.last_seq))

    def poll(self, timeout: float) -> list[Event]:
        acks, self._acks = self._acks, []
        return acks

    def close(self) -> None:
        store, self._store = self._store, None
        self._acks = []
        if store is not None:
            store.close()
