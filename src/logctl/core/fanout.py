"""The hub's live fan-out as a pure state machine: events in, actions out (sans-I/O).

The hub's I/O shell (``logctl.hub.feed`` and ``logctl.hub.server``) tells a :class:`FanOut`
what happened (a connection or subscription came or went, the feed read rows below the xmin
horizon, a catch-up page was read, a socket's unsent bytes changed) and carries out the
actions it returns (:class:`Send`, :class:`ReadPage`, :class:`GoLive`, :class:`ReadFeed`,
:class:`CloseSlow`, :class:`ThreadUnreadable`, :class:`Wake`). It never awaits, sleeps or
reads a clock. docs/architecture.md has the tables of events and actions.

A subscription is *catching up* (reading its history page by page while the feed's rows
for its thread are held for it), then *live* (the held rows, then each new row, go out if
beyond the last cursor it was sent: once, in order), or *closing* (its connection had more
than ``max_outgoing_bytes`` unsent, or its hold passed ``max_hold_bytes``; it is sent
nothing more and resumes from the last cursor it got). Each thread has one feed position,
which moves to the last row read, or to the horizon when a read returned less than a page.
A shared read that fails for a data reason is split into one read per thread; a thread
whose own read fails is reported to its subscribers (and to the selections it belongs to,
which go on without it) and read on its own from then on.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Mapping, Sequence
from typing import Final, TypeAlias

from logctl.core.cursor import ORIGIN, Cursor
from logctl.core.records import LogRecord
from logctl.core.selection import Selection
from logctl.core.wording import plural
from logctl.errors import ProtocolError

__all__ = [
    "Action",
    "CloseSlow",
    "FanOut",
    "GoLive",
    "Phase",
    "ReadFeed",
    "ReadPage",
    "ReadSelectionPage",
    "Send",
    "ThreadStarted",
    "ThreadUnreadable",
    "Wake",
    "held_size",
]

PAGE: Final = 2000
#: The 32 MiB rule: a connection with more unsent bytes than this is closed as slow.
MAX_OUTGOING_BYTES: Final = 32 * 1024 * 1024
#: Live rows held for one catching-up subscription, in (estimated) bytes, at most.
MAX_HOLD_BYTES: Final = 32 * 1024 * 1024
MAX_SUBSCRIPTIONS: Final = 1000
#: Per record held: the LogRecord, its cursor and its other fields, roughly.
_RECORD_OVERHEAD: Final = 400

ConnId: TypeAlias = int
SubId: TypeAlias = int


class Phase(enum.Enum):
    """Where a subscription is (see the module docstring)."""

    CATCHING_UP = "catching up"
    LIVE = "live"
    CLOSING = "closing"


# -- actions ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Send:
    """Send ``records`` as one frame to each connection in ``to`` (``paced``: awaiting socket room; ``pending``: uncommitted).

    ``sub``: the frame is a selection's (its client id), its records of several threads.
    """

    thread_id: str
    records: tuple[LogRecord, ...]
    to: tuple[ConnId, ...]
    paced: bool = False
    pending: bool = False
    sub: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class ReadPage:
    """Read subscription ``sub``'s next history page after ``after``; report it with ``page_read``."""

    sub: SubId
    thread_id: str
    after: Cursor


@dataclasses.dataclass(frozen=True, slots=True)
class ReadSelectionPage:
    """Read selection ``sub``'s next merged history page after ``after``; report it with ``selection_page_read``."""

    sub: SubId
    after: Cursor


@dataclasses.dataclass(frozen=True, slots=True)
class ThreadStarted:
    """Tell connection ``conn`` that ``thread_id`` joined its selection ``sub`` (before its first records)."""

    conn: ConnId
    sub: str
    thread_id: str


@dataclasses.dataclass(frozen=True, slots=True)
class GoLive:
    """Once the actions before this one are done (the last page sent), report ``caught_up(sub)``."""

    sub: SubId


@dataclasses.dataclass(frozen=True, slots=True)
class ReadFeed:
    """Read the rows after each thread's position below the horizon; report with ``rows_read``.

    ``patterns``: the globs of selections; the read also names every thread matching one of
    them that holds a row in its snapshot (``discovered``), so that new threads join.
    """

    positions: Mapping[str, Cursor]
    patterns: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class CloseSlow:
    """Close connection ``conn``: it fell behind (``reason``); it resumes from its last cursor."""

    conn: ConnId
    reason: str


