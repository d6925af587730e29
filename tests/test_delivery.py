"""The producer's frame and ack bookkeeping (core/delivery.py), driven against a model hub, with no I/O."""

from __future__ import annotations

import dataclasses
import json

from helpers import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from logctl.core.protocol.hub import DEFAULT_MAX_ERRORS_PER_FRAME, Publish, RecordError, publish_error_frames
from logctl.core.protocol.producer import decode_reply
from logctl.core.spool import Spool, SpoolLimits
from logctl.errors import InvalidRecord
from logctl.core.delivery import (
    Acked,
    Delivered,
    Delivery,
    Failed,
    Frame,
    Outcome,
    Reconnect,
    Refused,
    Rejected,
    Reply,
)

PRODUCER = "p-1"
WINDOW = 3


@dataclasses.dataclass
class ModelHub:
    """What a hub does with frames: store each good record once by (producer, seq), reject "bad"
    ones, ack every frame in order; or refuse a frame for now (shutting down)."""

    stored: dict[tuple[str, int], str] = dataclasses.field(default_factory=dict)
    first_seen: dict[int, tuple[str, str]] = dataclasses.field(default_factory=dict)
    outbox: list[Reply] = dataclasses.field(default_factory=list)
    refuse_next: bool = False

    def receive(self, frame: Frame[str]) -> None:
        for seq, item in zip(frame.batch.seqs(), frame.batch.items):
            # every (re)send of a seq carries the same producer id and record
            assert self.first_seen.setdefault(seq, (frame.producer, item)) == (frame.producer, item)
        if self.refuse_next:
            self.refuse_next = False
            self.outbox.append(Refused(frame.ref, "shutting_down", "the hub is stopping"))
            return
        for seq, item in zip(frame.batch.seqs(), frame.batch.items):
            if item.startswith("bad"):
                self.outbox.append(Rejected(seq, "invalid", f"record {seq} is bad"))
            else:
                self.stored.setdefault((frame.producer, seq), item)
        self.outbox.append(Acked(frame.ref, frame.batch.last_seq))


class Run:
    """A delivery machine, its spool, a model hub and the shell's bookkeeping of outcomes."""

    def __init__(self) -> None:
        self.spool: Spool[str] = Spool(SpoolLimits(capacity=10_000, batch_records=3, policy="block"))
        self.delivery = Delivery(self.spool, PRODUCER)
        self.hub = ModelHub()
        self.connected = False
        self.stale: list[Reply] = []  # replies meant for a connection that is gone
        self.delivered_upto = -1
        self.delivered = 0
        self.failed: list[int] = []
        self.items: dict[int, str] = {}

    def put(self, item: str) -> None:
        seq = self.spool.offer(item, 1, 0.0)
        assert seq is not None
        self.items[seq] = item

    def connect(self) -> None:
        if not self.connected:
            self.delivery.reconnected()
            self.hub.outbox = []
            self.connected = True

    def lose(self) -> None:
        if self.connected:
            self.delivery.lost()
            self.stale, self.hub.outbox = self.hub.outbox, []
            self.connected = False

    def send(self, limit: int = WINDOW) -> None:
        while self.connected and self.delivery.in_flight < limit:
            frame = self.delivery.next_frame()
            if frame is None:
                return
            assert frame.producer == PRODUCER
            self.hub.receive(frame)

    def deliver(self, replies: list[Reply]) -> None:
        self.absorb(self.delivery.replied(replies))

    def reply(self, count: int) -> None:
        if self.connected:
            replies, self.hub.outbox = self.hub.outbox[:count], self.hub.outbox[count:]
            self.deliver(replies)

    def absorb(self, outcomes: list[Outcome]) -> None:
        for outcome in outcomes:
            if isinstance(outcome, Delivered):
                # exactly once, in order: each Delivered covers the seqs right after the last one
                assert outcome.count == outcome.upto - self.delivered_upto, outcome
                self.delivered_upto = outcome.upto
                self.delivered += outcome.count
            elif isinstance(outcome, Failed):
                assert outcome.seq is not None
                self.failed.extend(range(outcome.seq, outcome.seq + outcome.count))
            else:
                assert isinstance(outcome, Reconnect)
                self.lose()

    def settle(self) -> None:
        """No more faults: reconnect if needed and exchange until the spool is empty (bounded)."""
        for _ in range(10 * (len(self.items) + 2)):
            if not self.spool.pending:
                return
            self.connect()
            self.send(limit=10**9)
            self.reply(len(self.hub.outbox))
        raise AssertionError(f"records never acknowledged: {self.spool.pending}")


