"""Live delivery: per-thread feeds read from the table, woken by LISTEN/NOTIFY.

The table is the source of truth. Each subscribed thread has a feed position; on every
wake-up one query reads, for all subscribed threads at once, the rows after their positions
that lie below the xmin horizon (see docs/protocol.md, "Cursors"). Each thread's rows are
encoded once and the same frame goes to every subscriber of that thread.

A new subscriber with an older cursor first catches up from the table while the feed's rows
for it are buffered; afterwards every row goes out only if its cursor is beyond the last
one that subscriber was sent. That gives each subscriber every row exactly once, in order.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Final

from logctl.core.cursor import Cursor
from logctl.core.metrics import HubMetrics
from logctl.core.protocol import records_frame
from logctl.core.records import LogRecord, Row
from logctl.errors import DatabaseError
from logctl.store import LogStore
from logctl.store.listen import Listener

__all__ = ["Feed", "Subscriber"]

logger = logging.getLogger("logctl.hub.feed")

PAGE: Final = 2000
MAX_WRITE_BUFFER: Final = 32 * 1024 * 1024  # a subscriber further behind than this is closed
MAX_CATCH_UP_BACKLOG: Final = 200_000  # live rows held for one catching-up subscriber, at most


@dataclasses.dataclass(eq=False, slots=True)
class Subscriber:
    """One connection's subscription to one thread."""

    thread_id: str
    send: Callable[[str], None]
    #: Sends and waits while the socket's buffer is full: catch-up pages use it, so a
    #: subscriber reading a long history slowly does not pile it all up in the hub.
    send_paced: Callable[[str], Awaitable[None]]
    buffered: Callable[[], int]
    close_slow: Callable[[], None]
    last: Cursor
    catching_up: bool = True
    backlog: list[LogRecord] = dataclasses.field(default_factory=list)
    #: Being closed for being too slow: send it nothing more (it resumes from its cursor).
    closing: bool = False

    def deliver(self, records: list[LogRecord], frame: str | None, metrics: HubMetrics) -> None:
        """Send the rows beyond ``last`` (``frame`` is their shared encoding when all are)."""
        if self.closing:
            return
        if self.catching_up:
            self.backlog.extend(records)
            if len(self.backlog) > MAX_CATCH_UP_BACKLOG:  # too slow to ever catch up: let it resume later
                self._close(metrics)
            return
        if self.buffered() > MAX_WRITE_BUFFER:
            self._close(metrics)
            return
        first, last = records[0].cursor, records[-1].cursor
        assert first is not None and last is not None
        if last <= self.last:
            return
        if first > self.last and frame is not None:
            self.send(frame)
            sent = len(records)
        else:
            fresh = [r for r in records if r.cursor is not None and r.cursor > self.last]
            self.send(records_frame(self.thread_id, fresh))
            sent = len(fresh)
        self.last = last
        metrics.records_broadcast += sent

    def _close(self, metrics: HubMetrics) -> None:
        """Close a subscriber that cannot keep up; it reconnects with its last cursor and loses nothing."""
        self.closing = True  # once: the close takes a while, and more rows may come meanwhile
        self.backlog = []
        metrics.slow_subscribers_closed += 1
        self.close_slow()


@dataclasses.dataclass(eq=False, slots=True)
class _Thread:
    position: Cursor
    subscribers: set[Subscriber] = dataclasses.field(default_factory=set)


class Feed:
    """Reads committed rows for subscribed threads and fans them out."""

    def __init__(self, store: LogStore, loop: asyncio.AbstractEventLoop, metrics: HubMetrics) -> None:
        self._store = store
        self._loop = loop
        self._metrics = metrics
        self._threads: dict[str, _Thread] = {}
        self._wake = asyncio.Event()
        self._stop = threading.Event()
        self._listener = Listener(store.dsn, self._wake_soon, stop=self._stop)
        self._task: asyncio.Task[None] | None = None

    @property
    def subscriber_count(self) -> int:
        return sum(len(t.subscribers) for t in self._threads.values())

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

    # -- subscriptions ----------------------------------------------------------------

    async def subscribe(self, sub: Subscriber, *, now: bool) -> Cursor:
        """Register ``sub``, catch it up from the table, then let it go live."""
        if now:
            sub.last = Cursor.horizon(await asyncio.to_thread(self._store.horizon))
        state = self._threads.get(sub.thread_id)
        if state is None:
            # A new feed starts where this subscriber is: no catch-up needed.
            self._threads[sub.thread_id] = _Thread(sub.last, {sub})
            sub.catching_up = False
            self.wake()
            return sub.last
        state.subscribers.add(sub)
        start = sub.last
        try:
            while True:
                page = await asyncio.to_thread(self._store.history, sub.thread_id, after=sub.last, limit=PAGE)
                if page.records:
                    await sub.send_paced(records_frame(sub.thread_id, page.records))
                    self._metrics.records_broadcast += len(page.records)
                    last = page.records[-1].cursor
                    assert last is not None
                    sub.last = last
                if len(page.records) < PAGE:
                    break
            held, sub.backlog = sub.backlog, []
            sub.catching_up = False
            if held:
                sub.deliver(held, None, self._metrics)
        except BaseException:
            self.unsubscribe(sub)
            raise
        return start

    def unsubscribe(self, sub: Subscriber) -> None:
        state = self._threads.get(sub.thread_id)
        if state is None:
            return
        state.subscribers.discard(sub)
        if not state.subscribers:
            del self._threads[sub.thread_id]

    def broadcast_pending(self, rows: list[Row]) -> None:
        """During a database outage: send uncommitted records to local live subscribers."""
        by_thread: dict[str, list[LogRecord]] = {}
        threads = self._threads
        for row in rows:
            if row[0] in threads:
                by_thread.setdefault(row[0], []).append(LogRecord(*row))
        for thread_id, records in by_thread.items():
            frame = records_frame(thread_id, records, pending=True)
            for sub in self._threads[thread_id].subscribers:
                if not sub.catching_up:
                    sub.send(frame)
                    self._metrics.records_pending_broadcast += len(records)

    # -- the read loop ----------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self._threads:
                continue
            positions = {t: s.position for t, s in self._threads.items()}
            try:
                xmin, rows = await asyncio.to_thread(self._store.feed, positions, limit=PAGE)
            except DatabaseError as exc:
                logger.warning("feed read failed (will retry on the next wake-up): %s", exc)
                continue
            self._fan_out(positions, xmin, rows)

    def _fan_out(self, positions: dict[str, Cursor], xmin: int, rows: list[LogRecord]) -> None:
        by_thread: dict[str, list[LogRecord]] = {}
        for r in rows:
            by_thread.setdefault(r.thread_id, []).append(r)
        horizon = Cursor.horizon(xmin)
        for thread_id, queried_from in positions.items():
            state = self._threads.get(thread_id)
            if state is None or state.position != queried_from:
                continue  # unsubscribed, or re-created, while the query ran
            got = by_thread.get(thread_id, [])
            last = got[-1].cursor if got else None
            if len(got) >= PAGE:
                self._wake.set()  # more to read: go on after the last row of this page
                assert last is not None
                state.position = last
            else:  # every row of the thread below the horizon has been read
                state.position = max(horizon, last or state.position)
            if got:
                frame = records_frame(thread_id, got)
                for sub in list(state.subscribers):
                    sub.deliver(got, frame, self._metrics)

    # -- LISTEN (its own thread and connection: logctl.store.listen) ------------------

    def _wake_soon(self) -> None:
        try:
            self._loop.call_soon_threadsafe(self._wake.set)
        except RuntimeError:
            self._stop.set()
