"""A batch's per-thread sums for the thread summary, as migration 005's insert trigger computes them. Pure.

The hub's writer appends these sums to ``thread_log_summary_delta`` itself, in the batch's
transaction, and tells the insert trigger to skip the batch (migration 007); plain-SQL writers
keep the trigger. See docs/architecture.md, "The list of threads".
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from typing import Any, Final

from logctl.core.records import LEVELS, Row

__all__ = ["ThreadSums", "thread_sums"]

#: The position of each level's count in an entry of :func:`thread_sums` (after first_at, last_at, count).
_COLUMN: Final = {level: 3 + n for n, level in enumerate(LEVELS)}


@dataclasses.dataclass(frozen=True, slots=True)
class ThreadSums:
    """One delta per thread: its first and last ``created_at``, its rows, and its rows per level."""

    thread_ids: list[str]
    first_at: list[dt.datetime]
    last_at: list[dt.datetime]
    count: list[int]
    debug: list[int]
    info: list[int]
    warn: list[int]
    error: list[int]

    def columns(self) -> tuple[list[Any], ...]:
        """The sums as the columns of an ``unnest(…)`` insert, in the delta table's order."""
        return (self.thread_ids, self.first_at, self.last_at, self.count, self.debug, self.info, self.warn, self.error)


def thread_sums(rows: Iterable[Row]) -> ThreadSums | None:
    """The per-thread sums of ``rows``, or None when the trigger must sum them instead.

    None when a row's level is not one of :data:`~logctl.core.records.LEVELS` (the hub's rows
    always are: it normalises them; SQL's ``upper()`` and Python's differ on a few non-ASCII
    letters, so other spellings are left to ``logctl_level()``), or a row has no ``created_at``
    (the column's default would give it the insert time). A missing level counts as INFO and a
    row with no thread is not summed, as in SQL. One loop, about 0.2 µs a row.
    """
    sums: dict[str, list[Any]] = {}  # thread -> [first_at, last_at, count, debug, info, warn, error]
    column = _COLUMN
    try:
        for thread_id, _message, level, created_at, _producer, _seq in rows:
            if thread_id is None:
                continue
            if created_at is None:
                return None
            entry = sums.get(thread_id)
            if entry is None:
                entry = sums[thread_id] = [created_at, created_at, 0, 0, 0, 0, 0]
            elif created_at < entry[0]:
                entry[0] = created_at
            elif created_at > entry[1]:
                entry[1] = created_at
            entry[2] += 1
            entry[column["INFO" if level is None else level]] += 1
    except KeyError:  # a level that is not one of LEVELS
        return None
    entries = list(sums.values())
    return ThreadSums(list(sums), *([entry[k] for entry in entries] for k in range(7)))
