"""The producer's in-memory spool (logctl.core.spool) and record drafting (logctl.core.drafting)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import examples

from logctl.core.drafting import clean_message, draft_record, json_size, record_size
from logctl.core.protocol.producer import encode_publish
from logctl.core.records import LogRecord
from logctl.core.spool import Batch, Spool, SpoolLimits, flush_delay, should_flush
from logctl.errors import ConfigError, InvalidRecord

NOW = dt.datetime(2026, 11, 30, 10, 30, tzinfo=dt.timezone.utc)


def spool(**limits: object) -> Spool[str]:
    return Spool(SpoolLimits(**limits))  # type: ignore[arg-type]


def fill(s: Spool[str], n: int, *, size: int = 10, now: float = 0.0) -> list[int | None]:
    return [s.offer(f"r{i}", size, now) for i in range(n)]


def test_offer_numbers_records_from_zero_without_gaps() -> None:
    """Accepted records get seq 0, 1, 2, … in order."""
    s = spool()
    assert fill(s, 5) == [0, 1, 2, 3, 4]
    assert s.pending == s.unsent == 5 and s.next_seq == 5


def test_first_seq_can_be_chosen() -> None:
    """A spool can start numbering elsewhere (e.g. after a restart with a kept producer id)."""
    s: Spool[str] = Spool(first_seq=100)
    assert s.offer("a", 1, 0.0) == 100
    assert s.acked_upto == 99


def test_next_batch_respects_record_limit() -> None:
    """A batch holds at most batch_records records, oldest first."""
    s = spool(batch_records=3)
    fill(s, 7)
    b1, b2, b3 = s.next_batch(), s.next_batch(), s.next_batch()
    assert b1 is not None and b2 is not None and b3 is not None
    assert (b1.first_seq, b1.items) == (0, ("r0", "r1", "r2"))
    assert (b2.first_seq, b2.last_seq) == (3, 5)
    assert (b3.first_seq, b3.items) == (6, ("r6",))
    assert s.next_batch() is None
    assert s.inflight == 7 and s.inflight_batches == 3 and s.unsent == 0


def test_next_batch_respects_byte_limit_but_always_takes_one() -> None:
    """A batch stops before batch_bytes, but a single oversized record still goes alone."""
    s = spool(batch_bytes=100)
    s.offer("big", 500, 0.0)
    s.offer("a", 40, 0.0)
    s.offer("b", 40, 0.0)
    s.offer("c", 40, 0.0)
    b1, b2, b3 = s.next_batch(), s.next_batch(), s.next_batch()
    assert b1 is not None and b1.items == ("big",) and b1.nbytes == 500
    assert b2 is not None and b2.items == ("a", "b") and b2.nbytes == 80
    assert b3 is not None and b3.items == ("c",)


def test_cumulative_ack_trims_whole_and_partial_batches() -> None:
    """ack(upto) forgets every record with seq <= upto, splitting a batch if needed."""
    s = spool(batch_records=4)
    fill(s, 10)
    s.next_batch(), s.next_batch(), s.next_batch()
    assert s.ack(5) == 6
    assert s.acked_upto == 5 and s.pending == 4 and s.inflight_batches == 2
    assert s.ack(9) == 4
    assert s.pending == 0 and s.nbytes == 0


def test_stale_and_future_acks() -> None:
    """A stale ack changes nothing; an ack beyond what was sent only covers what was sent."""
    s = spool(batch_records=2)
    fill(s, 6)
    s.next_batch()
    assert s.ack(1) == 2
    assert s.ack(0) == 0 and s.ack(1) == 0
    s.next_batch()
    assert s.ack(99) == 2  # records 4 and 5 were never sent: they stay
    assert s.acked_upto == 3 and s.unsent == 2


def test_rewind_reoffers_everything_unacked_in_order() -> None:
    """After a reconnect, every unacknowledged record is offered again, before the unsent ones."""
    s = spool(batch_records=2)
    fill(s, 7)
    s.next_batch(), s.next_batch(), s.next_batch()
    s.ack(1)
    assert s.rewind() == 4
    assert s.resent == 4 and s.inflight == 0 and s.unsent == 5
    batches = [s.next_batch() for _ in range(3)]
    assert [(b.first_seq, b.items) for b in batches if b] == [(2, ("r2", "r3")), (4, ("r4", "r5")), (6, ("r6",))]


def test_rewound_records_are_due_at_once() -> None:
    """Records offered again after a reconnect do not wait for the linger time."""
    s = spool(batch_records=100, linger=10.0)
    fill(s, 3, now=50.0)
    s.next_batch()
    s.rewind()
    assert s.should_flush(50.0)


def test_drop_policy_counts_every_refusal() -> None:
    """With "drop", a full spool refuses new records and counts each one; seqs stay gap-free."""
    s = spool(capacity=3, policy="drop")
    assert fill(s, 5) == [0, 1, 2, None, None]
    assert s.dropped == 2 and s.accepted == 3
    s.next_batch()
    s.ack(0)
    assert s.offer("later", 10, 0.0) == 3


def test_block_policy_refuses_without_counting() -> None:
    """With "block", a full spool refuses without counting; the caller counts a give-up."""
    s = spool(capacity=2, policy="block")
    assert fill(s, 3) == [0, 1, None]
    assert s.dropped == 0
    s.note_drop()
    assert s.dropped == 1


def test_byte_capacity() -> None:
    """The spool also holds at most capacity_bytes, though an empty one takes any one record."""
    s = spool(capacity_bytes=100)
    assert s.offer("huge", 1000, 0.0) == 0
    assert s.offer("small", 1, 0.0) is None
    s.next_batch()
    s.ack(0)
    assert s.offer("a", 60, 0.0) == 1
    assert s.offer("b", 60, 0.0) is None
    assert s.has_room(40)


def test_limits_are_validated() -> None:
    """Nonsense limits are a ConfigError that names the setting."""
    with pytest.raises(ConfigError, match="capacity"):
        SpoolLimits(capacity=0)
    with pytest.raises(ConfigError, match="policy"):
        SpoolLimits(policy="maybe")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="linger"):
        SpoolLimits(linger=-1)


def test_should_flush_on_size_or_age() -> None:
    """A batch is due when full or when its oldest record has waited the linger time."""
    assert not should_flush(0, None, 5.0, batch_records=10, linger=0.005)
    assert should_flush(10, 5.0, 5.0, batch_records=10, linger=0.005)
    assert not should_flush(3, 5.0, 5.001, batch_records=10, linger=0.005)
    assert should_flush(3, 5.0, 5.006, batch_records=10, linger=0.005)
    assert flush_delay(3, 5.0, 5.001, batch_records=10, linger=0.005) == pytest.approx(0.004)
    assert flush_delay(10, 5.0, 5.0, batch_records=10, linger=0.005) == 0.0
    assert flush_delay(0, None, 5.0, batch_records=10, linger=0.005) is None


def test_spool_flush_decision_uses_oldest_unsent() -> None:
    """The spool's flush decision looks at the oldest record not yet handed out."""
    s = spool(batch_records=3, linger=1.0)
    s.offer("a", 1, 10.0)
    assert not s.should_flush(10.5)
    assert s.flush_delay(10.5) == pytest.approx(0.5)
    assert s.should_flush(11.0)
    s.offer("b", 1, 11.0), s.offer("c", 1, 11.0)
    assert s.should_flush(11.0)


