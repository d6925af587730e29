"""The producer's in-memory spool: records kept until acknowledged, cut into batches. Pure.

A producer numbers its records ``0, 1, 2, …`` (``seq``) and keeps each one until the hub
(or the database) acknowledges it. Acknowledgements are cumulative: ``ack(upto)`` means
every record with ``seq <= upto`` is done. After a reconnect, :meth:`Spool.rewind` offers
every unacknowledged record again; the table's unique ``(producer_id, seq)`` key turns a
resend into a no-op, so the pair gives at-least-once delivery and exactly-once rows.

The spool is bounded (records and bytes). When it is full, :meth:`Spool.offer` refuses the
new record: under the ``"drop"`` policy that refusal is counted as a drop at once; under
``"block"`` the caller waits for room and calls :meth:`Spool.note_drop` if it gives up.
Dropped records never get a ``seq``, so the sequence stays gap-free.

Nothing here reads a clock, sleeps or does I/O: ``now`` is passed in (monotonic seconds).
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
from collections.abc import Sequence
from typing import Final, Generic, Literal, TypeVar

from logctl.errors import ConfigError

__all__ = [
    "POLICIES",
    "Batch",
    "Policy",
    "Spool",
    "SpoolLimits",
    "flush_delay",
    "should_flush",
]

T = TypeVar("T")

Policy = Literal["block", "drop"]
POLICIES: Final = ("block", "drop")

_LONG_AGO: Final = float("-inf")


@dataclasses.dataclass(frozen=True, slots=True)
class SpoolLimits:
    """How much a spool holds, how it cuts batches, and what it does when full.

    ``capacity``/``capacity_bytes`` bound every record not yet acknowledged (sent or
    not). ``batch_records``/``batch_bytes`` bound one batch (one frame or one INSERT); a
    single record larger than ``batch_bytes`` still goes, alone. A batch is due once it
    is full or its oldest record has waited ``linger`` seconds.
    """

    capacity: int = 100_000
    capacity_bytes: int = 256 * 1024 * 1024
    batch_records: int = 2000
    batch_bytes: int = 4 * 1024 * 1024
    linger: float = 0.005
    policy: Policy = "drop"

    def __post_init__(self) -> None:
        for name in ("capacity", "capacity_bytes", "batch_records", "batch_bytes"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"spool {name} must be a positive integer, not {value!r}")
        if self.linger < 0:
            raise ConfigError(f"spool linger must be zero or more seconds, not {self.linger!r}")
        if self.policy not in POLICIES:
            raise ConfigError(f"buffer policy {self.policy!r} is not one of {', '.join(POLICIES)}")


@dataclasses.dataclass(frozen=True, slots=True)
class Batch(Generic[T]):
    """Consecutive records ``first_seq … last_seq`` handed out to be sent together."""

    first_seq: int
    items: tuple[T, ...]
    sizes: tuple[int, ...]
    nbytes: int

    @property
    def last_seq(self) -> int:
        return self.first_seq + len(self.items) - 1

    def seqs(self) -> range:
        return range(self.first_seq, self.first_seq + len(self.items))

    def after(self, upto: int) -> Batch[T]:
        """The part of this batch with ``seq > upto``."""
        cut = max(0, upto - self.first_seq + 1)
        sizes = self.sizes[cut:]
        return Batch(self.first_seq + cut, self.items[cut:], sizes, sum(sizes))


def should_flush(pending: int, oldest_enqueued_at: float | None, now: float, *, batch_records: int, linger: float) -> bool:
    """Whether to send now: a full batch is waiting, or the oldest record has waited ``linger``."""
    if pending <= 0 or oldest_enqueued_at is None:
        return False
    return pending >= batch_records or now - oldest_enqueued_at >= linger


def flush_delay(pending: int, oldest_enqueued_at: float | None, now: float, *, batch_records: int, linger: float) -> float | None:
    """Seconds until :func:`should_flush` turns true by age alone (0 if it is true; None if never)."""
    if pending <= 0 or oldest_enqueued_at is None:
        return None
    if pending >= batch_records:
        return 0.0
    return max(0.0, linger - (now - oldest_enqueued_at))


class Spool(Generic[T]):
    """Records awaiting acknowledgement, in ``seq`` order; see the module docstring.

    Records move ``unsent → in flight → acknowledged (forgotten)``; :meth:`rewind` moves
    everything in flight back to unsent. Not thread-safe: the caller holds a lock.
    """

    def __init__(self, limits: SpoolLimits | None = None, *, first_seq: int = 0) -> None:
        self.limits = limits = limits or SpoolLimits()
        self._capacity, self._capacity_bytes = limits.capacity, limits.capacity_bytes
        self._unsent: collections.deque[tuple[T, int, float]] = collections.deque()
        self._inflight: collections.deque[Batch[T]] = collections.deque()
        self._next_seq = first_seq        # seq of the next record offered
        self._unsent_seq = first_seq      # seq of self._unsent[0]
        self._acked_upto = first_seq - 1  # every seq <= this is done
        self._bytes = 0                   # estimated bytes held (unsent + in flight)
        self._inflight_records = 0
        #: Records accepted, dropped (refused for want of room), acknowledged, and offered again by rewind.
        self.accepted = 0
        self.dropped = 0
        self.acked = 0
        self.resent = 0

    # -- state -------------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Records held: accepted and not yet acknowledged."""
        return len(self._unsent) + self._inflight_records

    @property
    def unsent(self) -> int:
        return len(self._unsent)

    @property
    def inflight(self) -> int:
        """Records handed out by :meth:`next_batch` and not yet acknowledged."""
        return self._inflight_records

    @property
    def inflight_batches(self) -> int:
        return len(self._inflight)

    @property
    def nbytes(self) -> int:
        return self._bytes

    @property
    def acked_upto(self) -> int:
        return self._acked_upto

    @property
    def next_seq(self) -> int:
        return self._next_seq

    def has_room(self, size: int) -> bool:
        """Whether a record of ``size`` bytes fits now (an empty spool takes any one record)."""
        held = len(self._unsent) + self._inflight_records
        return not held or (held < self._capacity and self._bytes + size <= self._capacity_bytes)

    def oldest_unsent_at(self) -> float | None:
        return self._unsent[0][2] if self._unsent else None

    def should_flush(self, now: float) -> bool:
        """:func:`should_flush` applied to the unsent records."""
        return should_flush(self.unsent, self.oldest_unsent_at(), now,
                            batch_records=self.limits.batch_records, linger=self.limits.linger)

    def flush_delay(self, now: float) -> float | None:
        """:func:`flush_delay` applied to the unsent records."""
        return flush_delay(self.unsent, self.oldest_unsent_at(), now,
                           batch_records=self.limits.batch_records, linger=self.limits.linger)

    # -- transitions -------------------------------------------------------------------

    def offer(self, item: T, size: int, now: float) -> int | None:
        """Append ``item`` (about ``size`` bytes) and return its ``seq``; None if there is no room.

        Under the ``"drop"`` policy a refusal is counted in :attr:`dropped` here.
        """
        held = len(self._unsent) + self._inflight_records
        if held and (held >= self._capacity or self._bytes + size > self._capacity_bytes):
            if self.limits.policy == "drop":
                self.dropped += 1
            return None
        seq = self._next_seq
        self._next_seq = seq + 1
        self._unsent.append((item, size, now))
        self._bytes += size
        self.accepted += 1
        return seq

    def offer_many(self, items: Sequence[T], sizes: Sequence[int], now: float) -> int:
        """Append all of ``items`` at once if all fit, and return how many (0 if they do not).

        Their seqs follow on from :attr:`next_seq`. Nothing is refused or counted here:
        when they do not all fit, offer them one by one with :meth:`offer`, which applies
        the policy to each.
        """
        count, nbytes = len(items), sum(sizes)
        held = len(self._unsent) + self._inflight_records
        if not count or held + count > self._capacity or self._bytes + nbytes > self._capacity_bytes:
            return 0
        self._unsent.extend(zip(items, sizes, itertools.repeat(now)))
        self._next_seq += count
        self._bytes += nbytes
        self.accepted += count
        return count

    def note_drop(self, count: int = 1) -> None:
        """Count records that a blocked caller gave up on (``"block"`` policy)."""
        self.dropped += count

    def next_batch(self) -> Batch[T] | None:
        """Hand out the oldest unsent records as one batch (None when nothing is unsent)."""
        if not self._unsent:
            return None
        limit_records, limit_bytes = self.limits.batch_records, self.limits.batch_bytes
        unsent = self._unsent
        items: list[T] = []
        sizes: list[int] = []
        nbytes = 0
        while unsent and len(items) < limit_records:
            item, size, _ = unsent[0]
            if items and nbytes + size > limit_bytes:
                break
            unsent.popleft()
            items.append(item)
            sizes.append(size)
            nbytes += size
        batch = Batch(self._unsent_seq, tuple(items), tuple(sizes), nbytes)
        self._unsent_seq += len(items)
        self._inflight.append(batch)
        self._inflight_records += len(items)
        return batch

    def ack(self, upto: int) -> int:
        """Forget every record with ``seq <= upto``; return how many were forgotten.

        Only records handed out by :meth:`next_batch` can be acknowledged: an ``upto``
        beyond them is clamped, and a stale one (already acknowledged) changes nothing.
        """
        done = 0
        inflight = self._inflight
        while inflight and inflight[0].first_seq <= upto:
            head = inflight[0]
            if head.last_seq <= upto:
                inflight.popleft()
                done += len(head.items)
                self._bytes -= head.nbytes
            else:
                rest = head.after(upto)
                inflight[0] = rest
                done += len(head.items) - len(rest.items)
                self._bytes -= head.nbytes - rest.nbytes
                break
        if done:
            self._inflight_records -= done
            self._acked_upto += done
            self.acked += done
        return done

    def rewind(self) -> int:
        """After a reconnect: offer every unacknowledged record again; return how many.

        Rewound records are due at once (their wait counts from minus infinity).
        """
        if not self._inflight:
            return 0
        count = self._inflight_records
        again = [
            (item, size, _LONG_AGO)
            for batch in self._inflight
            for item, size in zip(batch.items, batch.sizes)
        ]
        self._unsent.extendleft(reversed(again))
        self._unsent_seq = self._inflight[0].first_seq
        self._inflight.clear()
        self._inflight_records = 0
        self.resent += count
        return count
