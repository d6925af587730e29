"""The fan-out's selections: several threads and a glob as one stream, each row once, in global order."""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import examples
from logctl.core.cursor import ORIGIN, Cursor
from logctl.core.fanout import (
    Action,
    CloseSlow,
    FanOut,
    GoLive,
    Phase,
    ReadFeed,
    ReadSelectionPage,
    Send,
    ThreadStarted,
    ThreadUnreadable,
    Wake,
    held_size,
)
from logctl.core.records import LogRecord
from logctl.core.selection import Selection
from test_fanout import Table, row

THREADS = ("a", "b", "x1", "x2", "x3")
SELECTIONS = (Selection(("a", "b")), Selection((), "x*"), Selection(("a",), "x?"), Selection(("b", "zz"), "x1"))


def wanted(table: Table, selection: Selection) -> list[str]:
    """What the store resolves: the named threads, and the glob's threads that hold a committed row (any, here)."""
    matched = sorted({r.thread_id for r in table.rows if selection.match is not None and selection.matches(r.thread_id)})
    return list(dict.fromkeys([*selection.threads, *matched]))


def expected(table: Table, selection: Selection, after: Cursor) -> list[Cursor]:
    return sorted(r.cursor for r in table.rows if r.cursor is not None and selection.matches(r.thread_id) and r.cursor > after)


class Client:
    """A viewer of one selection: it reconnects from the last cursor it got, as TailClient does."""

    def __init__(self, slot: int, selection: Selection, start: Cursor) -> None:
        self.slot, self.selection, self.start = slot, selection, start
        self.got: list[LogRecord] = []
        self.sub: int | None = None
        self.known: set[str] = set()

    @property
    def cursor(self) -> Cursor:
        return self.got[-1].cursor or ORIGIN if self.got else self.start


@dataclasses.dataclass(frozen=True)
class PageRead:
    """A selection's page, read from the table (its snapshot taken) but not yet handed to the fan-out."""

    records: list[LogRecord]
    threads: list[str]
    horizon: Cursor


@dataclasses.dataclass(frozen=True)
class FeedRead:
    """A feed read whose query ran but whose rows the fan-out has not seen yet (the hub awaits it)."""

    read: ReadFeed
    xmin: int
    rows: list[LogRecord]
    found: list[str]


