"""Background folding of the thread summary's deltas (docs/architecture.md, "The list of threads").

Every ``interval`` seconds the hub folds the deltas that the triggers on ``thread_logs``
appended (:func:`logctl.store.runs.fold_summary`), so that the delta table stays small and each
``GET /admin/runs`` has few deltas to add, even when nobody reads the list for a long time.
Several hubs on one database take turns: a round that finds another hub folding skips.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from logctl.errors import DatabaseError
from logctl.store import LogStore
from logctl.store.runs import fold_summary

__all__ = ["SummaryFolder"]

logger = logging.getLogger("logctl.hub.summary")


class SummaryFolder:
    """Folds the summary's deltas every ``interval`` seconds until :meth:`stop`; never raises."""

    def __init__(self, store: LogStore, interval: float) -> None:
        self.store = store
        self.interval = interval
        #: Deltas folded by this hub so far, and rounds skipped because another hub was folding.
        self.folded = 0
        self.skipped = 0
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        """Stop after the fold in progress, if any (a fold is never cut halfway)."""
        self._stop.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.interval)
            if self._stop.is_set():
                return
            await self.fold_once()

    async def fold_once(self) -> None:
        try:
            folded = await asyncio.to_thread(fold_summary, self.store)
        except DatabaseError as exc:
            if not self._failing:  # once per outage, not every round
                logger.warning("folding the thread summary failed (retrying every %g s): %s", self.interval, exc)
            self._failing = True
            return
        except Exception:  # a bug: logged, and the next round tries again
            logger.exception("folding the thread summary failed")
            return
        self._failing = False
        if folded is None:
            self.skipped += 1
        else:
            self.folded += folded