OPS = st.one_of(
    st.tuples(st.just("put"), st.lists(st.sampled_from(["ok", "ok", "ok", "bad"]), min_size=1, max_size=5)),
    st.tuples(st.just("send"), st.just(0)),
    st.tuples(st.just("reply"), st.integers(1, 4)),
    st.tuples(st.just("duplicate"), st.just(0)),
    st.tuples(st.just("refuse"), st.just(0)),
    st.tuples(st.just("lose"), st.just(0)),
    st.tuples(st.just("connect"), st.just(0)),
    st.tuples(st.just("late"), st.integers(1, 4)),
)


@settings(max_examples=examples(600), deadline=None)
@given(st.lists(OPS, max_size=60))
def test_every_record_is_delivered_exactly_once_or_failed_whatever_the_interleaving(ops: list[tuple[str, object]]) -> None:
    """Sends, acks (in order, duplicated, late after a reconnect), rejections, refusals and lost connections
    in any order: each record is acknowledged exactly once, bad ones reported failed once, good ones stored,
    and every resend carries the same producer id and seq."""
    run = Run()
    run.connect()
    last: list[Reply] = []
    for op, arg in ops:
        if op == "put":
            assert isinstance(arg, list)
            for item in arg:
                run.put(f"{item}-{len(run.items)}")
        elif op == "send":
            run.send()
        elif op == "reply" and run.connected:
            assert isinstance(arg, int)
            last = run.hub.outbox[:arg]
            run.reply(arg)
        elif op == "duplicate" and last and run.connected:
            run.deliver(last)
        elif op == "refuse":
            run.hub.refuse_next = True
        elif op == "lose":
            run.lose()
        elif op == "connect":
            run.connect()
        elif op == "late" and run.connected and run.stale:
            assert isinstance(arg, int)
            late, run.stale = run.stale[:arg], run.stale[arg:]
            run.deliver(late)
    run.hub.refuse_next = False
    run.settle()

    bad = sorted(seq for seq, item in run.items.items() if item.startswith("bad"))
    good = {(PRODUCER, seq): item for seq, item in run.items.items() if not item.startswith("bad")}
    assert run.delivered == len(run.items) == run.spool.acked
    assert run.delivered_upto == len(run.items) - 1
    assert sorted(run.failed) == bad, "each bad record is reported failed exactly once"
    assert run.hub.stored == good, "every good record is stored, under its producer id and seq"


def test_a_frame_lost_with_its_connection_is_sent_again_with_the_same_producer_and_seqs() -> None:
    """After lost() and reconnected(), the unacknowledged records go out again: same producer, seqs, records; new ref."""
    spool: Spool[str] = Spool(SpoolLimits(batch_records=2))
    delivery = Delivery(spool, PRODUCER)
    for item in "abc":
        spool.offer(item, 1, 0.0)
    delivery.reconnected()
    first, second = delivery.next_frame(), delivery.next_frame()
    assert first is not None and second is not None
    assert delivery.replied([Acked(first.ref, first.batch.last_seq)]) == [Delivered(2, 1)]
    delivery.lost()
    assert delivery.reconnected() == 1
    again = delivery.next_frame()
    assert again is not None
    assert (again.producer, again.batch.first_seq, again.batch.items) == (PRODUCER, 2, ("c",))
    assert again.ref > second.ref
    assert delivery.next_frame() is None


