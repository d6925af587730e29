"""The hub's pure fan-out: every row after a subscriber's cursor exactly once, in order, or a clean slow-close."""

from __future__ import annotations

import collections
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import examples
from logctl.core.cursor import ORIGIN, Cursor
from logctl.core.fanout import (
    HOLD,
    OUTGOING,
    Action,
    CloseSlow,
    FanOut,
    GoLive,
    Phase,
    ReadFeed,
    ReadPage,
    Send,
    ThreadUnreadable,
    Wake,
    held_size,
)
from logctl.core.records import LogRecord
from logctl.errors import ProtocolError

THREADS = ("a", "b")


def row(thread: str, txid: int, rid: int, message: str = "") -> LogRecord:
    """A committed row of ``thread`` with cursor ``txid-rid``."""
    return LogRecord(thread_id=thread, message=message or f"m{rid}", id=rid, cursor=Cursor(txid, rid))


class Table:
    """A model of thread_logs: rows with their (txid, id), and the xmin horizon."""

    def __init__(self) -> None:
        self.rows: list[LogRecord] = []
        self.xmin = 10
        self.next_id = 1

    def insert(self, thread: str, ahead: int) -> None:
        """A row from a transaction at or above the horizon (ids are taken in insert order)."""
        self.rows.append(row(thread, self.xmin + ahead, self.next_id))
        self.next_id += 1

    def stable(self, thread: str, after: Cursor) -> list[LogRecord]:
        """The thread's rows after ``after`` below the horizon, in stream order."""
        got = [r for r in self.rows if r.thread_id == thread and r.cursor is not None
               and r.cursor > after and r.cursor.txid < self.xmin]
        return sorted(got, key=lambda r: r.cursor or ORIGIN)

    def feed(self, positions: dict[str, Cursor] | ReadFeed, limit: int) -> list[LogRecord]:
        pos = positions.positions if isinstance(positions, ReadFeed) else positions
        out = [r for t, p in pos.items() for r in self.stable(t, p)[:limit]]
        return sorted(out, key=lambda r: r.cursor or ORIGIN)


class Shell:
    """Carries out the core's actions the way hub/feed.py does, one step at a time."""

    def __init__(self, fanout: FanOut, table: Table) -> None:
        self.f, self.t = fanout, table
        self.sub_of: dict[tuple[int, str], int] = {}  # (conn, thread) -> current subscription
        self.start: dict[int, Cursor] = {}
        self.thread: dict[int, str] = {}
        self.got: dict[int, list[LogRecord]] = collections.defaultdict(list)
        self.queue: dict[int, collections.deque[Action]] = {}  # catch-up steps not yet carried out
        self.closed: set[int] = set()  # connections closed as slow
        self.errors: list[ThreadUnreadable] = []
        self.wakes = 0

    def send(self, action: Send) -> None:
        for conn in action.to:
            sub = self.sub_of[(conn, action.thread_id)]
            assert conn not in self.closed, "sent to a connection after closing it"
            self.got[sub].extend(action.records)

    def carry_out(self, actions: Sequence[Action]) -> None:
        for a in actions:
            if isinstance(a, Send):
                assert not a.paced, "paced sends only come from catch-up"
                self.send(a)
            elif isinstance(a, CloseSlow):
                assert a.conn not in self.closed, "closed twice"
                self.closed.add(a.conn)
            elif isinstance(a, ThreadUnreadable):
                self.errors.append(a)
            elif isinstance(a, Wake):
                self.wakes += 1
            else:
                raise AssertionError(f"unexpected action {a}")

    def subscribe(self, conn: int, thread: str, cursor: Cursor) -> None:
        sub, actions = self.f.subscribe(conn, thread, cursor)
        self.sub_of[(conn, thread)] = sub
        self.thread[sub] = thread
        self.start[sub] = cursor
        self.queue[sub] = collections.deque(actions)
        self.step(sub)

    def step(self, sub: int) -> None:
        """Carry out ``sub``'s catch-up actions up to the next await of the hub's (a read or a paced send)."""
        q = self.queue.get(sub)
        while q:
            a = q.popleft()
            if isinstance(a, ReadPage):  # the read awaits; the page's send starts as soon as it is back
                q.extend(self.f.page_read(sub, self.t.stable(a.thread_id, a.after)[: self.f.page]))
                if q and isinstance(q[0], Send):
                    first = q.popleft()
                    assert isinstance(first, Send)
                    self.send(first)
                return
            if isinstance(a, Send) and a.paced:
                self.send(a)
                return
            if isinstance(a, GoLive):
                self.carry_out(self.f.caught_up(sub))
            else:
                self.carry_out([a])

    def read_feed(self) -> None:
        reads = collections.deque(self.f.reads())
        while reads:
            r = reads.popleft()
            for a in self.f.rows_read(r, self.t.xmin, self.t.feed(r, self.f.page)):
                if isinstance(a, ReadFeed):
                    reads.append(a)
                else:
                    self.carry_out([a])


