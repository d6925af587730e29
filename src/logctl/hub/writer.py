"""Group commit: a writer thread that turns queued publish jobs into multi-row inserts.

Jobs are written in the order they were submitted and their callbacks run on the event
loop in that order, so acks on a connection come in the order of its frames. A failed write
is retried (with backoff) until it succeeds or the hub stops: nothing is dropped, and
nothing is acked before it is committed.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
import threading
from collections.abc import Callable
from typing import Final

from logctl.core.backoff import exponential
from logctl.core.metrics import HubMetrics
from logctl.core.records import Row
from logctl.errors import DatabaseError
from logctl.store import LogStore

__all__ = ["GroupWriter", "Job"]

logger = logging.getLogger("logctl.hub.writer")

MAX_BATCH: Final = 10_000
MAX_DELAY: Final = 0.002  # seconds to wait for more records once a batch has begun
#: Retry delays after a failed write: 0.05 s, doubling, at most 2 s.
RETRY_BASE: Final = 0.05
RETRY_CAP: Final = 2.0


@dataclasses.dataclass(slots=True)
class Job:
    """Records of one publish frame (as store rows) and what to do once they are committed."""

    records: list[Row]
    done: Callable[[], None]


class GroupWriter:
    """Owns the write path; ``submit`` on the loop, ``run`` in its own thread."""

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

    def start(self) -> None:
        self._thread.start()

    def submit(self, records: list[Row], done: Callable[[], None]) -> None:
        """Queue a job (call on the event loop). ``done`` runs on the loop after commit."""
        with self._cond:
            self._jobs.append(Job(records, done))
            self._backlog += len(records)
            if self._backlog >= self.max_backlog:
                self._room.clear()
            self._cond.notify()

    async def wait_for_room(self) -> None:
        """Wait while the backlog is full: the caller stops reading its socket (backpressure)."""
        await self._room.wait()

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
            return jobs

    def _run(self) -> None:
        while (jobs := self._take()) is not None:
            records = [r for j in jobs for r in j.records]
            attempt = 0
            while True:
                try:
                    inserted = self._store.insert_rows(records)
                    break
                except DatabaseError as exc:
                    self._metrics.write_failures += 1
                    if self.database_up:
                        self.database_up = False
                        logger.warning("database write failed, keeping %d records and retrying: %s", len(records), exc)
                        with self._cond:
                            queued = [r for j in self._jobs for r in j.records]
                        self._call(self._on_down, records + queued)
                    attempt += 1
                    if self._stopping and attempt > 3:
                        logger.error("stopping with %d records unwritten (not acked; producers keep them)", self._backlog)
                        return
                    with self._cond:  # sleep, but wake at once if stop() is called
                        self._cond.wait(exponential(attempt - 1, base=RETRY_BASE, cap=RETRY_CAP))
            if not self.database_up:
                self.database_up = True
                logger.warning("database writes recovered")
                self._call(self._on_up)
            self._metrics.observe_batch(len(records), inserted)
            with self._cond:
                self._backlog -= len(records)
            self._call(self._finish, jobs)

    def _finish(self, jobs: list[Job]) -> None:
        """On the loop: reopen intake if the backlog has room now, then run each committed job's callback, in order."""
        if self._backlog < self.max_backlog:  # read here, not in the thread: submit() may have added since
            self._room.set()
        for job in jobs:
            job.done()
        self._on_commit()

    def _call(self, fn: Callable[..., None], *args: object) -> None:
        try:
            self._loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # the loop is closed: the hub is gone
            pass