class Shell:
    """Carries out the fan-out's actions as hub/feed.py does, one await at a time.

    Reads take their snapshot when they start and reach the fan-out later, with other
    events in between, as in the hub (a catch-up page or a feed query runs in a worker
    thread while the event loop goes on).
    """

    def __init__(self, fanout: FanOut, table: Table) -> None:
        self.f, self.t = fanout, table
        self.slots: list[int] = [fanout.connect() for _ in range(3)]
        self.clients: dict[int, Client] = {}  # by subscription
        self.queue: dict[int, collections.deque[Action | PageRead]] = {}
        #: The feed's current wake-up: reads planned (``reads()`` called, queries not run yet) or queried.
        self.inflight: collections.deque[ReadFeed | FeedRead] = collections.deque()
        self.closed: set[int] = set()
        self.woken = False

    def client(self, conn: int, name: str) -> Client:
        for sub, client in self.clients.items():
            if self.slots[client.slot] == conn and f"c{id(client)}" == name and self.f.phase(sub) is not None:
                return client
        raise AssertionError(f"a send to a selection that is gone: {conn} {name}")

    def send(self, action: Send) -> None:
        for conn in action.to:
            assert conn not in self.closed, "sent to a connection after closing it"
            if action.sub is None:
                continue  # a single thread's rows: test_fanout checks those
            client = self.client(conn, action.sub)
            for r in action.records:
                assert r.thread_id in client.known, f"{r.thread_id} sent before it was announced"
            client.got.extend(action.records)

    def carry_out(self, actions: Sequence[Action]) -> None:
        for a in actions:
            if isinstance(a, Send):
                assert not a.paced
                self.send(a)
            elif isinstance(a, ThreadStarted):
                self.client(a.conn, a.sub).known.add(a.thread_id)
            elif isinstance(a, CloseSlow):
                assert a.conn not in self.closed, "closed twice"
                self.closed.add(a.conn)
            elif isinstance(a, Wake):
                self.woken = True
            elif isinstance(a, ThreadUnreadable):
                pass
            else:
                raise AssertionError(f"unexpected action {a}")

    def subscribe(self, client: Client) -> None:
        conn = self.slots[client.slot]
        threads = wanted(self.t, client.selection)
        client.known |= set(threads)
        sub, actions = self.f.subscribe_selection(
            conn, f"c{id(client)}", client.selection, client.cursor, threads, Cursor.horizon(self.t.xmin)
        )
        client.sub = sub
        self.clients[sub] = client
        self.queue[sub] = collections.deque(actions)
        self.step(sub)

    def step(self, sub: int) -> None:
        q = self.queue.get(sub)
        if q and self.f.phase(sub) is None:  # dropped (its connection went): the hub's loop finds no outlet
            q.clear()
        while q:
            a = q.popleft()
            if isinstance(a, ReadSelectionPage):  # the read starts: its snapshot is now
                client = self.clients[sub]
                threads = wanted(self.t, client.selection)
                page = [r for r in self.t.rows if r.cursor is not None and r.cursor > a.after and r.cursor.txid < self.t.xmin
                        and r.thread_id in threads]
                page.sort(key=lambda r: r.cursor or ORIGIN)
                q.appendleft(PageRead(page[: self.f.page], threads, Cursor.horizon(self.t.xmin)))
                return
            if isinstance(a, PageRead):  # ... and comes back
                q.extend(self.f.selection_page_read(sub, a.records, a.threads, a.horizon))
                while q and isinstance(q[0], (ThreadStarted, Wake)):
                    lead = q.popleft()
                    assert not isinstance(lead, PageRead)
                    self.carry_out([lead])
                if q and isinstance(q[0], Send):  # the page's send starts as soon as it is read
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

    def query(self, read: ReadFeed) -> FeedRead:
        """Run a feed read's queries now: the rows below the horizon, then the threads the globs match."""
        found = sorted({r.thread_id for r in self.t.rows if any(Selection((), p).matches(r.thread_id) for p in read.patterns)})
        return FeedRead(read, self.t.xmin, self.t.feed(read, self.f.page), found)

    def deliver(self, done: FeedRead) -> list[ReadFeed]:
        more: list[ReadFeed] = []
        for a in self.f.rows_read(done.read, done.xmin, done.rows, done.found):
            if isinstance(a, ReadFeed):
                more.append(a)
            else:
                self.carry_out([a])
        return more

    def start_read(self, discover: bool = True) -> None:
        """A wake-up begins: the feed asks the fan-out what to read (the queries run at :meth:`query_reads`).

        Without ``discover`` the globs' look-up of new threads is left out (the hub spaces them out).
        """
        if not self.inflight:
            self.inflight.extend(self.f.reads(discover=discover))

    def query_reads(self) -> None:
        """The planned reads' queries run now (their snapshot); their rows reach the fan-out at :meth:`finish_read`."""
        self.inflight = collections.deque(self.query(r) if isinstance(r, ReadFeed) else r for r in self.inflight)

    def finish_read(self) -> None:
        while self.inflight:
            done = self.inflight.popleft()
            for r in self.deliver(done if isinstance(done, FeedRead) else self.query(done)):
                self.inflight.append(self.query(r))

    def read_feed(self) -> None:
        """One wake-up of the feed, and the ones its Wake actions ask for (a full page, a new thread)."""
        self.finish_read()
        for _ in range(1000):
            self.woken = False
            reads = collections.deque(self.f.reads())
            while reads:
                reads.extend(self.deliver(self.query(reads.popleft())))
            if not self.woken:
                return
        raise AssertionError("the feed kept waking itself")

    def settle(self) -> None:
        """Every catch-up runs to its end (no feed read meanwhile)."""
        for _ in range(10_000):
            waiting = [s for s, q in self.queue.items() if q]
            if not waiting:
                return
            for s in waiting:
                self.step(s)
        raise AssertionError("a catch-up never ended")

    def reconnect(self, i: int) -> None:
        """Connection ``i`` went (closed as slow, or dropped): its clients reconnect and resubscribe from their cursors."""
        self.f.disconnect(self.slots[i])
        self.closed.discard(self.slots[i])
        self.slots[i] = self.f.connect()
        for c in self.clients.values():  # every client of that connection reconnects
            if c.slot == i and c.sub is not None:
                c.sub = None
        for c in list(dict.fromkeys(self.clients.values())):
            if c.slot == i and c.sub is None:
                self.subscribe(c)


