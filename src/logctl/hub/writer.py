"""Group commit: a writer thread that turns queued publish jobs into multi-row inserts.

Jobs are written in the order they were submitted and their callbacks run on the event
loop in that order, so acks on a connection come in the order of its frames. A write that
fails because the database is unavailable is retried (with backoff) until it succeeds or
the hub stops: nothing is dropped, and nothing is acked before it is committed.

A write that fails for any other reason (a row the database refuses, an encoding error, a
bug) is not retried as a whole: the batch is split in halves, recursively, until the rows
that fail are alone; those are rejected (their senders get an error frame) and every other
row is written. No exception ends the writer thread.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from typing import Final

from logctl.core.metrics import HubMetrics
from logctl.core.records import Row
from logctl.core.retry import Attempt, RetryPolicy
from logctl.errors import DatabaseDataError, DatabaseError, LogctlError
from logctl.store import LogStore

__all__ = ["Failure", "GroupWriter", "Job"]

logger = logging.getLogger("logctl.hub.writer")

MAX_BATCH: Final = 10_000
MAX_DELAY: Final = 0.002  # seconds to wait for more records once a batch has begun
#: Retry delays after a failed write: 0.05 s, doubling, at most 2 s.
RETRY_BASE: Final = 0.05
RETRY_CAP: Final = 2.0
RETRY: Final = RetryPolicy(base=RETRY_BASE, cap=RETRY_CAP)  # waits between write retries, no jitter
#: SQLSTATE classes of errors that belong to the rows written, not to the database:
#: data exceptions and integrity constraint violations.
ROW_ERROR_CLASSES: Final = ("22", "23")


@dataclasses.dataclass(frozen=True, slots=True)
class Failure:
    """A row the database would not take: its position among the rows handed to ``put``."""

    position: int
    reason: str
    #: The error code for its sender: ``producer_conflict`` when another row is stored under its
    #: ``(producer, seq)`` (a reused producer id, not a resend).
    code: str = "rejected_by_database"


@dataclasses.dataclass(slots=True)
class _Completion:
    """What one ``put`` call waits for: the failures of all its chunks, then one callback."""

    done: Callable[[list[Failure]], None]
    failures: list[Failure] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(slots=True)
class Job:
    """Consecutive rows of one ``put`` call (from ``offset``) and what to do once they are committed."""

    records: list[Row]
    completion: _Completion
    offset: int
    last: bool
    queued_at: float


class _GiveUp(Exception):
    """The hub is stopping and the database is still unavailable."""


def row_specific(exc: BaseException) -> bool:
    """Whether a failed write may be the fault of some of its rows rather than of the database.

    Unavailability, missing schema, privileges and the like are the database's: the whole
    batch waits and is retried. Data and constraint errors (SQLSTATE classes 22, 23) and
    anything that is not a :class:`LogctlError` at all (an encoding error while copying a
    row, a bug) are looked for row by row.
    """
    if not isinstance(exc, LogctlError) or isinstance(exc, DatabaseDataError):
        return True
    if type(exc) is not DatabaseError:  # DatabaseUnavailable, SchemaMissing, PrivilegeError, ...
        return False
    sqlstate = getattr(exc.__cause__, "sqlstate", None)
    return isinstance(sqlstate, str) and sqlstate[:2] in ROW_ERROR_CLASSES


class GroupWriter:
    """Owns the write path; ``put`` on the loop, ``run`` in its own thread."""

    def __init__(
        self,
        store: LogStore,
        loop: asyncio.AbstractEventLoop,
        metrics: HubMetrics,
        *,
        max_backlog: int = 1_000_000,
        on_down: Callable[[list[Row]], None] = lambda _r: None,
        on_up: Callable[[], None] = lambda: None,
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self._store = store
        self._loop = loop
        self._metrics = metrics
        self._jobs: collections.deque[Job] = collections.deque()
        self._cond = threading.Condition()
        self._stopping = False
        self._backlog = 0  # records queued or being written
        self._writing_since: float | None = None  # queued_at of the oldest job being written
        self.max_backlog = max_backlog
        self.database_up = True
        self._on_down = on_down
        self._on_up = on_up
        self._on_commit = on_commit
        self._room = asyncio.Event()
        self._room.set()
        self._thread = threading.Thread(target=self._run, name="logctl-writer", daemon=True)

    @property
    def backlog(self) -> int:
        return self._backlog

    @property
    def alive(self) -> bool:
        """Whether the writer thread runs (it only ends when the hub stops)."""
        return self._thread.is_alive()

    def oldest_wait(self, now: float) -> float:
        """Seconds the oldest job not yet committed has waited (0 when none waits); ``now`` is ``time.monotonic()``."""
        with self._cond:
            since = self._writing_since
            if since is None and self._jobs:
                since = self._jobs[0].queued_at
        return 0.0 if since is None else max(0.0, now - since)

    def start(self) -> None:
        self._thread.start()

    async def put(self, records: list[Row], done: Callable[[list[Failure]], None]) -> None:
        """Queue ``records`` (on the event loop); ``done(failures)`` runs on the loop once all are committed.

        The backlog never exceeds ``max_backlog`` records: ``put`` queues what fits and
        waits for room for the rest, so its caller stops reading its socket meanwhile
        (backpressure). Rows refused by the database come back in ``failures``.
        """
        completion = _Completion(done)
        offset = 0
        while True:
            if records:
                await self._room.wait()
            space = max(self.max_backlog - self._backlog, 1)
            chunk = records[offset:offset + space] if offset or len(records) > space else records
            last = offset + len(chunk) >= len(records)
            self._submit(Job(chunk, completion, offset, last, time.monotonic()))
            if last:
                return
            offset += len(chunk)

    def _submit(self, job: Job) -> None:
        with self._cond:
            self._jobs.append(job)
            self._backlog += len(job.records)
            if self._backlog >= self.max_backlog:
                self._room.clear()
            self._cond.notify()

    def stop(self, timeout: float) -> bool:
        """Write what is queued (for up to ``timeout`` s), then stop. Return whether all was written."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join(timeout)
        return self._backlog == 0 and not self._thread.is_alive()

    # -- writer thread ----------------------------------------------------------------

    def _take(self) -> list[Job] | None:
        with self._cond:
            while not self._jobs:
                if self._stopping:
                    return None
                self._cond.wait()
            # Nothing is being written now, so the backlog is exactly what is queued.
            if self._backlog < MAX_BATCH and not self._stopping:
                # Group commit: give concurrent producers a moment to join this batch.
                self._cond.wait(MAX_DELAY)
            jobs: list[Job] = []
            size = 0
            while self._jobs and (not jobs or size + len(self._jobs[0].records) <= MAX_BATCH):
                job = self._jobs.popleft()
                jobs.append(job)
                size += len(job.records)
            self._writing_since = jobs[0].queued_at
            return jobs

    def _run(self) -> None:
        while True:
            try:
                jobs = self._take()
            except Exception:  # pragma: no cover - _take only waits and pops
                logger.exception("the writer could not take jobs; trying again")
                time.sleep(RETRY_BASE)
                continue
            if jobs is None:
                return
            try:
                self._write(jobs)
            except _GiveUp:
                logger.error(
                    "stopping with %d records unwritten: the database is unavailable; they were not acked,"
                    " so their producers still hold them and send them again to the next hub", self._backlog,
                )
                return
            except Exception:  # a bug: the records are answered as failed, the writer goes on
                logger.exception("the writer failed on a batch of %d jobs; rejecting their records", len(jobs))
                self._complete(jobs, {i: _refused("internal error while writing") for i in range(sum(len(j.records) for j in jobs))}, 0)

    def _write(self, jobs: list[Job]) -> None:
        records = [r for j in jobs for r in j.records]
        failed: dict[int, Failure] = {}
        inserted = self._insert(records, 0, len(records), failed)
        if not self.database_up:
            self.database_up = True
            logger.warning("database writes recovered")
            self._call(self._on_up)
        self._complete(jobs, failed, inserted)

    def _complete(self, jobs: list[Job], failed: dict[int, Failure], inserted: int) -> None:
        size = sum(len(j.records) for j in jobs)
        if failed:
            self._metrics.records_write_rejected += len(failed)
            base = 0
            for job in jobs:
                for i in range(len(job.records)):
                    failure = failed.get(base + i)
                    if failure is not None:
                        job.completion.failures.append(dataclasses.replace(failure, position=job.offset + i))
                base += len(job.records)
        self._metrics.observe_batch(size - len(failed), inserted)
        with self._cond:
            self._backlog -= size
            self._writing_since = None
        self._call(self._finish, jobs)

    def _insert(self, records: list[Row], lo: int, hi: int, failed: dict[int, Failure]) -> int:
        """Insert ``records[lo:hi]``; rows the database refuses go into ``failed``. Return the rows inserted."""
        rows = records if (lo, hi) == (0, len(records)) else records[lo:hi]
        attempt = Attempt(RETRY)
        while True:
            try:
                result = self._store.write_rows(rows)
                for position in result.conflicts:  # a reused producer id: refused, never acked as stored
                    failed[lo + position] = Failure(lo + position, _CONFLICT, "producer_conflict")
                if result.conflicts:
                    logger.warning("%d records conflict with stored ones of the same producer and seq", len(result.conflicts))
                return result.inserted
            except Exception as exc:
                if row_specific(exc):
                    if hi - lo == 1:
                        failed[lo] = _refused(_reason(exc))
                        logger.warning("the database refused a record of thread %r: %s", rows[0][0][:64], _reason(exc))
                        return 0
                    mid = (lo + hi) // 2
                    return self._insert(records, lo, mid, failed) + self._insert(records, mid, hi, failed)
                self._metrics.write_failures += 1
                if self.database_up:
                    self.database_up = False
                    logger.warning("database write failed, keeping %d records and retrying: %s", self._backlog, exc)
                    with self._cond:
                        queued = [r for j in self._jobs for r in j.records]
                    self._call(self._on_down, records + queued)
                attempt = attempt.failed(time.monotonic())
                if self._stopping and attempt.failures > 3:
                    raise _GiveUp() from exc
                with self._cond:  # sleep, but wake at once if stop() is called
                    self._cond.wait(attempt.delay)

    def _finish(self, jobs: list[Job]) -> None:
        """On the loop: reopen intake if the backlog has room now, then complete each committed job, in order.

        Each completion runs on its own: one that raises is logged and the next still runs.
        """
        if self._backlog < self.max_backlog:  # read here, not in the thread: put() may have added since
            self._room.set()
        for job in jobs:
            if not job.last:
                continue
            try:
                job.completion.done(job.completion.failures)
            except Exception:
                logger.exception("completing a publish job failed; the jobs after it are still completed")
        self._on_commit()

    def _call(self, fn: Callable[..., None], *args: object) -> None:
        try:
            self._loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # the loop is closed: the hub is gone
            pass


_CONFLICT: Final = (
    "another record is stored under this producer and seq, with a different thread, message or level:"
    " the producer id is in use by another producer; this record was not stored"
)


def _refused(reason: str) -> Failure:
    """A refused row's failure; ``_complete`` sets its position within its ``put``."""
    return Failure(-1, reason)


def _reason(exc: BaseException) -> str:
    """One line for a refused row, for its sender: the database's own words, never its address."""
    cause = exc.__cause__ if isinstance(exc, LogctlError) and exc.__cause__ is not None else exc
    text = (str(cause).strip().splitlines() or [""])[0][:200]
    return f"the database refused this record: {type(cause).__name__}" + (f": {text}" if text else "")