ops = st.lists(
    st.one_of(
        st.tuples(st.just("insert"), st.sampled_from(THREADS), st.integers(0, 3)),
        st.tuples(st.just("horizon"), st.integers(1, 3)),
        st.tuples(st.just("subscribe"), st.integers(0, 2), st.sampled_from(THREADS), st.integers(0, 30)),
        st.tuples(st.just("unsubscribe"), st.integers(0, 2), st.sampled_from(THREADS)),
        st.tuples(st.just("feed"),),
        st.tuples(st.just("catch_up"), st.integers(0, 10)),
        st.tuples(st.just("slow"), st.integers(0, 2), st.booleans()),
        st.tuples(st.just("reconnect"), st.integers(0, 2)),
    ),
    max_size=80,
)


def check_exactly_once(table: Table, shell: Shell, subs: Sequence[int], *, closed: bool) -> None:
    """Each subscription got every row after its cursor once, in order (a prefix if closed as slow)."""
    for sub in subs:
        got = [r.cursor or ORIGIN for r in shell.got[sub]]
        assert got == sorted(set(got)) and len(got) == len(set(got)), f"sub {sub}: duplicate or out of order"
        thread = shell.thread[sub]
        expected = [r.cursor or ORIGIN for r in table.stable(thread, shell.start[sub])]
        if closed:
            # resuming from the last cursor it got completes it: no gap before that cursor
            assert got == expected[: len(got)], f"sub {sub}: a gap before its last cursor"
        else:
            assert got == expected, f"sub {sub}: missing rows"


@settings(max_examples=examples(400), deadline=None)
@given(plan=ops, page=st.integers(1, 4), hold=st.integers(2, 12))
def test_every_subscriber_gets_every_row_after_its_cursor_once_in_order(
    plan: list[tuple[object, ...]], page: int, hold: int
) -> None:
    """Any interleaving of subscribes, rows (out of id order, above and below the horizon), horizon moves, catch-up steps and slow sockets."""
    table = Table()
    fanout = FanOut(page=page, max_outgoing_bytes=1000, max_hold_bytes=hold * held_size([row("a", 1, 1, "m10")]))
    shell = Shell(fanout, table)
    slot = [fanout.connect() for _ in range(3)]
    ended: list[int] = []  # subscriptions dropped by an unsubscribe: checked as prefixes

    for op in plan:
        kind = op[0]
        if kind == "insert":
            table.insert(str(op[1]), int(op[2]))  # type: ignore[call-overload]
        elif kind == "horizon":
            table.xmin += int(op[1])  # type: ignore[call-overload]
        elif kind == "subscribe":
            conn, thread, pick = slot[int(op[1])], str(op[2]), int(op[3])  # type: ignore[call-overload]
            if conn in shell.closed:
                continue
            visible = table.stable(thread, ORIGIN)
            choices = [ORIGIN, Cursor.horizon(table.xmin), *(r.cursor for r in visible if r.cursor)]
            old = shell.sub_of.get((conn, thread))
            if old is not None and fanout.phase(old) is not None:
                ended.append(old)
            shell.subscribe(conn, thread, choices[pick % len(choices)])
        elif kind == "unsubscribe":
            conn, thread = slot[int(op[1])], str(op[2])  # type: ignore[call-overload]
            sub = shell.sub_of.get((conn, thread))
            if fanout.unsubscribe(conn, thread) and sub is not None:
                ended.append(sub)
        elif kind == "feed":
            shell.read_feed()
        elif kind == "catch_up":
            waiting = [s for s, q in shell.queue.items() if q]
            if waiting:
                shell.step(waiting[int(op[1]) % len(waiting)])  # type: ignore[call-overload]
        elif kind == "slow":
            fanout.buffered(slot[int(op[1])], 5000 if op[2] else 0)  # type: ignore[call-overload]
        elif kind == "reconnect":
            i = int(op[1])  # type: ignore[call-overload]
            if slot[i] in shell.closed:  # the close completed; the client reconnects
                fanout.disconnect(slot[i])
                slot[i] = fanout.connect()

    # Everything commits, the sockets drain, and the hub runs until quiet.
    table.xmin = max((r.cursor.txid for r in table.rows if r.cursor), default=table.xmin) + 1
    for conn in slot:
        fanout.buffered(conn, 0)
    for _ in range(10_000):
        waiting = [s for s, q in shell.queue.items() if q]
        before = sum(len(v) for v in shell.got.values())
        shell.read_feed()
        for s in waiting:
            shell.step(s)
        if not waiting and sum(len(v) for v in shell.got.values()) == before:
            break
    else:
        raise AssertionError("the fan-out never went quiet")

    current = {sub for (conn, _), sub in shell.sub_of.items() if fanout.phase(sub) is not None}
    live = [s for s in current if fanout.phase(s) is Phase.LIVE]
    closing = [s for s in current if fanout.phase(s) is Phase.CLOSING]
    assert all(fanout.phase(s) is not Phase.CATCHING_UP for s in current), "a catch-up never finished"
    check_exactly_once(table, shell, live, closed=False)
    check_exactly_once(table, shell, closing + ended, closed=True)
    slowed = {sub for (conn, _), sub in shell.sub_of.items() if conn in shell.closed}
    check_exactly_once(table, shell, sorted(slowed), closed=True)


