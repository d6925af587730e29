"""Where a producer's batches go: a hub over WebSocket, or PostgreSQL directly.

Both transports have the same shape (:class:`Transport`), so one :class:`~logctl.client.
shipper.Shipper` drives either. They are thin: ``send`` writes a :class:`~logctl.core.
delivery.Frame`; ``poll`` returns the replies that came back, decoded. What the replies
mean (refs, acks, resends) is decided by :class:`~logctl.core.delivery.Delivery`. Failures are :class:`~logctl.errors.LogctlError` subclasses
(:class:`HubUnavailable`, :class:`DatabaseError`); the shipper then closes the transport,
waits, opens it again and resends everything unacknowledged.

A transport imports its driver (websockets, psycopg) when it is built, on the caller's
thread: a first import racing on two threads can fail inside psycopg ("partially
initialized module"), so the shipper's thread must never be the first to import it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import encodings.idna  # noqa: F401  imported up front: a forked child connecting by host name must not import it
import logging
from typing import TYPE_CHECKING, Protocol

from logctl.config import DatabaseTarget, HubAddress
from logctl.core.delivery import Acked, Frame, Reply
from logctl.core.protocol.producer import decode_reply, encode_publish
from logctl.core.records import LogRecord, Row, escape_nul
from logctl.client.refusals import plain_to_tls_hint, refused_by_hub, untrusted_hub
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
    #: The producer id that every frame carries (resends too).
    producer_id: str

    def describe(self) -> str: ...

    def open(self) -> None: ...

    def send(self, frame: Frame[LogRecord]) -> None: ...

    def poll(self, timeout: float) -> list[Reply]: ...

    def close(self) -> None: ...


class HubTransport:
    """``publish`` frames to a logctl hub over one WebSocket; the hub's replies back, decoded.

    A hub with a full backlog sends no error: it stops reading (TCP backpressure), so
    sends block and acks come later.
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

    def describe(self) -> str:
        return f"the logctl hub at {self.url}"

    def open(self) -> None:
        from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI
        from websockets.sync.client import connect

        try:
            # Entered as a context manager (closed by close()), as websockets >= 17.1 asks.
            address = self.address
            self._ws = self._stack.enter_context(connect(
                address.ws_url, open_timeout=self.open_timeout, compression=None, max_size=None,
                ssl=address.ssl_context(), additional_headers=address.headers(),
                logger=logging.getLogger("logctl.client.websockets"),
            ))
        except InvalidStatus as exc:
            refused = refused_by_hub(exc.response.status_code, bytes(exc.response.body), self.url, has_token=self.address.token is not None)
            if refused is not None:
                raise refused from None
            raise HubUnavailable(f"no logctl hub answers at {self.url}: {exc}") from exc
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            untrusted = untrusted_hub(exc, self.url, self.address.cafile)
            if untrusted is not None:  # retrying cannot fix a certificate: said once, like a refused token
                raise untrusted from None
            hint = plain_to_tls_hint(exc, self.address.secure)
            raise HubUnavailable(f"no logctl hub answers at {self.url}: {exc or type(exc).__name__}{hint}") from exc
        except ConnectionClosed as exc:  # the hub went away during the opening handshake
            raise HubUnavailable(f"the logctl hub at {self.url} closed the connection while it opened: {exc}") from exc

    def send(self, frame: Frame[LogRecord]) -> None:
        from websockets.exceptions import ConnectionClosed

        assert self._ws is not None, "send() before open()"
        text = encode_publish(frame.producer, frame.ref, frame.batch)
        try:
            self._ws.send(text)
        except (ConnectionClosed, OSError) as exc:
            raise HubUnavailable(f"lost the connection to the logctl hub at {self.url}: {exc}") from exc

    def poll(self, timeout: float) -> list[Reply]:
        """Wait up to ``timeout`` seconds for the hub's answers; return them decoded, in order."""
        from websockets.exceptions import ConnectionClosed

        assert self._ws is not None, "poll() before open()"
        replies: list[Reply] = []
        wait: float = timeout
        try:
            while True:
                try:
                    text = self._ws.recv(timeout=wait)
                except TimeoutError:
                    break
                wait = 0  # then take whatever else has already arrived
                reply = decode_reply(text)
                if reply is not None:
                    replies.append(reply)
        except (ConnectionClosed, OSError) as exc:
            raise HubUnavailable(f"lost the connection to the logctl hub at {self.url}: {exc}") from exc
        return replies

    def close(self) -> None:
        self._ws = None
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
        self._acks: list[Reply] = []

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

    def send(self, frame: Frame[LogRecord]) -> None:
        assert self._store is not None, "send() before open()"
        batch = frame.batch
        pid, seq = frame.producer, batch.first_seq
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
        self._acks.append(Acked(frame.ref, batch.last_seq))

    def poll(self, timeout: float) -> list[Reply]:
        acks, self._acks = self._acks, []
        return acks

    def close(self) -> None:
        store, self._store = self._store, None
        self._acks = []
        if store is not None:
            store.close()
