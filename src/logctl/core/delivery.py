"""A producer's frames and acknowledgements as a pure state machine: replies in, outcomes out.

The shipper (``client/shipper.py``) is the I/O shell. It feeds :class:`Delivery` these
events and carries out what comes back:

=================================  ===============================================================
event                              what the machine does / returns
=================================  ===============================================================
:meth:`~Delivery.reconnected`      forgets the old connection's frames; every unacknowledged record
                                   is due again, with its producer id and seq unchanged (returns
                                   how many will be resent)
:meth:`~Delivery.next_frame`       ("sent") the next :class:`Frame` to write: a new ``ref``, the
                                   oldest unsent records
a reply: :class:`Acked`            :class:`Delivered` once the frames at the head are all done
a reply: :class:`Rejected`         :class:`Failed` for that record, at most once per seq
a reply: :class:`Refused`          a frame refused for good: :class:`Failed` for each of its records;
                                   for now (``RETRY_CODES``) or unknown: :class:`Reconnect`, and
                                   every later reply on that connection is ignored
:meth:`~Delivery.lost`             forgets the frames in flight (they are resent on reconnect)
=================================  ===============================================================

Records live in a :class:`~logctl.core.spool.Spool` (capacity, batching, seqs); this
machine decides when they move. Invariant: each record is counted in exactly one
:class:`Delivered` (committed or rejected), and reported in :class:`Failed` at most once.
Nothing here does I/O, reads a clock or locks: the caller holds the spool's lock.
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Final, Generic, TypeVar, Union

from logctl.core.spool import Batch, Spool

__all__ = [
    "RETRY_CODES", "Acked", "Delivered", "Delivery", "Failed", "Frame", "Outcome", "Reconnect", "Refused",
    "Rejected", "Reply",
]

T = TypeVar("T")

#: Error codes that refuse a whole frame for now: the records are kept and sent again later.
#: (A hub whose backlog is full stops reading instead: TCP backpressure, no error frame.)
RETRY_CODES: Final = frozenset({"shutting_down", "database_unavailable"})


# -- replies: what the hub (or the database transport) said ----------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Acked:
    """Every record of frame ``ref`` (and of the frames before it) is committed or rejected."""

    ref: int | None
    upto: int | None


@dataclasses.dataclass(frozen=True, slots=True)
class Rejected:
    """The hub refused ``count`` records for good: one record (``seq``), or, with no ``seq``, the
    ``count`` records that a ``too_many_errors`` summary stands for."""

    seq: int | None
    code: str
    message: str
    count: int = 1


@dataclasses.dataclass(frozen=True, slots=True)
class Refused:
    """The hub did not take a frame (e.g. ``shutting_down``): reconnect and send it again."""

    ref: int | None
    code: str
    message: str


Reply = Union[Acked, Rejected, Refused]


# -- what the shell sends and what it is told ------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Frame(Generic[T]):
    """One ``publish`` frame to write: ``batch``'s records numbered from ``batch.first_seq``."""

    producer: str
    ref: int
    batch: Batch[T]


@dataclasses.dataclass(frozen=True, slots=True)
class Delivered:
    """``count`` more records are done (committed or rejected), every seq up to ``upto``."""

    count: int
    upto: int


@dataclasses.dataclass(frozen=True, slots=True)
class Failed:
    """``count`` records (from ``seq``, when known) were refused for good; said once per record."""

    seq: int | None
    code: str
    message: str
    count: int = 1


@dataclasses.dataclass(frozen=True, slots=True)
class Reconnect:
    """The connection cannot go on (a frame refused for now): close it, wait, reconnect."""

    code: str
    message: str


Outcome = Union[Delivered, Failed, Reconnect]


@dataclasses.dataclass(slots=True)
class _Sent:
    ref: int
    first_seq: int
    last_seq: int
    done: bool = False


class Delivery(Generic[T]):
    """The frames of one producer on its current connection, and what their replies mean."""

    def __init__(self, spool: Spool[T], producer: str) -> None:
        self.spool = spool
        self.producer = producer
        self._frames: collections.deque[_Sent] = collections.deque()
        self._ref = 0                     # refs keep rising across connections: a stale ref matches nothing
        self._refused = False             # a Reconnect was returned: ignore replies until reconnected()
        self._failed: set[int] = set()    # seqs reported as Failed and not yet acknowledged

    @property
    def in_flight(self) -> int:
        """Frames written on this connection and not yet done."""
        return len(self._frames)

    # -- events from the shell ---------------------------------------------------------

    def reconnected(self) -> int:
        """A new connection is open: every unacknowledged record is due again; return how many."""
        self._frames.clear()
        self._refused = False
        return self.spool.rewind()

    def lost(self) -> None:
        """The connection is gone: its frames will get no reply."""
        self._frames.clear()

    def next_frame(self) -> Frame[T] | None:
        """The next frame to write (the oldest unsent records), or None when nothing is unsent."""
        batch = self.spool.next_batch()
        if batch is None:
            return None
        self._ref += 1
        self._frames.append(_Sent(self._ref, batch.first_seq, batch.last_seq))
        return Frame(self.producer, self._ref, batch)

    def replied(self, replies: list[Reply]) -> list[Outcome]:
        """What ``replies`` (in the order they arrived) mean; acks are merged into one :class:`Delivered`."""
        outcomes: list[Outcome] = []
        for reply in replies:
            if self._refused:
                break
            if isinstance(reply, Acked):
                self._mark_done(reply.ref, reply.upto)
            elif isinstance(reply, Rejected):
                self._fail(reply.seq, reply.count, reply.code, reply.message, outcomes)
            else:
                frame = self._find(reply.ref)
                if frame is None or reply.code in RETRY_CODES:
                    self._refused = True
                    outcomes.append(Reconnect(reply.code, reply.message))
                    break
                frame.done = True  # the whole frame was refused for good: its records count as rejected
                self._fail(frame.first_seq, frame.last_seq - frame.first_seq + 1, reply.code, reply.message, outcomes)
        delivered = self._advance()
        if delivered is not None:
            outcomes.insert(0, delivered)
        return outcomes

    # -- inside ------------------------------------------------------------------------

    def _find(self, ref: int | None) -> _Sent | None:
        return next((f for f in self._frames if f.ref == ref), None) if ref is not None else None

    def _mark_done(self, ref: int | None, upto: int | None) -> None:
        frame = self._find(ref)
        if frame is not None:
            frame.done = True
        elif upto is not None:  # a stale or ref-less ack: its upto is a promise about seqs
            for f in self._frames:
                if f.last_seq <= upto:
                    f.done = True

    def _fail(self, seq: int | None, count: int, code: str, message: str, outcomes: list[Outcome]) -> None:
        if seq is None:
            outcomes.append(Failed(None, code, message, count))
            return
        fresh = [s for s in range(seq, seq + count) if s > self.spool.acked_upto and s not in self._failed]
        if fresh:
            self._failed.update(fresh)
            outcomes.append(Failed(fresh[0] if count == 1 else seq, code, message, len(fresh)))

    def _advance(self) -> Delivered | None:
        upto = None
        while self._frames and self._frames[0].done:
            upto = self._frames.popleft().last_seq
        if upto is None:
            return None
        count = self.spool.ack(upto)
        if self._failed:
            self._failed = {s for s in self._failed if s > upto}
        return Delivered(count, upto) if count else None