# -- single decisions ---------------------------------------------------------------------


def test_first_subscriber_of_a_thread_goes_live_at_its_cursor_and_a_second_one_catches_up() -> None:
    """The first subscription starts the thread's feed at its cursor; a later one reads its history first."""
    f = FanOut()
    c1, c2 = f.connect(), f.connect()
    s1, actions = f.subscribe(c1, "a", Cursor(5, 0))
    assert actions == [Wake()] and f.phase(s1) is Phase.LIVE
    assert f.reads() == [ReadFeed({"a": Cursor(5, 0)})]
    s2, actions = f.subscribe(c2, "a", ORIGIN)
    assert actions == [ReadPage(s2, "a", ORIGIN)] and f.phase(s2) is Phase.CATCHING_UP


def test_rows_read_during_catch_up_are_held_then_sent_once_after_the_last_page() -> None:
    """Live rows that arrive while a subscriber reads its history follow it, minus those the history had."""
    f = FanOut(page=2)
    c1, c2 = f.connect(), f.connect()
    f.subscribe(c1, "a", ORIGIN)
    s2, _ = f.subscribe(c2, "a", ORIGIN)
    rows = [row("a", 10, 1), row("a", 10, 2), row("a", 11, 3)]
    actions = f.rows_read(f.reads()[0], 12, rows[:2])
    assert actions == [Send("a", tuple(rows[:2]), (c1,)), Wake()]
    assert f.page_read(s2, rows[:2]) == [Send("a", tuple(rows[:2]), (c2,), paced=True), ReadPage(s2, "a", Cursor(10, 2))]
    assert f.rows_read(f.reads()[0], 12, rows[2:]) == [Send("a", (rows[2],), (c1,))]
    assert f.page_read(s2, []) == [GoLive(s2)]
    assert f.caught_up(s2) == [Send("a", (rows[2],), (c2,))]
    assert f.phase(s2) is Phase.LIVE and f.last(s2) == Cursor(11, 3)


def test_a_catch_up_hold_past_its_byte_limit_closes_the_connection_once() -> None:
    """The hold is bounded in bytes: one big row passes the limit that many small ones would not."""
    big = row("a", 10, 1, "x" * 5000)
    f = FanOut(max_hold_bytes=held_size([big]) - 1)
    c1, c2 = f.connect(), f.connect()
    f.subscribe(c1, "a", ORIGIN)
    s2, _ = f.subscribe(c2, "a", ORIGIN)
    small = [row("a", 9, i, "y") for i in range(2, 5)]
    assert held_size(small) < held_size([big])
    assert f.rows_read(f.reads()[0], 10, small) == [Send("a", tuple(small), (c1,))]
    assert f.phase(s2) is Phase.CATCHING_UP
    actions = f.rows_read(f.reads()[0], 11, [big])
    assert CloseSlow(c2, HOLD) in actions and f.phase(s2) is Phase.CLOSING
    assert f.rows_read(f.reads()[0], 12, [row("a", 11, 9)]) == [Send("a", (row("a", 11, 9),), (c1,))]
    assert f.page_read(s2, []) == [] and not f.is_live(c2)


def test_a_connection_over_the_outgoing_limit_is_closed_and_sent_nothing_more() -> None:
    """Past max_outgoing_bytes unsent, a live subscriber's connection is closed once, the others go on."""
    f = FanOut(max_outgoing_bytes=100)
    c1, c2 = f.connect(), f.connect()
    f.subscribe(c1, "a", ORIGIN)
    f.subscribe(c2, "b", ORIGIN)
    s, _ = f.subscribe(c2, "a", ORIGIN)
    f.page_read(s, [])
    f.caught_up(s)
    f.buffered(c2, 101)
    r1, r2 = row("a", 5, 1), row("b", 5, 2)
    actions = f.rows_read(f.reads()[0], 6, [r1, r2])
    assert actions.count(CloseSlow(c2, OUTGOING)) == 1
    assert Send("a", (r1,), (c1,)) in actions
    assert not any(isinstance(a, Send) and c2 in a.to for a in actions)