def test_clean_message_repairs_rather_than_refuses() -> None:
    """NUL is escaped, lone surrogates become U+FFFD, and oversize text is cut with a marker."""
    assert clean_message("plain") == "plain"
    assert clean_message("a\x00b") == "a\\x00b"
    assert clean_message("caf\udce9") == "caf\ufffd"
    assert clean_message("héllo") == "héllo"
    cut = clean_message("x" * 1000, max_bytes=100)
    assert cut.startswith("x" * 60) and cut.endswith("[truncated 940 bytes]")
    assert len(clean_message("é" * 1000, max_bytes=100).encode()) <= 100


def test_offer_many_appends_all_at_once_or_nothing() -> None:
    """offer_many takes a whole list, numbered on from next_seq, only if all of it fits; else nothing changes."""
    s = spool(capacity=5, capacity_bytes=100)
    assert s.offer_many(["a", "b", "c"], [10, 10, 10], 1.0) == 3
    assert (s.next_seq, s.pending, s.nbytes, s.accepted, s.oldest_unsent_at()) == (3, 3, 30, 3, 1.0)
    assert s.offer_many(["d", "e", "f"], [1, 1, 1], 2.0) == 0  # 6 records > capacity 5
    assert s.offer_many(["d"], [71], 2.0) == 0                 # 101 bytes > 100
    assert s.offer_many([], [], 2.0) == 0
    assert (s.next_seq, s.pending, s.nbytes, s.dropped) == (3, 3, 30, 0)
    batch = s.next_batch()
    assert batch is not None and (batch.first_seq, batch.items, batch.sizes) == (0, ("a", "b", "c"), (10, 10, 10))


def test_draft_record_validates_the_callers_arguments() -> None:
    """No thread id, a bad one, an unknown level or a non-str message are InvalidRecord with a code."""
    r = draft_record("hi", "t1", "warning", NOW)
    assert (r.thread_id, r.message, r.level, r.created_at, r.seq) == ("t1", "hi", "WARN", NOW, None)
    assert record_size(r) > len("hi")
    cases = [(("hi", None, "INFO"), "missing_thread_id"), (("hi", "", "INFO"), "bad_thread_id"),
             (("hi", "t1", "LOUD"), "unknown_level"), ((42, "t1", "INFO"), "bad_message")]
    for args, code in cases:
        with pytest.raises(InvalidRecord) as info:
            draft_record(*args, NOW)
        assert info.value.code == code


# -- property: nothing lost, nothing duplicated ---------------------------------------