_insert = st.tuples(st.just("insert"), st.sampled_from(THREADS), st.integers(0, 3))
_horizon = st.tuples(st.just("horizon"), st.integers(1, 3))
_feed = st.tuples(st.just("feed"),)
ops = st.lists(
    st.one_of(  # inserts, horizon moves and feed reads twice as likely as the rest
        _insert, _insert, _horizon, _horizon, _feed, _feed,
        st.tuples(st.just("burst"), st.integers(2, 9), st.integers(0, 2)),
        st.tuples(st.just("settle"),),
        st.tuples(st.just("horizon"), st.integers(1, 3)),
        st.tuples(st.just("select"), st.integers(0, 2), st.integers(0, len(SELECTIONS) - 1), st.integers(0, 30)),
        st.tuples(st.just("single"), st.integers(0, 2), st.sampled_from(THREADS), st.integers(0, 30)),
        st.tuples(st.just("feed"),),
        st.tuples(st.just("start_read"), st.booleans()),
        st.tuples(st.just("query_reads"),),
        st.tuples(st.just("finish_read"),),
        st.tuples(st.just("catch_up"), st.integers(0, 10)),
        st.tuples(st.just("slow"), st.integers(0, 2), st.booleans()),
        st.tuples(st.just("reconnect"), st.integers(0, 2)),
    ),
    max_size=80,
)