def test_a_failing_shared_read_is_split_per_thread_and_only_the_failing_thread_is_told() -> None:
    """A data error in the shared feed read: one read per thread; the failing one's subscribers get one notice."""
    f = FanOut()
    c1, c2 = f.connect(), f.connect()
    f.subscribe(c1, "bad", ORIGIN)
    f.subscribe(c2, "good", ORIGIN)
    shared = f.reads()[0]
    split = f.read_failed(shared, "cannot read")
    assert split == [ReadFeed({"bad": ORIGIN}), ReadFeed({"good": ORIGIN})]
    assert isinstance(split[0], ReadFeed) and isinstance(split[1], ReadFeed)
    assert f.read_failed(split[0], "cannot read") == [ThreadUnreadable("bad", "cannot read", (c1,))]
    assert f.rows_read(split[1], 6, [row("good", 5, 1)]) == [Send("good", (row("good", 5, 1),), (c2,))]
    # From now on the failing thread is read on its own, and told only once.
    assert f.reads() == [ReadFeed({"good": Cursor(6, 0)}), ReadFeed({"bad": ORIGIN})]
    assert f.read_failed(f.reads()[1], "cannot read") == []
    # Once it reads again, it rejoins the shared read.
    f.rows_read(f.reads()[1], 7, [])
    assert f.reads() == [ReadFeed({"good": Cursor(6, 0), "bad": Cursor(7, 0)})]


def test_pending_records_go_to_live_subscribers_of_their_thread_only() -> None:
    """During an outage, uncommitted records go to live subscribers, not to catching-up ones or other threads."""
    f = FanOut()
    c1, c2, c3 = f.connect(), f.connect(), f.connect()
    f.subscribe(c1, "a", ORIGIN)
    f.subscribe(c2, "a", ORIGIN)  # catching up
    f.subscribe(c3, "b", ORIGIN)
    r = LogRecord(thread_id="a", message="p")
    assert f.pending([r, LogRecord(thread_id="z", message="q")]) == [Send("a", (r,), (c1,), pending=True)]


def test_resubscribing_replaces_the_subscription_and_unsubscribing_ends_the_feed() -> None:
    """One subscription per thread and connection; the thread's feed ends with its last subscriber."""
    f = FanOut()
    c = f.connect()
    s1, _ = f.subscribe(c, "a", ORIGIN)
    s2, _ = f.subscribe(c, "a", Cursor(3, 0))
    assert f.phase(s1) is None and f.subscription_count == 1
    assert f.unsubscribe(c, "a") and not f.unsubscribe(c, "a")
    assert not f.has_thread("a") and f.reads() == []
    assert f.phase(s2) is None


def test_a_connection_past_its_subscription_limit_is_refused_but_may_resubscribe() -> None:
    """max_subscriptions bounds one connection's threads; resubscribing to one it has is not one more."""
    f = FanOut(max_subscriptions=2)
    c, other = f.connect(), f.connect()
    f.subscribe(c, "a", ORIGIN)
    f.subscribe(c, "b", ORIGIN)
    with pytest.raises(ProtocolError) as err:
        f.subscribe(c, "c", ORIGIN)
    assert err.value.code == "too_many_subscriptions"
    f.subscribe(c, "a", Cursor(2, 0))
    f.subscribe(other, "c", ORIGIN)
    assert f.subscription_count == 3


def test_a_subscriber_who_comes_after_its_thread_failed_is_told_when_it_goes_live() -> None:
    """The notice is not only for those subscribed when the thread failed: a later subscriber gets it once caught up."""
    f = FanOut()
    c1, c2 = f.connect(), f.connect()
    f.subscribe(c1, "bad", ORIGIN)
    assert f.read_failed(f.reads()[0], "cannot read") == [ThreadUnreadable("bad", "cannot read", (c1,))]
    s2, actions = f.subscribe(c2, "bad", ORIGIN)
    assert actions == [ReadPage(s2, "bad", ORIGIN)]
    assert f.page_read(s2, []) == [GoLive(s2)]
    assert f.caught_up(s2) == [ThreadUnreadable("bad", "cannot read", (c2,))]
    # Once the thread reads again, a newcomer hears nothing.
    f.rows_read(f.reads()[0], 7, [])
    c3 = f.connect()
    s3, _ = f.subscribe(c3, "bad", ORIGIN)
    f.page_read(s3, [])
    assert f.caught_up(s3) == []