def test_a_refusal_for_now_asks_for_a_reconnect_and_mutes_the_rest_of_that_connection() -> None:
    """Refused with a retry code gives Reconnect; later replies on that connection change nothing until reconnected()."""
    spool: Spool[str] = Spool(SpoolLimits(batch_records=1))
    delivery = Delivery(spool, PRODUCER)
    spool.offer("a", 1, 0.0)
    spool.offer("b", 1, 0.0)
    delivery.reconnected()
    a, b = delivery.next_frame(), delivery.next_frame()
    assert a is not None and b is not None
    outcomes = delivery.replied([Refused(a.ref, "shutting_down", "bye"), Acked(b.ref, 1)])
    assert outcomes == [Reconnect("shutting_down", "bye")]
    assert delivery.replied([Acked(b.ref, 1)]) == []
    assert spool.pending == 2
    delivery.lost()
    assert delivery.reconnected() == 2


def test_a_frame_refused_for_good_fails_its_records_once_and_counts_them_delivered() -> None:
    """A whole frame refused with a final code: Failed for its records, once, and they are done (not resent)."""
    spool: Spool[str] = Spool(SpoolLimits(batch_records=2))
    delivery = Delivery(spool, PRODUCER)
    for item in "ab":
        spool.offer(item, 1, 0.0)
    delivery.reconnected()
    frame = delivery.next_frame()
    assert frame is not None
    outcomes = delivery.replied([Refused(frame.ref, "bad_frame", "no"), Refused(frame.ref, "bad_frame", "no")])
    assert outcomes == [Delivered(2, 1), Failed(0, "bad_frame", "no", 2)]
    assert spool.pending == 0
    assert delivery.reconnected() == 0


def test_a_rejection_seen_again_after_a_resend_is_reported_once() -> None:
    """A record rejected, then resent because the ack was lost, and rejected again, is one Failed, not two."""
    spool: Spool[str] = Spool(SpoolLimits(batch_records=5))
    delivery = Delivery(spool, PRODUCER)
    spool.offer("bad", 1, 0.0)
    delivery.reconnected()
    frame = delivery.next_frame()
    assert frame is not None
    assert delivery.replied([Rejected(0, "invalid", "bad")]) == [Failed(0, "invalid", "bad")]
    delivery.lost()
    delivery.reconnected()
    again = delivery.next_frame()
    assert again is not None
    assert delivery.replied([Rejected(0, "invalid", "bad"), Acked(again.ref, 0)]) == [Delivered(1, 0)]


def test_the_hubs_too_many_errors_summary_fails_as_many_records_as_it_counts() -> None:
    """300 bad records answered as 100 error frames and one too_many_errors summary are 300 Failed records."""
    spool: Spool[str] = Spool(SpoolLimits(batch_records=400))
    delivery = Delivery(spool, PRODUCER)
    for i in range(350):
        spool.offer(f"r{i}", 1, 0.0)
    delivery.reconnected()
    frame = delivery.next_frame()
    assert frame is not None
    bad = [RecordError(i, i, InvalidRecord("message_too_large", "too big")) for i in range(0, 350) if i % 7 != 0][:300]
    publish = Publish(PRODUCER, frame.ref, [{"seq": i} for i in range(350)])
    texts = publish_error_frames(publish, bad, DEFAULT_MAX_ERRORS_PER_FRAME)
    texts.append(json.dumps({"type": "ack", "ref": frame.ref, "producer": PRODUCER, "upto": 349}))
    replies = [reply for text in texts if (reply := decode_reply(text)) is not None]
    outcomes = delivery.replied(replies)
    assert outcomes[0] == Delivered(350, 349)
    failed = [o for o in outcomes if isinstance(o, Failed)]
    assert sum(f.count for f in failed) == 300
    assert failed[-1] == Failed(None, "too_many_errors", failed[-1].message, 200)
