"""The one component that ships a producer's records: a spool and a background thread.

Callers :meth:`Shipper.put` records (never blocking on the network or the database; under
the ``"block"`` policy only when the spool is full). A daemon thread cuts due batches
(:class:`~logctl.core.spool.Spool`), keeps up to ``transport.window`` of them in flight,
and on any failure closes the transport, waits (:class:`~logctl.core.retry.Attempt`) and
opens it again. What frames carry and what replies mean (acks, rejections, resends after a
reconnect) is decided by the pure :class:`~logctl.core.delivery.Delivery`: this thread
feeds it events and carries out its outcomes. The same class drives the hub and the
direct-to-PostgreSQL paths.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Sequence
from typing import Final, Protocol

from logctl.client.transports import Transport
from logctl.core.spool import Spool, SpoolLimits
from logctl.core.delivery import Delivered, Delivery, Failed, Reconnect, Reply
from logctl.core.records import LogRecord
from logctl.core.retry import Attempt, RetryPolicy
from logctl.core.wording import plural
from logctl.errors import HubRefused, HubUnavailable, HubUntrusted, LogctlError

__all__ = ["Journal", "ProducerStats", "Shipper", "on_shipper_thread"]

logger = logging.getLogger("logctl.client")

#: How long the thread waits for acks before looking at the spool again.
POLL_INTERVAL: Final = 0.1
#: Rejected records logged one by one before the log falls silent (they are still counted).
REJECTIONS_LOGGED: Final = 20
#: Waits between reconnects: 0.05 s doubling to 5 s, jitter in the upper half of each step.
RETRY: Final = RetryPolicy(base=0.05, cap=5.0, spread=0.5)

_IDENTS: set[int] = set()
os.register_at_fork(after_in_child=_IDENTS.clear)  # the parent's threads do not exist in a child


def on_shipper_thread() -> bool:
    """Whether the calling thread is a shipper's (a logging handler skips records made there)."""
    return threading.get_ident() in _IDENTS


class Journal(Protocol):
    """Where a shipper writes each record before taking it, and says what is acknowledged (the disk spool)."""

    def has_room(self, size: int) -> bool: ...

    def append(self, seq: int, record: LogRecord) -> None: ...

    def append_many(self, first_seq: int, records: Sequence[LogRecord]) -> None: ...

    def ack(self, upto: int) -> None: ...


@dataclasses.dataclass(frozen=True, slots=True)
class ProducerStats:
    """What a producer has done since it started.

    ``accepted = committed + rejected + pending``; ``dropped`` records were never accepted.
    """

    target: str
    accepted: int
    committed: int
    rejected: int
    pending: int
    dropped: int
    resent: int
    reconnects: int
    last_error: str | None


