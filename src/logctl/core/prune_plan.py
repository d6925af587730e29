"""Retention plans: what ``logctl prune`` should delete, decided from options and ``now``."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from typing import Final

from logctl.core.records import CREATED_AT_RANGE
from logctl.errors import ConfigError

__all__ = ["DEFAULT_BATCH", "DEFAULT_PACE", "MAX_PACE", "PrunePlan", "plan_prune"]

DEFAULT_BATCH: Final = 5000
#: Rest after each step of a prune (a batch, a partition detached or counted), as a multiple of
#: the time the step took: the prune then works about 1 / (1 + pace) of the time.
DEFAULT_PACE: Final = 3.0
MAX_PACE: Final = 100.0


@dataclasses.dataclass(frozen=True, slots=True)
class PrunePlan:
    """Delete rows created before ``cutoff`` and/or beyond the newest ``keep_per_thread``."""

    cutoff: dt.datetime | None
    keep_per_thread: int | None
    thread_id: str | None
    batch_size: int = DEFAULT_BATCH
    pace: float = DEFAULT_PACE

    def rest_after(self, worked: float) -> float:
        """Seconds to rest after a step that took ``worked`` seconds."""
        return max(worked, 0.0) * self.pace

    def describe(self) -> str:
        parts = []
        if self.cutoff is not None:
            parts.append(f"rows created before {self.cutoff.isoformat(timespec='seconds')}")
        if self.keep_per_thread is not None:
            parts.append(f"all but the newest {self.keep_per_thread} rows of each thread")
        scope = f"thread {self.thread_id!r}" if self.thread_id is not None else "every thread"
        return f"{' and '.join(parts)} in {scope}"


def _max_days(now: dt.datetime) -> int:
    """The largest ``--days`` whose cutoff is still a stored date (from now back to year 1)."""
    return (now - CREATED_AT_RANGE[0]).days


def plan_prune(
    *,
    days: float | None,
    keep_per_thread: int | None,
    thread_id: str | None,
    now: dt.datetime,
    batch_size: int = DEFAULT_BATCH,
    pace: float = DEFAULT_PACE,
) -> PrunePlan:
    """Validate prune options into a plan; at least one criterion is required."""
    if days is None and keep_per_thread is None:
        raise ConfigError("nothing to prune by: give --days N, --keep-per-thread N, or both")
    if days is not None and not (math.isfinite(days) and 0 <= days <= _max_days(now)):
        raise ConfigError(
            f"--days must be a number of days from 0 to {_max_days(now)} (back to year 1), not {days}"
        )
    if keep_per_thread is not None and keep_per_thread < 1:
        raise ConfigError(f"--keep-per-thread must be 1 or more, not {keep_per_thread}")
    if batch_size < 1:
        raise ConfigError(f"--batch-size must be 1 or more, not {batch_size}")
    if not (math.isfinite(pace) and 0 <= pace <= MAX_PACE):
        raise ConfigError(f"--pace must be a number from 0 to {MAX_PACE:g}, not {pace}")
    cutoff = now - dt.timedelta(days=days) if days is not None else None
    return PrunePlan(cutoff, keep_per_thread, thread_id, batch_size, pace)
