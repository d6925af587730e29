"""Live delivery: the I/O shell around the pure fan-out core (``logctl.core.fanout``).

The table is the source of truth. On every wake-up (a NOTIFY, one of our own commits, or at
least once a second) the feed reads, for all subscribed threads at once, the rows after
their positions that lie below the xmin horizon (see docs/protocol.md, "Cursors"), and hands
them to :class:`~logctl.core.fanout.FanOut`, which decides who gets what: each thread's rows
are encoded once and the same frame goes to every live subscriber of that thread; rows for a
subscriber still catching up from its cursor are held for it; a subscriber too far behind is
closed. This module only carries out those decisions: reads, sends and closes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Final

from logctl.core.cursor import Cursor
from logctl.core.fanout import (
    HOLD,
    Action,
    CloseSlow,
    ConnId,
    FanOut,
    GoLive,
    ReadFeed,
    ReadPage,
    ReadSelectionPage,
    Send,
    ThreadStarted,
    ThreadUnreadable,
    Wake,
)
from logctl.core.metrics import HubMetrics
from logctl.core.protocol import encode, error_frame, records_frame
from logctl.core.records import LogRecord, Row
from logctl.core.selection import Selection
from logctl.errors import AuthenticationFailed, DatabaseUnavailable, PrivilegeError, SchemaMissing, SchemaOutdated
from logctl.store import LogStore
from logctl.store.listen import Listener
from logctl.store.selection import discover_threads, selection_history

__all__ = ["Feed", "Outlet"]

logger = logging.getLogger("logctl.hub.feed")

#: Feed read failures that say nothing about the rows read: retried, never blamed on a thread.
_NOT_DATA: Final = (DatabaseUnavailable, AuthenticationFailed, PrivilegeError, SchemaMissing, SchemaOutdated)
#: Seconds between two look-ups of the threads that globs match (see ``_read_once``).
DISCOVERY_INTERVAL: Final = 0.1
UNREADABLE: Final = "the hub cannot read this thread's rows from the database; its live records stop until that is fixed"


@dataclasses.dataclass(frozen=True, slots=True)
class Outlet:
    """How the feed reaches one connection."""

    send: Callable[[str], None]
    #: Sends and waits while the socket's buffer is full: catch-up pages use it, so a
    #: subscriber reading a long history slowly does not pile it all up in the hub.
    send_paced: Callable[[str], Awaitable[None]]
    buffered: Callable[[], int]
    close_slow: Callable[[], None]


class Feed:
    """Reads committed rows for subscribed threads and carries out the fan-out's actions."""

    def __init__(
        self, store: LogStore, loop: asyncio.AbstractEventLoop, metrics: HubMetrics, fanout: FanOut | None = None,
        *, max_match_threads: int = 1000,
    ) -> None:
        self._store = store
        self._max_match_threads = max_match_threads
        self._loop = loop
        self._metrics = metrics
        self.fanout = fanout if fanout is not None else FanOut()
        self._outlets: dict[ConnId, Outlet] = {}
        self._wake = asyncio.Event()
        self._stop = threading.Event()
        self._listener = Listener(store.dsn, self._wake_soon, stop=self._stop)
        self._task: asyncio.Task[None] | None = None
        self._discovered_at = -DISCOVERY_INTERVAL
        self._discovery_due = False

    @property
    def subscriber_count(self) -> int:
        return self.fanout.subscription_count

    def start(self) -> None:
        self._listener.start()
        self._task = self._loop.create_task(self._run(), name="logctl-feed")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    def wake(self) -> None:
        self._wake.set()

    # -- connections and subscriptions ------------------------------------------------

    def connect(self, outlet: Outlet) -> ConnId:
        conn = self.fanout.connect()
        self._outlets[conn] = outlet
        return conn

    def disconnect(self, conn: ConnId) -> None:
        self.fanout.disconnect(conn)
        self._outlets.pop(conn, None)

    async def subscribe(self, conn: ConnId, thread_id: str, cursor: Cursor | None) -> None:
        """Subscribe ``conn`` from ``cursor`` (None: the current horizon), catch it up, let it go live."""
        if cursor is None:
            cursor = Cursor.horizon(await asyncio.to_thread(self._store.horizon))
        sub, actions = self.fanout.subscribe(conn, thread_id, cursor)
        await self._catch_up(conn, sub, actions)

    async def subscribe_selection(
        self, conn: ConnId, name: str, selection: Selection, cursor: Cursor, threads: tuple[str, ...], horizon: Cursor
    ) -> None:
        """Subscribe ``conn`` to ``selection`` (its threads resolved below ``horizon``), catch it up, let it go live.

        Raises :class:`~logctl.store.selection.TooManyMatches` when a catch-up page finds more
        matching threads than allowed (the subscription is dropped).
        """
        sub, actions = self.fanout.subscribe_selection(conn, name, selection, cursor, threads, horizon)
        await self._catch_up(conn, sub, actions, selection)

    async def _catch_up(self, conn: ConnId, sub: int, actions: list[Action], selection: Selection | None = None) -> None:
        """Carry out a subscription's catch-up: read its pages (a thread's, or a selection's merged ones) at its pace, then go live."""
        try:
            while actions:
                follow: list[Action] = []
                for action in actions:
                    if isinstance(action, ReadPage):
                        page = await asyncio.to_thread(
                            self._store.history, action.thread_id, after=action.after, limit=self.fanout.page
                        )
                        follow += self.fanout.page_read(sub, page.records)
                    elif isinstance(action, ReadSelectionPage) and selection is not None:
                        got = await asyncio.to_thread(
                            selection_history, self._store, selection, after=action.after, limit=self.fanout.page,
                            max_matches=self._max_match_threads,
                        )
                        follow += self.fanout.selection_page_read(sub, got.page.records, got.threads, got.horizon)
                    elif isinstance(action, GoLive):
                        self._report_buffers()
                        follow += self.fanout.caught_up(sub)
                    elif isinstance(action, Send) and action.paced:
                        outlet = self._outlets.get(conn)
                        if outlet is not None:
                            await outlet.send_paced(records_frame(action.thread_id, action.records, sub=action.sub))
                            self._metrics.records_broadcast += len(action.records)
                    else:
                        self._carry_out(action)
                actions = follow
        except BaseException:
            self.fanout.cancel(sub)
            raise

    def unsubscribe_selection(self, conn: ConnId, name: str) -> bool:
        return self.fanout.unsubscribe_selection(conn, name)

    def unsubscribe(self, conn: ConnId, thread_id: str) -> None:
        self.fanout.unsubscribe(conn, thread_id)

    def broadcast_pending(self, rows: list[Row]) -> None:
        """During a database outage: send uncommitted records to local live subscribers."""
        if self.fanout.subscription_count:
            for action in self.fanout.pending([LogRecord(*row) for row in rows]):
                self._carry_out(action)

    # -- carrying out actions ---------------------------------------------------------

    def _report_buffers(self) -> None:
        for conn, outlet in self._outlets.items():
            self.fanout.buffered(conn, outlet.buffered())

    def _carry_out(self, action: Action) -> None:
        if isinstance(action, Send):
            frame = records_frame(action.thread_id, action.records, pending=action.pending, sub=action.sub)
            for conn in action.to:
                outlet = self._outlets.get(conn)
                if outlet is not None:
                    outlet.send(frame)
            if action.pending:
                self._metrics.records_pending_broadcast += len(action.records) * len(action.to)
            else:
                self._metrics.records_broadcast += len(action.records) * len(action.to)
        elif isinstance(action, CloseSlow):
            self._metrics.slow_subscribers_closed += 1
            if action.reason == HOLD:
                self._metrics.limit_catch_up_hold += 1
            else:
                self._metrics.limit_outgoing_bytes += 1
            outlet = self._outlets.get(action.conn)
            if outlet is not None:
                outlet.close_slow()
        elif isinstance(action, ThreadUnreadable):
            self._metrics.threads_unreadable += 1
            frame = error_frame("thread_unreadable", action.message, thread_id=action.thread_id)
            for conn in action.to:
                outlet = self._outlets.get(conn)
                if outlet is not None:
                    outlet.send(frame)
            for conn, name in action.selections:  # a selection goes on without it: say which thread is left out
                outlet = self._outlets.get(conn)
                if outlet is not None:
                    outlet.send(error_frame("thread_unreadable", action.message, sub=name, thread_id=action.thread_id))
        elif isinstance(action, ThreadStarted):
            outlet = self._outlets.get(action.conn)
            if outlet is not None:
                outlet.send(encode({"type": "thread_started", "sub": action.sub, "thread_id": action.thread_id}))
        elif isinstance(action, Wake):
            self._wake.set()

    # -- the read loop ----------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self._read_once()
            except Exception:  # a bug must not end live delivery for every subscriber
                self._metrics.internal_errors += 1
                logger.exception("the feed failed on a wake-up; it goes on with the next one")

    async def _read_once(self) -> None:
        now = time.monotonic()
        # A glob's look-up of new threads (a compaction and a query) runs at most every
        # DISCOVERY_INTERVAL, however often commits wake the feed; the globs' rows wait for it.
        discover = now - self._discovered_at >= DISCOVERY_INTERVAL
        reads: list[ReadFeed] = self.fanout.reads(discover=discover)
        if discover:
            self._discovered_at = now
        elif self.fanout.has_globs and not self._discovery_due:
            self._discovery_due = True
            self._loop.call_later(DISCOVERY_INTERVAL, self._discovery_wake)
        while reads:
            read = reads.pop(0)
            try:
                xmin, rows = await asyncio.to_thread(self._store.feed, read.positions, limit=self.fanout.page)
                # after the read: it finds every matching thread with a row below that horizon
                discovered = await asyncio.to_thread(discover_threads, self._store, read.patterns) if read.patterns else []
            except _NOT_DATA as exc:
                logger.warning("feed read failed (will retry on the next wake-up): %s", exc)
                return
            except Exception as exc:  # a data reason (a row that cannot be read): isolate its thread
                actions = self.fanout.read_failed(read, UNREADABLE)
                for action in actions:
                    if isinstance(action, ThreadUnreadable):
                        logger.warning("cannot read thread %r; its subscribers are told, the others go on: %s",
                                       action.thread_id, exc)
            else:
                self._report_buffers()
                actions = self.fanout.rows_read(read, xmin, rows, discovered)
            for action in actions:
                if isinstance(action, ReadFeed):
                    reads.append(action)
                else:
                    self._carry_out(action)

    def _discovery_wake(self) -> None:
        self._discovery_due = False
        self._wake.set()

    # -- LISTEN (its own thread and connection: logctl.store.listen) ------------------

    def _wake_soon(self) -> None:
        try:
            self._loop.call_soon_threadsafe(self._wake.set)
        except RuntimeError:
            self._stop.set()