class Shipper:
    """A bounded spool of records and the daemon thread that delivers them."""

    def __init__(
        self,
        transport: Transport,
        limits: SpoolLimits | None = None,
        *,
        name: str = "logctl-shipper",
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
        retry: RetryPolicy = RETRY,
        journal: Journal | None = None,
        first_seq: int = 0,
        warn_refused: bool = True,
    ) -> None:
        self.transport = transport
        self._journal = journal
        self.name = name
        self._clock, self._jitter, self._retry = clock, jitter, retry
        self._spool: Spool[LogRecord] = Spool(limits, first_seq=first_seq)
        self._delivery = Delivery(self._spool, transport.producer_id)
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)      # the thread waits here for work
        self._progress = threading.Condition(self._lock)  # callers wait here for room or acks
        self._thread: threading.Thread | None = None
        self._connected = False
        self._closing = False  # no new records; deliver what is held
        self._stop = False     # give up now
        self._urgent = 0       # callers in flush(): send without lingering
        self.rejected = 0
        self.reconnects = 0
        self.last_error: str | None = None
        #: Set when the hub refused the token, or its certificate is not trusted: the thread stopped, nothing more is sent.
        self.refused: HubRefused | HubUntrusted | None = None
        self._warn_refused = warn_refused  # False when the caller raises ``refused`` itself (send)
        self._failing = False
        self._drops_reported = 0
        self._rejections_logged = 0

    @property
    def limits(self) -> SpoolLimits:
        return self._spool.limits

    def start(self) -> Shipper:
        """Start the thread (once)."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._main, name=self.name, daemon=True)
                self._thread.start()
        return self

    # -- callers -----------------------------------------------------------------------

    def put(self, record: LogRecord, size: int, *, timeout: float | None = None) -> bool:
        """Take one record of about ``size`` bytes; False if it was dropped (and counted).

        Never waits for the network or the database. When the spool is full, the
        ``"drop"`` policy drops the record at once; ``"block"`` waits up to ``timeout``
        seconds (None: for ever) for room. The shipper's own thread never blocks.
        """
        spool = self._spool
        with self._lock:
            taken = self._offer(record, size)
            while taken is None:
                if not self._progress.wait_for(lambda: self._closing or self._stop or self._has_room(size), timeout):
                    spool.note_drop()
                    return False
                taken = self._offer(record, size)
            return taken

    def put_many(self, records: Sequence[LogRecord], sizes: Sequence[int], *, timeout: float | None = None) -> int:
        """Take records in order, each as :meth:`put` would, under one lock; return how many were taken.

        Under ``"block"``, when a record finds no room within ``timeout`` seconds, it and
        the records after it are not taken (and are counted as dropped).
        """
        spool = self._spool
        taken = 0
        with self._lock:
            journal = self._journal
            if not self._closing and (journal is None or journal.has_room(sum(sizes))):  # the common case: room for all
                before = spool.unsent
                if spool.offer_many(records, sizes, self._clock()):
                    if journal is not None:
                        journal.append_many(spool.next_seq - len(records), records)
                    batch = spool.limits.batch_records
                    if not before or before < batch <= spool.unsent:
                        self._wake.notify()  # as _offer: the first unsent record, or a full batch
                    return len(records)
            for index, (record, size) in enumerate(zip(records, sizes)):
                ok = self._offer(record, size)
                while ok is None:
                    if not self._progress.wait_for(lambda: self._closing or self._stop or self._has_room(size), timeout):
                        spool.note_drop(len(records) - index)
                        return taken
                    ok = self._offer(record, size)
                taken += ok
        return taken

    def try_put(self, record: LogRecord, size: int) -> bool | None:
        """Like :meth:`put` but never waits: None means "full, policy block, not counted"."""
        with self._lock:
            return self._offer(record, size)

    def _has_room(self, size: int) -> bool:
        return self._spool.has_room(size) and (self._journal is None or self._journal.has_room(size))

    def _offer(self, record: LogRecord, size: int) -> bool | None:
        spool, journal = self._spool, self._journal
        if self._closing or self._stop:
            spool.note_drop()
            return False
        if journal is not None and not journal.has_room(size):
            seq = None
            if spool.limits.policy == "drop":
                spool.note_drop()
                return False
        else:
            seq = spool.offer(record, size, self._clock())
        if seq is None:
            if spool.limits.policy == "drop":
                return False  # counted by the spool
            if threading.get_ident() in _IDENTS:
                spool.note_drop()
                return False
            return None
        if journal is not None:
            journal.append(seq, record)
        unsent = spool.unsent
        if unsent == 1 or unsent == spool.limits.batch_records:
            self._wake.notify()
        return True

    def flush(self, timeout: float) -> int:
        """Wait up to ``timeout`` seconds until everything held is acknowledged; return what is left."""
        with self._lock:
            self._urgent += 1
            self._wake.notify()
            try:
                self._progress.wait_for(lambda: self._spool.pending == 0 or self._stop, timeout)
            finally:
                self._urgent -= 1
            return self._spool.pending

    def drain(self, stall_timeout: float) -> int:
        """Wait until everything held is acknowledged, giving up only after ``stall_timeout``
        seconds without any acknowledgement; return what is left."""
        with self._lock:
            self._urgent += 1
            self._wake.notify()
            try:
                while self._spool.pending and not self._stop:
                    before = self._spool.acked
                    self._progress.wait_for(
                        lambda: not self._spool.pending or self._spool.acked != before or self._stop, stall_timeout
                    )
                    if self._spool.acked == before:
                        break
            finally:
                self._urgent -= 1
            return self._spool.pending

    def close(self, timeout: float) -> int:
        """Take no more records, deliver what is held for up to ``timeout`` seconds, stop.

        Returns how many records were left undelivered.
        """
        with self._lock:
            self._closing = True
            self._wake.notify_all()
            self._progress.notify_all()
            if self._thread is not None:
                # _stop already set: the thread gave up for good (a refused token); nothing more can go.
                self._progress.wait_for(lambda: self._spool.pending == 0 or self._stop, timeout)
            left = self._spool.pending
            self._stop = True
            self._wake.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=0.5)
            if thread.is_alive():  # stuck in a connect or a write: it is a daemon, leave it
                return left
        self.transport.close()
        return left

    def stats(self) -> ProducerStats:
        with self._lock:
            s = self._spool
            return ProducerStats(
                target=self.transport.describe(),
                accepted=s.accepted,
                committed=s.acked - self.rejected,
                rejected=self.rejected,
                pending=s.pending,
                dropped=s.dropped,
                resent=s.resent,
                reconnects=self.reconnects,
                last_error=self.last_error,
            )

    # -- the thread --------------------------------------------------------------------

    def _main(self) -> None:
        _IDENTS.add(threading.get_ident())
        try:
            self._run()
        finally:
            _IDENTS.discard(threading.get_ident())
            with self._lock:
                self._progress.notify_all()

    def _run(self) -> None:
        attempt = Attempt(self._retry)
        while self._await_work():
            try:
                if not self._connected:
                    self._connect()
                progressed = self._exchange()
                if progressed:
                    attempt = attempt.reset()
            except (HubRefused, HubUntrusted) as exc:  # retrying cannot help: say it once and stop
                self._refuse(exc)
                return
            except LogctlError as exc:
                self._disconnect(str(exc))
            except Exception as exc:  # a bug must not kill the thread and strand the records
                logger.exception("logctl: unexpected error while shipping to %s", self.transport.describe())
                self._disconnect(f"{type(exc).__name__}: {exc}")
            if not self._connected:
                attempt = attempt.failed(self._clock(), jitter=self._jitter())
                self._sleep(attempt.delay)

    def _await_work(self) -> bool:
        """Wait until there is something to do; False when the thread should end."""
        spool = self._spool
        with self._lock:
            while True:
                if self._stop or (self._closing and not spool.pending):
                    return False
                if not spool.pending:
                    self._wake.wait()
                    continue
                if not self._connected or spool.inflight_batches or self._closing or self._urgent:
                    return True
                delay = spool.flush_delay(self._clock())
                if not delay:
                    return True
                self._wake.wait(delay)

    def _connect(self) -> None:
        self.transport.open()
        with self._lock:
            self._connected = True
            self._delivery.reconnected()

    def _exchange(self) -> bool:
        """Send what is due (up to the window), then take in acknowledgements."""
        spool, window = self._spool, self.transport.window
        while True:
            with self._lock:
                now = self._clock()
                if spool.inflight_batches >= window or not (
                    spool.should_flush(now) or (spool.unsent and (self._closing or self._urgent))
                ):
                    delay = spool.flush_delay(now)
                    wait = POLL_INTERVAL if spool.inflight_batches >= window or delay is None else delay
                    break
                frame = self._delivery.next_frame()
            assert frame is not None
            self.transport.send(frame)
        if not spool.inflight_batches:
            return False
        return self._absorb(self.transport.poll(min(wait, POLL_INTERVAL)))

    def _absorb(self, replies: list[Reply]) -> bool:
        refused: Reconnect | None = None
        acked = 0
        rejections: list[Failed] = []
        with self._lock:
            for outcome in self._delivery.replied(replies):
                if isinstance(outcome, Delivered):
                    acked += outcome.count
                elif isinstance(outcome, Failed):
                    rejections.append(outcome)
                    self.rejected += outcome.count
                else:
                    refused = outcome
            forbidden = next((r for r in rejections if r.code == "forbidden"), None)
            if forbidden is not None:  # the token lacks the write scope: the same for every frame; stop before waking anyone
                self.refused = HubRefused(f"the hub refused the token: {forbidden.message}")
                self._stop = True
            if acked and self._journal is not None and forbidden is None:  # refused records stay on disk for a replay
                self._journal.ack(self._spool.acked_upto)
            if acked or forbidden is not None:
                self._progress.notify_all()
            dropped, total = self._spool.dropped - self._drops_reported, self._spool.dropped
            self._drops_reported = total
        if self.refused is not None:
            raise self.refused
        self._report(rejections, dropped, total)
        if acked and self._failing:  # recovered: said once, like the failure
            logger.warning("logctl: delivering to %s again", self.transport.describe())
            self._failing = False
            self.last_error = None
        if refused is not None:
            raise HubUnavailable(f"{self.transport.describe()} refused a batch ({refused.code}): {refused.message}")
        return acked > 0

    def _report(self, rejections: list[Failed], dropped: int, total: int) -> None:
        for r in rejections:
            self._rejections_logged += 1
            if self._rejections_logged <= REJECTIONS_LOGGED:
                logger.warning("logctl: %s rejected %s (%s): %s", self.transport.describe(),
                               f"record seq {r.seq}" if r.count == 1 else plural(r.count, "record"), r.code, r.message)
            if self._rejections_logged == REJECTIONS_LOGGED:
                logger.warning("logctl: further rejected records are counted but not logged (see producer_stats())")
        if dropped:
            logger.warning("logctl: buffer full (%s): dropped %s, %s in all",
                           plural(self.limits.capacity, "record"), plural(dropped, "log record"), total)

    def _refuse(self, exc: HubRefused | HubUntrusted) -> None:
        with self._lock:
            self.refused, self.last_error = exc, str(exc)
            self._stop = True
            self._progress.notify_all()
            pending = self._spool.pending
        if self._warn_refused:
            logger.warning("logctl: %s; not retrying: %s not delivered", exc, plural(pending, "log record"))
        self.transport.close()

    def _disconnect(self, reason: str) -> None:
        was = self._connected
        with self._lock:
            self._connected = False
            self._delivery.lost()
            pending = self._spool.pending
            if was:
                self.reconnects += 1
        if reason != self.last_error:
            logger.warning("logctl: %s; keeping %s and retrying", reason, plural(pending, "log record"))
        self.last_error = reason
        self._failing = True
        try:
            self.transport.close()
        except Exception:
            logger.debug("closing %s failed", self.transport.describe(), exc_info=True)

    def _sleep(self, seconds: float) -> None:
        with self._lock:
            self._wake.wait_for(lambda: self._stop, seconds)