@settings(max_examples=examples(1000), deadline=None)
@given(plan=ops, page=st.integers(1, 4), hold=st.integers(3, 40))
def test_every_selection_gets_every_row_of_its_threads_once_in_global_order(
    plan: list[tuple[object, ...]], page: int, hold: int
) -> None:
    """Any interleaving of rows (late threads included), reads, catch-up steps, slow sockets and reconnects."""
    table = Table()
    fanout = FanOut(page=page, max_outgoing_bytes=1000, max_hold_bytes=hold * held_size([row("a", 1, 1, "m10")]))
    shell = Shell(fanout, table)
    clients: list[Client] = []
    for op in plan:
        kind = op[0]
        if kind == "insert":
            table.insert(str(op[1]), int(op[2]))  # type: ignore[call-overload]
        elif kind == "horizon":
            table.xmin += int(op[1])  # type: ignore[call-overload]
        elif kind == "burst":  # rows of every thread, interleaved, several transactions
            for i in range(int(op[1])):  # type: ignore[call-overload]
                table.insert(THREADS[i % len(THREADS)], (i + int(op[2])) % 3)  # type: ignore[call-overload]
        elif kind == "settle":
            shell.settle()
        elif kind == "select":
            slot, which, pick = int(op[1]), int(op[2]), int(op[3])  # type: ignore[call-overload]
            if shell.slots[slot] in shell.closed or len(clients) >= 6:
                continue
            choices = [ORIGIN, Cursor.horizon(table.xmin),
                       *(r.cursor for r in table.rows if r.cursor is not None and r.cursor.txid < table.xmin)]
            client = Client(slot, SELECTIONS[which], choices[pick % len(choices)])
            clients.append(client)
            shell.subscribe(client)
        elif kind == "single":
            conn = shell.slots[int(op[1])]  # type: ignore[call-overload]
            if conn in shell.closed:
                continue
            cursor = [ORIGIN, Cursor.horizon(table.xmin)][int(op[3]) % 2]  # type: ignore[call-overload]
            _, actions = fanout.subscribe(conn, str(op[2]), cursor)
            for a in actions:  # a single thread's catch-up and sends are checked by test_fanout; here it only shares feeds
                if isinstance(a, ThreadStarted):
                    shell.carry_out([a])
        elif kind == "feed":
            shell.read_feed()
        elif kind == "start_read":
            shell.start_read(bool(op[1]))
        elif kind == "query_reads":
            shell.query_reads()
        elif kind == "finish_read":
            shell.finish_read()
        elif kind == "catch_up":
            waiting = [s for s, q in shell.queue.items() if q]
            if waiting:
                shell.step(waiting[int(op[1]) % len(waiting)])  # type: ignore[call-overload]
        elif kind == "slow":
            fanout.buffered(shell.slots[int(op[1])], 5000 if op[2] else 0)  # type: ignore[call-overload]
        elif kind == "reconnect":
            shell.reconnect(int(op[1]))  # type: ignore[call-overload]

    # Catch-ups finish first, so that the last rows reach live selections page by page through the feed.
    shell.settle()
    # Everything commits, sockets drain, closed clients reconnect, and the hub runs until quiet.
    table.xmin = max((r.cursor.txid for r in table.rows if r.cursor), default=table.xmin) + 1
    for _ in range(10_000):
        for slot in range(3):
            fanout.buffered(shell.slots[slot], 0)
            if shell.slots[slot] in shell.closed:
                shell.reconnect(slot)
        waiting = [s for s, q in shell.queue.items() if q]
        before = sum(len(c.got) for c in clients)
        shell.read_feed()
        for s in waiting:
            shell.step(s)
        if not waiting and not shell.closed and sum(len(c.got) for c in clients) == before:
            break
    else:
        raise AssertionError("the fan-out never went quiet")

    for client in clients:
        assert client.sub is not None and fanout.phase(client.sub) is Phase.LIVE, "a selection never went live"
        got = [r.cursor for r in client.got]
        assert got == expected(table, client.selection, client.start), (
            f"{client.selection}: got {got}, table {expected(table, client.selection, client.start)}"
        )


# -- the races, one by one (each also reachable by the property above, but rarely) ----------


def live(shell: Shell, selection: Selection, cursor: Cursor = ORIGIN) -> Client:
    """A client of ``selection`` from ``cursor``, caught up and live."""
    client = Client(0, selection, cursor)
    shell.subscribe(client)
    shell.settle()
    assert client.sub is not None and shell.f.phase(client.sub) is Phase.LIVE
    return client


def test_a_new_thread_whose_first_row_fell_below_the_horizon_before_any_read_is_sent_from_its_start() -> None:
    """A glob finds a thread only at the next read; by then its first rows may lie below the horizon."""
    table = Table()
    shell = Shell(FanOut(page=2), table)
    client = live(shell, Selection((), "x*"))
    table.insert("x1", 0)
    table.insert("x1", 1)
    table.xmin += 3
    shell.read_feed()
    assert [r.cursor for r in client.got] == expected(table, client.selection, ORIGIN) and len(client.got) == 2
    assert "x1" in client.known


def test_a_single_subscriber_starting_a_matching_thread_now_does_not_hide_its_older_rows_from_a_glob() -> None:
    """A feed created for a single subscriber at "now" starts no later than what the glob has looked for."""
    table = Table()
    shell = Shell(FanOut(page=2), table)
    client = live(shell, Selection((), "x*"))
    table.insert("x3", 0)
    table.xmin += 1
    _, actions = shell.f.subscribe(shell.slots[1], "x3", Cursor.horizon(table.xmin))  # a viewer of x3 alone, from now
    shell.carry_out([a for a in actions if isinstance(a, ThreadStarted)])
    table.insert("x3", 0)
    table.xmin += 1
    shell.read_feed()
    assert [r.cursor for r in client.got] == expected(table, client.selection, ORIGIN) and len(client.got) == 2