ops = st.lists(
    st.one_of(
        st.tuples(st.just("offer"), st.integers(1, 7)),
        st.tuples(st.just("offer_many"), st.integers(0, 7)),  # all at once, else one by one
        st.tuples(st.just("send"), st.booleans()),          # delivered, or the connection breaks
        st.tuples(st.just("ack"), st.integers(0, 3)),        # ack the oldest k delivered frames
        st.tuples(st.just("part"), st.integers(0, 4)),       # ack part of the oldest delivered frame
        st.tuples(st.just("reconnect"), st.just(0)),
    ),
    max_size=60,
)


@settings(max_examples=examples(1000), deadline=None)
@given(ops=ops, capacity=st.integers(1, 12), batch=st.integers(1, 5), policy=st.sampled_from(["drop", "block"]))
def test_no_record_lost_or_duplicated(ops: list[tuple[str, object]], capacity: int, batch: int, policy: str) -> None:
    """Offers, lost sends, acks and reconnects in any mix, then a drain: every accepted record stored once, every refusal counted."""
    s: Spool[str] = Spool(SpoolLimits(capacity=capacity, batch_records=batch, policy=policy))  # type: ignore[arg-type]
    table: dict[int, str] = {}              # the database: unique (producer, seq)
    delivered: list[int] = []               # last seq of each frame the hub received, unacked
    accepted: dict[int, str] = {}
    refused = 0
    counter = 0
    broken = False                          # TCP: after one lost frame, all later ones are lost

    def send(lose: bool) -> None:
        nonlocal broken
        b = s.next_batch()
        broken = broken or lose
        if b is None or broken:
            return
        for seq, item in zip(b.seqs(), b.items):
            table.setdefault(seq, item)
        delivered.append(b.last_seq)

    def offer_one(item: str) -> None:
        nonlocal refused
        seq = s.offer(item, 1, 0.0)
        if seq is None:
            refused += 1
            if policy == "block":
                s.note_drop()
        else:
            accepted[seq] = item

    for op, arg in ops:
        if op == "offer":
            for _ in range(int(arg)):  # type: ignore[call-overload]
                counter += 1
                offer_one(f"m{counter}")
        elif op == "offer_many":
            items = [f"m{counter + i + 1}" for i in range(int(arg))]  # type: ignore[call-overload]
            counter += len(items)
            first = s.next_seq
            if s.offer_many(items, [1] * len(items), 0.0):
                accepted.update(zip(range(first, first + len(items)), items))
            else:
                for item in items:
                    offer_one(item)
        elif op == "send":
            send(bool(arg))
        elif op in ("ack", "part"):
            for _ in range(min(int(arg) if op == "ack" else 1, len(delivered))):  # type: ignore[call-overload]
                upto = delivered.pop(0) if op == "ack" else min(delivered[0], s.acked_upto + int(arg))  # type: ignore[call-overload]
                before = s.acked_upto
                s.ack(upto)
                assert all(q in table for q in range(before + 1, s.acked_upto + 1)), "acked before stored"
        else:
            delivered.clear()  # the connection is gone, and with it any ack not yet read
            broken = False
            s.rewind()
        assert s.pending == len(accepted) - (s.acked_upto + 1)
    # Drain: reconnect, then send and ack until nothing is held.
    delivered.clear()
    broken = False
    s.rewind()
    while s.pending:
        send(False)
        s.ack(delivered.pop())
    assert sorted(accepted) == list(range(len(accepted))), "seqs are gap-free"
    assert table == accepted, "every accepted record stored once, under its own seq"
    assert s.dropped == refused and s.accepted == len(accepted)
    assert s.acked == len(accepted) and s.nbytes == 0


@settings(max_examples=examples(200))
@given(st.text(), st.text(alphabet=st.characters(min_codepoint=1, max_codepoint=0x24), min_size=1, max_size=40))
def test_record_size_covers_the_records_json_in_a_frame(text: str, controls: str) -> None:
    """record_size is at least the UTF-8 bytes of the record's JSON in a publish frame (up to a few bytes of seq), control characters included."""
    for message in (clean_message(text), controls * 50):
        record = draft_record(message, "t-1", "INFO", NOW)
        batch = Batch(123_456, (record,), (record_size(record),), record_size(record))
        empty: Batch[LogRecord] = Batch(0, (), (), 0)
        encoded = len(encode_publish("p", 1, batch).encode("utf-8")) - len(encode_publish("p", 1, empty).encode("utf-8"))
        assert encoded <= record_size(record) + 16
        assert json_size(message) == len(json.dumps(message, ensure_ascii=False).encode("utf-8")) - 2


def test_a_spool_cuts_control_characters_at_their_escaped_size() -> None:
    """Records of control characters (six bytes each as JSON) fill a batch six times sooner than plain text."""
    s: Spool[LogRecord] = Spool(SpoolLimits(batch_bytes=100_000))
    for text in ("\x01" * 10_000, "x" * 10_000):
        for _ in range(12):
            record = draft_record(text, "t", "INFO", NOW)
            s.offer(record, record_size(record), 0.0)
    sizes = []
    while (batch := s.next_batch()) is not None:
        sizes.append(len(batch.items))
    assert sizes == [1] * 11 + [4, 9]  # measured as raw text it would be [9, 9, 6]