@dataclasses.dataclass(frozen=True, slots=True)
class ThreadUnreadable:
    """Tell the connections in ``to`` that ``thread_id``'s rows cannot be read now.

    ``selections``: the ``(connection, sub)`` of each selection it belongs to; each is told
    too (an error frame carrying its ``sub``), since its stream goes on without the thread.
    """

    thread_id: str
    message: str
    to: tuple[ConnId, ...]
    selections: tuple[tuple[ConnId, str], ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class Wake:
    """Read the feed again soon: a page came back full."""


Action: TypeAlias = (
    Send | ReadPage | ReadSelectionPage | ThreadStarted | GoLive | ReadFeed | CloseSlow | ThreadUnreadable | Wake
)

OUTGOING: Final = "outgoing"  # CloseSlow reasons
HOLD: Final = "hold"


def held_size(records: Iterable[LogRecord]) -> int:
    """Estimated bytes the hub spends holding ``records`` (strings as UTF-8, plus a fixed overhead)."""
    total = 0
    for r in records:
        m = r.message
        total += _RECORD_OVERHEAD + len(r.thread_id) + (len(m) if m.isascii() else len(m.encode("utf-8", "replace")))
    return total


# -- state --------------------------------------------------------------------------------


@dataclasses.dataclass(eq=False, slots=True)
class _Sub:
    id: SubId
    conn: ConnId
    thread_id: str
    last: Cursor
    phase: Phase = Phase.CATCHING_UP
    held: list[LogRecord] = dataclasses.field(default_factory=list)
    held_bytes: int = 0


@dataclasses.dataclass(eq=False, slots=True)
class _Selection:
    """A selection subscription: its member threads' rows go out as one stream, in global order."""

    id: SubId
    conn: ConnId
    name: str  # the client's id for it (``sub``)
    selection: Selection
    last: Cursor
    #: For a glob: every matching thread with a row below this has joined (a read's horizon).
    discovered: Cursor
    phase: Phase = Phase.CATCHING_UP
    members: dict[str, None] = dataclasses.field(default_factory=dict)
    held: list[LogRecord] = dataclasses.field(default_factory=list)
    held_bytes: int = 0
    #: Live rows read, beyond ``last``, not yet known to be safe to send (see :meth:`FanOut._bound`).
    waiting: list[LogRecord] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(eq=False, slots=True)
class _Conn:
    subs: dict[str, _Sub] = dataclasses.field(default_factory=dict)  # by thread id
    selections: dict[str, _Selection] = dataclasses.field(default_factory=dict)  # by the client's sub id
    buffered: int = 0
    closing: bool = False


@dataclasses.dataclass(eq=False, slots=True)
class _ThreadFeed:
    position: Cursor
    subs: dict[SubId, _Sub] = dataclasses.field(default_factory=dict)
    #: Why its rows cannot be read (None while they can): it is then read on its own.
    failing: str | None = None
    #: Selections this thread belongs to (decided once per thread and selection, not per row).
    selections: dict[SubId, _Selection] = dataclasses.field(default_factory=dict)


def _cursor(record: LogRecord) -> Cursor:
    assert record.cursor is not None, "the feed reads committed rows only"
    return record.cursor


class FanOut:
    """Subscriptions, their phases and held rows, and the feed's positions; see the module doc."""

    def __init__(
        self,
        *,
        page: int = PAGE,
        max_outgoing_bytes: int = MAX_OUTGOING_BYTES,
        max_hold_bytes: int = MAX_HOLD_BYTES,
        max_subscriptions: int = MAX_SUBSCRIPTIONS,
    ) -> None:
        self.page = page
        self.max_outgoing_bytes = max_outgoing_bytes
        self.max_hold_bytes = max_hold_bytes
        self.max_subscriptions = max_subscriptions
        self._conns: dict[ConnId, _Conn] = {}
        self._subs: dict[SubId, _Sub] = {}
        self._threads: dict[str, _ThreadFeed] = {}
        self._selections: dict[SubId, _Selection] = {}
        #: The selections with a glob: a new feed thread is matched against them once.
        self._globs: dict[SubId, _Selection] = {}
        self._next = 0

    # -- queries ------------------------------------------------------------------------

    @property
    def subscription_count(self) -> int:
        return len(self._subs) + len(self._selections)

    def phase(self, sub: SubId) -> Phase | None:
        s = self._subs.get(sub) or self._selections.get(sub)
        return None if s is None else s.phase

    def last(self, sub: SubId) -> Cursor | None:
        """The last cursor sent to ``sub`` (its resume cursor)."""
        s = self._subs.get(sub) or self._selections.get(sub)
        return None if s is None else s.last

    def members(self, sub: SubId) -> tuple[str, ...]:
        """The threads selection ``sub`` follows now (named, matched, and joined since)."""
        s = self._selections.get(sub)
        return () if s is None else tuple(s.members)

    def has_thread(self, thread_id: str) -> bool:
        return thread_id in self._threads

    def is_live(self, conn: ConnId) -> bool:
        """Whether ``conn`` is open and not being closed as slow."""
        c = self._conns.get(conn)
        return c is not None and not c.closing

    # -- connections and subscriptions ----------------------------------------------------

    def connect(self) -> ConnId:
        """A connection opened: its id."""
        self._next += 1
        self._conns[self._next] = _Conn()
        return self._next

    def disconnect(self, conn: ConnId) -> None:
        """A connection closed: drop its subscriptions."""
        c = self._conns.pop(conn, None)
        if c is not None:
            for sub in list(c.subs.values()):
                self._drop(sub)
            for selection in list(c.selections.values()):
                self._drop_selection(selection)

    def subscribe(self, conn: ConnId, thread_id: str, cursor: Cursor) -> tuple[SubId, list[Action]]:
        """``conn`` subscribes to ``thread_id`` from ``cursor`` (replacing its earlier subscription to it).

        Raises :class:`ProtocolError` ``too_many_subscriptions`` past ``max_subscriptions``.
        """
        self.check_subscribe(conn, thread_id)
        c = self._conns[conn]
        old = c.subs.get(thread_id)
        if old is not None:
            self._drop(old)
        self._next += 1
        sub = _Sub(self._next, conn, thread_id, cursor)
        self._subs[sub.id] = sub
        c.subs[thread_id] = sub
        if c.closing:
            sub.phase = Phase.CLOSING
        feed = self._threads.get(thread_id)
        if feed is None:
            # A new feed starts where this subscriber is: no catch-up needed.
            joined: list[Action] = []
            self._new_feed(thread_id, cursor, joined).subs[sub.id] = sub
            if sub.phase is Phase.CATCHING_UP:
                sub.phase = Phase.LIVE
            return sub.id, [*joined, Wake()]
        feed.subs[sub.id] = sub
        if sub.phase is Phase.CLOSING:
            return sub.id, []
        return sub.id, [ReadPage(sub.id, thread_id, cursor)]

    def check_subscribe(self, conn: ConnId, thread_id: str) -> None:
        """Raise :class:`ProtocolError` ``too_many_subscriptions`` if ``conn`` may not subscribe to one more thread."""
        c = self._conns[conn]
        if thread_id not in c.subs:
            self._check_room(c)

    def _check_room(self, c: _Conn) -> None:
        held = len(c.subs) + len(c.selections)
        if held >= self.max_subscriptions:
            raise ProtocolError(
                "too_many_subscriptions",
                f"this connection already has {plural(held, 'subscription')}, the hub's limit"
                " (serve --max-subscriptions); unsubscribe from one first",
            )

    def unsubscribe(self, conn: ConnId, thread_id: str) -> bool:
        """``conn`` unsubscribes from ``thread_id``; whether it was subscribed."""
        c = self._conns.get(conn)
        sub = None if c is None else c.subs.get(thread_id)
        if sub is None:
            return False
        self._drop(sub)
        return True

    def cancel(self, sub: SubId) -> None:
        """Drop one subscription (its catch-up failed)."""
        s = self._subs.get(sub)
        if s is not None:
            self._drop(s)
        selection = self._selections.get(sub)
        if selection is not None:
            self._drop_selection(selection)

    def _drop(self, sub: _Sub) -> None:
        self._subs.pop(sub.id, None)
        c = self._conns.get(sub.conn)
        if c is not None and c.subs.get(sub.thread_id) is sub:
            del c.subs[sub.thread_id]
        feed = self._threads.get(sub.thread_id)
        if feed is not None:
            feed.subs.pop(sub.id, None)
            if not feed.subs and not feed.selections:
                del self._threads[sub.thread_id]
        sub.held = []

    # -- sockets ------------------------------------------------------------------------

    def buffered(self, conn: ConnId, nbytes: int) -> None:
        """``conn``'s socket has ``nbytes`` unsent (the shell reports it before deliveries)."""
        c = self._conns.get(conn)
        if c is not None:
            c.buffered = nbytes

    def closed_slow(self, conn: ConnId) -> None:
        """The shell closes ``conn`` as slow on its own (its outgoing bytes passed the limit)."""
        c = self._conns.get(conn)
        if c is not None:
            self._close(c)

    def _close(self, c: _Conn) -> None:
        c.closing = True  # once: the close takes a while, and more rows may come meanwhile
        for sub in c.subs.values():
            sub.phase = Phase.CLOSING
            sub.held, sub.held_bytes = [], 0
        for selection in c.selections.values():
            selection.phase = Phase.CLOSING
            selection.held, selection.held_bytes, selection.waiting = [], 0, []

    def _close_slow(self, sub: _Sub | _Selection, reason: str) -> CloseSlow:
        self._close(self._conns[sub.conn])
        return CloseSlow(sub.conn, reason)

    # -- catch-up -----------------------------------------------------------------------

    def page_read(self, sub: SubId, records: Sequence[LogRecord]) -> list[Action]:
        """Subscription ``sub``'s history page after its cursor was read (rows in stream order)."""
        s = self._subs.get(sub)
        if s is None or s.phase is not Phase.CATCHING_UP:
            return []
        actions: list[Action] = []
        if records:
            actions.append(Send(s.thread_id, tuple(records), (s.conn,), paced=True))
            s.last = _cursor(records[-1])
        if len(records) >= self.page:
            actions.append(ReadPage(s.id, s.thread_id, s.last))
        else:
            actions.append(GoLive(s.id))
        return actions

    def caught_up(self, sub: SubId) -> list[Action]:
        """Subscription ``sub``'s last history page went out: send it the rows held meanwhile, go live."""
        if sub in self._selections:
            return self._selection_caught_up(self._selections[sub])
        s = self._subs.get(sub)
        if s is None or s.phase is not Phase.CATCHING_UP:
            return []
        held, s.held, s.held_bytes = s.held, [], 0
        s.phase = Phase.LIVE
        actions = self._offer(s, held) if held else []
        feed = self._threads.get(s.thread_id)
        if feed is not None and feed.failing is not None:  # it failed before this subscriber came: tell it too
            actions.append(ThreadUnreadable(s.thread_id, feed.failing, (s.conn,)))
        return actions

    # -- the feed -----------------------------------------------------------------------

    @property
    def has_globs(self) -> bool:
        """Whether a selection with a glob exists (its new threads are looked for at reads that ``discover``)."""
        return bool(self._globs)

    def reads(self, *, discover: bool = True) -> list[ReadFeed]:
        """The feed reads of one wake-up: one for every readable thread (and, if ``discover``, the globs'
        look-up of new threads), one per failing thread. A glob's rows wait for its next look-up."""
        healthy = {t: f.position for t, f in self._threads.items() if f.failing is None}
        patterns = self._patterns() if self._globs and discover else ()
        out = [ReadFeed(healthy, patterns)] if healthy or patterns else []
        out += [ReadFeed({t: f.position}) for t, f in self._threads.items() if f.failing is not None]
        return out

    def rows_read(
        self, read: ReadFeed, xmin: int, rows: Sequence[LogRecord], discovered: Sequence[str] = ()
    ) -> list[Action]:
        """``read`` returned ``rows`` (stream order, at most a page per thread) below horizon ``xmin``,
        and the threads matching its ``patterns`` that hold rows (``discovered``)."""
        by_thread: dict[str, list[LogRecord]] = {}
        for r in rows:
            by_thread.setdefault(r.thread_id, []).append(r)
        horizon = Cursor.horizon(xmin)
        actions: list[Action] = []
        more = False
        for thread_id, queried_from in read.positions.items():
            feed = self._threads.get(thread_id)
            if feed is None or feed.position != queried_from:
                continue  # unsubscribed, or re-created, while the query ran
            feed.failing = None
            got = by_thread.get(thread_id, [])
            if len(got) >= self.page:
                more = True  # more to read: go on after the last row of this page
                feed.position = _cursor(got[-1])
            else:  # every row of the thread below the horizon has been read
                feed.position = max(horizon, _cursor(got[-1]) if got else feed.position)
            if got:
                actions.extend(self._fan_out(feed, thread_id, got))
                if feed.selections:
                    actions.extend(self._to_selections(feed, got))
        if read.patterns:
            more = self._discovered(read.patterns, horizon, discovered, actions) or more
        if self._selections:
            for selection in list(self._selections.values()):
                if selection.phase is Phase.LIVE:
                    actions.extend(self._flush(selection))
        if more:
            actions.append(Wake())
        return actions

    def read_failed(self, read: ReadFeed, message: str) -> list[Action]:
        """``read`` failed for a data reason: split it per thread, or report its one thread."""
        if len(read.positions) > 1:
            return [ReadFeed({t: p}) for t, p in read.positions.items()]
        actions: list[Action] = []
        for thread_id, queried_from in read.positions.items():
            feed = self._threads.get(thread_id)
            if feed is None or feed.position != queried_from or feed.failing is not None:
                continue
            feed.failing = message
            to = tuple(s.conn for s in feed.subs.values() if s.phase is not Phase.CLOSING)
            selections = tuple((s.conn, s.name) for s in feed.selections.values() if s.phase is not Phase.CLOSING)
            actions.append(ThreadUnreadable(thread_id, message, to, selections))
        return actions

    def pending(self, records: Sequence[LogRecord]) -> list[Action]:
        """Uncommitted ``records`` (database outage): to every live subscriber of their thread, marked pending."""
        by_thread: dict[str, list[LogRecord]] = {}
        for r in records:
            if r.thread_id in self._threads:
                by_thread.setdefault(r.thread_id, []).append(r)
        actions: list[Action] = []
        for thread_id, got in by_thread.items():
            to = tuple(s.conn for s in self._threads[thread_id].subs.values() if s.phase is Phase.LIVE)
            if to:
                actions.append(Send(thread_id, tuple(got), to, pending=True))
        for selection in self._selections.values():
            if selection.phase is Phase.LIVE:
                mine = tuple(r for r in records if r.thread_id in selection.members or selection.selection.matches(r.thread_id))
                if mine:
                    actions.append(Send("", mine, (selection.conn,), pending=True, sub=selection.name))
        return actions

    def _fan_out(self, feed: _ThreadFeed, thread_id: str, records: list[LogRecord]) -> list[Action]:
        """Hold ``records`` for catching-up subscribers, send them to live ones (one shared frame)."""
        first, last = _cursor(records[0]), _cursor(records[-1])
        shared: list[ConnId] = []
        actions: list[Action] = []
        size: int | None = None
        for sub in list(feed.subs.values()):
            if sub.phase is Phase.CLOSING:
                continue
            if sub.phase is Phase.CATCHING_UP:
                size = held_size(records) if size is None else size
                sub.held.extend(records)
                sub.held_bytes += size
                if sub.held_bytes > self.max_hold_bytes:  # too slow to ever catch up: let it resume later
                    actions.append(self._close_slow(sub, HOLD))
                continue
            if self._conns[sub.conn].buffered > self.max_outgoing_bytes:
                actions.append(self._close_slow(sub, OUTGOING))
                continue
            if last <= sub.last:
                continue
            if first > sub.last:
                shared.append(sub.conn)
                sub.last = last
            else:
                actions.extend(self._offer(sub, records))
        if shared:
            actions.insert(0, Send(thread_id, tuple(records), tuple(shared)))
        return actions

    def _offer(self, sub: _Sub, records: list[LogRecord]) -> list[Action]:
        """Send one live subscription the rows of ``records`` beyond its last cursor."""
        if self._conns[sub.conn].buffered > self.max_outgoing_bytes:
            return [self._close_slow(sub, OUTGOING)]
        fresh = tuple(r for r in records if _cursor(r) > sub.last)
        if not fresh:
            return []
        sub.last = _cursor(fresh[-1])
        return [Send(sub.thread_id, fresh, (sub.conn,))]

    # -- selections (several threads, or a glob, as one stream in global order) -------------

    def subscribe_selection(
        self, conn: ConnId, name: str, selection: Selection, cursor: Cursor, threads: Sequence[str], horizon: Cursor
    ) -> tuple[SubId, list[Action]]:
        """``conn`` follows ``selection`` as its subscription ``name`` from ``cursor`` (replacing one of that name).

        ``threads`` are the selection's threads resolved in a snapshot whose horizon is
        ``horizon`` (every matching thread with a row below it), and already told to the
        client; threads that join later are told with :class:`ThreadStarted`. Raises
        :class:`ProtocolError` ``too_many_subscriptions`` past ``max_subscriptions``.
        """
        c = self._conns[conn]
        old = c.selections.get(name)
        if old is None:
            self._check_room(c)
        else:
            self._drop_selection(old)
        self._next += 1
        s = _Selection(self._next, conn, name, selection, cursor, horizon)
        self._selections[s.id] = s
        c.selections[name] = s
        if selection.match is not None:
            self._globs[s.id] = s
        if c.closing:
            s.phase = Phase.CLOSING
            return s.id, []
        actions: list[Action] = []
        start = max(cursor, horizon)  # the catch-up pages cover what lies below the horizon
        fresh = False
        for thread_id in dict.fromkeys([*threads, *selection.threads]):
            fresh = self._join(s, thread_id, start, actions, told=True) or fresh
        if selection.match is not None:
            for thread_id in [t for t in self._threads if t not in s.members and selection.matches(t)]:
                self._join(s, thread_id, start, actions)
        if fresh:
            actions.append(Wake())
        actions.append(ReadSelectionPage(s.id, cursor))
        return s.id, actions

    def check_subscribe_selection(self, conn: ConnId, name: str) -> None:
        """Raise :class:`ProtocolError` ``too_many_subscriptions`` if ``conn`` may not add selection ``name``."""
        c = self._conns[conn]
        if name not in c.selections:
            self._check_room(c)

    def unsubscribe_selection(self, conn: ConnId, name: str) -> bool:
        """``conn`` ends its selection ``name``; whether it had one."""
        c = self._conns.get(conn)
        s = None if c is None else c.selections.get(name)
        if s is None:
            return False
        self._drop_selection(s)
        return True

    def selection_page_read(
        self, sub: SubId, records: Sequence[LogRecord], threads: Sequence[str], horizon: Cursor
    ) -> list[Action]:
        """Selection ``sub``'s merged history page after its cursor was read (global order), from
        ``threads`` (resolved in the page's snapshot, whose horizon is ``horizon``)."""
        s = self._selections.get(sub)
        if s is None or s.phase is not Phase.CATCHING_UP:
            return []
        actions: list[Action] = []
        fresh = False
        for thread_id in threads:
            if thread_id not in s.members:
                fresh = self._join(s, thread_id, horizon, actions) or fresh
        if fresh:
            actions.append(Wake())
        if records:
            actions.append(Send("", tuple(records), (s.conn,), paced=True, sub=s.name))
            s.last = _cursor(records[-1])
        if len(records) >= self.page:
            actions.append(ReadSelectionPage(s.id, s.last))
        else:
            s.discovered = max(s.discovered, horizon)
            actions.append(GoLive(s.id))
        return actions

    def _patterns(self) -> tuple[str, ...]:
        return tuple(sorted({s.selection.match for s in self._globs.values()
                             if s.selection.match is not None and s.phase is not Phase.CLOSING}))

    def _new_feed(self, thread_id: str, position: Cursor, actions: list[Action]) -> _ThreadFeed:
        """A feed for ``thread_id`` from ``position``, joined by the globs it matches (decided here, once).

        A glob selection has seen every row of a matching thread below its ``discovered``
        horizon (the thread had none), so the feed starts no later than that.
        """
        feed = self._threads[thread_id] = _ThreadFeed(position)
        for s in self._globs.values():
            if s.phase is not Phase.CLOSING and thread_id not in s.members and s.selection.matches(thread_id):
                feed.position = min(feed.position, s.discovered)
                s.members[thread_id] = None
                feed.selections[s.id] = s
                actions.append(ThreadStarted(s.conn, s.name, thread_id))
        return feed

    def _join(self, s: _Selection, thread_id: str, position: Cursor, actions: list[Action], *, told: bool = False) -> bool:
        """``thread_id`` joins selection ``s`` (its feed, if new, starts at ``position``); whether the feed is new."""
        announce = not told and thread_id not in s.members
        s.members[thread_id] = None  # first: a new feed joins the other globs that match, not this one again
        feed = self._threads.get(thread_id)
        fresh = feed is None
        if feed is None:
            feed = self._new_feed(thread_id, position, actions)
        feed.selections[s.id] = s
        if announce:
            actions.append(ThreadStarted(s.conn, s.name, thread_id))
        if feed.failing is not None and s.phase is Phase.LIVE:  # a live selection joins a failing thread
            actions.append(ThreadUnreadable(thread_id, feed.failing, (), ((s.conn, s.name),)))
        return fresh

    def _discovered(self, patterns: tuple[str, ...], horizon: Cursor, threads: Sequence[str], actions: list[Action]) -> bool:
        """A feed read found ``threads`` matching ``patterns`` below ``horizon``: new ones get a feed
        from the start (all their rows are new to the globs). Whether any did (read again)."""
        fresh = False
        for thread_id in threads:
            if thread_id not in self._threads:
                self._new_feed(thread_id, ORIGIN, actions)
                fresh = True
        asked = set(patterns)
        for s in self._globs.values():
            if s.selection.match in asked:
                s.discovered = max(s.discovered, horizon)
        return fresh

    def _to_selections(self, feed: _ThreadFeed, records: list[LogRecord]) -> list[Action]:
        """A thread's new rows for the selections it belongs to: held (catching up) or waiting for the bound (live)."""
        actions: list[Action] = []
        size: int | None = None
        for s in list(feed.selections.values()):
            if s.phase is Phase.CLOSING:
                continue
            size = held_size(records) if size is None else size
            s.held_bytes += size
            if s.phase is Phase.CATCHING_UP:
                s.held.extend(records)
            else:
                s.waiting.extend(r for r in records if _cursor(r) > s.last)
            if s.held_bytes > self.max_hold_bytes:  # it cannot keep up: let it resume later
                actions.append(self._close_slow(s, HOLD))
        return actions

    def _selection_caught_up(self, s: _Selection) -> list[Action]:
        if s.phase is not Phase.CATCHING_UP:
            return []
        s.phase = Phase.LIVE
        held, s.held = s.held, []
        s.waiting = [r for r in held if _cursor(r) > s.last]
        # Members that failed before this selection came: it goes on without them, and says so.
        told = [ThreadUnreadable(t, f.failing, (), ((s.conn, s.name),))
                for t in s.members if (f := self._threads[t]).failing is not None]
        return [*told, *self._flush(s)]

    def _bound(self, s: _Selection) -> Cursor:
        """Every row of the selection at or below this has been read: its members' feed positions
        (those readable) and, for a glob, the horizon below which every matching thread is a member."""
        bound = s.discovered if s.selection.match is not None else None
        for thread_id in s.members:
            feed = self._threads[thread_id]
            if feed.failing is None and (bound is None or feed.position < bound):
                bound = feed.position
        return s.last if bound is None else bound

    def _flush(self, s: _Selection) -> list[Action]:
        """Send a live selection its waiting rows up to the bound, in global order."""
        if not s.waiting:
            s.held_bytes = 0
            return []
        if self._conns[s.conn].buffered > self.max_outgoing_bytes:
            return [self._close_slow(s, OUTGOING)]
        bound = self._bound(s)
        s.waiting.sort(key=_cursor)
        ready: list[LogRecord] = []
        rest: list[LogRecord] = []
        last = s.last
        for r in s.waiting:
            cursor = _cursor(r)
            if cursor > bound:
                rest.append(r)
            elif cursor > last:
                ready.append(r)
                last = cursor
        s.waiting = rest
        s.held_bytes = held_size(rest) if rest else 0
        if not ready:
            return []
        s.last = last
        return [Send("", tuple(ready), (s.conn,), sub=s.name)]

    def _drop_selection(self, s: _Selection) -> None:
        self._selections.pop(s.id, None)
        self._globs.pop(s.id, None)
        c = self._conns.get(s.conn)
        if c is not None and c.selections.get(s.name) is s:
            del c.selections[s.name]
        for thread_id in s.members:
            feed = self._threads.get(thread_id)
            if feed is not None:
                feed.selections.pop(s.id, None)
                if not feed.subs and not feed.selections:
                    del self._threads[thread_id]
        s.held, s.waiting = [], []
