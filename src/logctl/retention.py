"""Running a prune plan against the store: short batched deletes under an advisory lock."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

from logctl.core.retention import PrunePlan
from logctl.store import LogStore

__all__ = ["Progress", "PruneResult", "run_prune"]

#: Called with (rows done, rows in all) after each batch.
Progress = Callable[[int, int], None]


@dataclasses.dataclass(frozen=True, slots=True)
class PruneResult:
    planned: int
    deleted: int
    seconds: float
    dry_run: bool
    skipped_locked: bool = False


def count_planned(store: LogStore, plan: PrunePlan) -> tuple[int, list[tuple[str | None, int]]]:
    """How many rows the plan deletes: by age, plus per-thread excess left after that."""
    by_age = store.count_older_than(plan.cutoff, plan.thread_id) if plan.cutoff is not None else 0
    over = store.threads_over(plan.keep_per_thread, plan.thread_id) if plan.keep_per_thread is not None else []
    # The two criteria can overlap; the per-thread count is an upper bound until age runs.
    return by_age + sum(n for _, n in over), over


def run_prune(
    store: LogStore,
    plan: PrunePlan,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> PruneResult:
    """Apply ``plan``: age first, then per-thread limits, each in batches of ``plan.batch_size``."""
    started = clock()
    lock = None if dry_run else store.try_lock("prune")
    if not dry_run and lock is None:
        return PruneResult(0, 0, clock() - started, dry_run, skipped_locked=True)
    try:
        planned, over = count_planned(store, plan)
        if dry_run:
            return PruneResult(planned, 0, clock() - started, True)
        done = 0
        report = progress or (lambda _done, _total: None)
        report(0, planned)
        if plan.cutoff is not None:
            while n := store.delete_older_than(plan.cutoff, plan.thread_id, plan.batch_size):
                done += n
                report(done, planned)
        if plan.keep_per_thread is not None:
            for thread_id, _ in over:
                boundary = store.keep_boundary(thread_id, plan.keep_per_thread)
                while boundary is not None and (n := store.delete_before(thread_id, boundary, plan.batch_size)):
                    done += n
                    report(done, max(planned, done))
        return PruneResult(planned, done, clock() - started, False)
    finally:
        if lock is not None:
            lock.close()