def test_a_read_planned_before_a_glob_subscribed_does_not_let_its_other_rows_pass_an_undiscovered_thread() -> None:
    """A read without the glob's pattern, queried after a new thread's row committed, holds the member's later rows."""
    table = Table()
    shell = Shell(FanOut(page=5), table)
    table.insert("a", 0)
    table.xmin += 1
    shell.f.subscribe(shell.slots[1], "a", Cursor.horizon(table.xmin))  # a viewer of a alone: a has a feed
    shell.start_read()  # planned: no glob yet, so no pattern in it
    assert list(shell.inflight) == [ReadFeed({"a": Cursor.horizon(table.xmin)})]
    client = live(shell, Selection(("a",), "x*"), Cursor.horizon(table.xmin))
    table.insert("x2", 0)  # a new thread's first row ...
    table.insert("a", 1)  # ... then a later one of a member
    table.xmin += 2
    shell.query_reads()
    shell.finish_read()
    shell.read_feed()
    assert [r.cursor for r in client.got] == expected(table, client.selection, client.start)
    assert [r.thread_id for r in client.got] == ["x2", "a"]


def test_a_thread_that_cannot_be_read_is_named_to_its_selections_and_the_rest_goes_on() -> None:
    """A member whose own read fails: each selection holding it (not one without it) is told once, with its sub;
    the other member's rows still go out."""
    f = FanOut()
    c1, c2 = f.connect(), f.connect()
    s1, first = f.subscribe_selection(c1, "mine", Selection(("bad", "good")), ORIGIN, ["bad", "good"], ORIGIN)
    s2, second = f.subscribe_selection(c2, "theirs", Selection(("good",)), ORIGIN, ["good"], ORIGIN)
    for sub, actions in ((s1, first), (s2, second)):
        assert actions[-1] == ReadSelectionPage(sub, ORIGIN)
        f.selection_page_read(sub, [], ["bad", "good"] if sub == s1 else ["good"], ORIGIN)
        f.caught_up(sub)
    split = f.read_failed(f.reads()[0], "cannot read")
    assert split == [ReadFeed({"bad": ORIGIN}), ReadFeed({"good": ORIGIN})]
    assert isinstance(split[0], ReadFeed) and isinstance(split[1], ReadFeed)
    assert f.read_failed(split[0], "cannot read") == [ThreadUnreadable("bad", "cannot read", (), ((c1, "mine"),))]
    good = row("good", 5, 1)
    assert f.rows_read(split[1], 6, [good]) == [Send("", (good,), (c1,), sub="mine"), Send("", (good,), (c2,), sub="theirs")]
    assert f.read_failed(f.reads()[1], "cannot read") == []  # told once


def test_a_selection_that_comes_after_a_member_failed_is_told_when_it_goes_live() -> None:
    """A selection joining a thread that already cannot be read names it once caught up; a healthy member is not named."""
    f = FanOut()
    c1, c2 = f.connect(), f.connect()
    f.subscribe(c1, "bad", ORIGIN)
    assert f.read_failed(f.reads()[0], "cannot read") == [ThreadUnreadable("bad", "cannot read", (c1,))]
    sub, actions = f.subscribe_selection(c2, "mine", Selection(("bad", "good")), ORIGIN, ["bad", "good"], ORIGIN)
    assert not any(isinstance(a, ThreadUnreadable) for a in actions)  # not before the selection is live
    f.selection_page_read(sub, [], ["bad", "good"], ORIGIN)
    assert f.caught_up(sub) == [ThreadUnreadable("bad", "cannot read", (), ((c2, "mine"),))]
