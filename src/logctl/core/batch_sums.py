"""A batch's per-thread sums for the thread summary, as migration 005's insert trigger computes them. Pure.

The hub's writer appends these sums to ``thread_log_summary_delta`` itself, in the batch's
transaction, and tells the insert trigger to skip the batch (migration 007); plain-SQL writers
keep the trigger. See docs/architecture.md, "The list of threads".
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Sequence
from operator import itemgetter
from typing import Any, Final

from logctl.core.records import LEVELS, Row

__all__ = ["ThreadSums", "thread_sums"]

#: The position of each level's count in an entry of :func:`thread_sums` (after first_at, last_at, count).
_COLUMN: Final = {level: 3 + n for n, level in enumerate(LEVELS)}

_THREAD: Final = itemgetter(0)
_LEVEL: Final = itemgetter(2)
_CREATED: Final = itemgetter(3)


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


def thread_sums(rows: Sequence[Row]) -> ThreadSums | None:
    """The per-thread sums of ``rows``, or None when the trigger must sum them instead.

    None when a row's level is not one of :data:`~logctl.core.records.LEVELS` (the hub's rows
    always are: it normalises them; SQL's ``upper()`` and Python's differ on a few non-ASCII
    letters, so other spellings are left to ``logctl_level()``), or a row has no ``created_at``
    (the column's default would give it the insert time). A missing level counts as INFO and a
    row with no thread is not summed, as in SQL.

    A batch of one thread (one busy producer's, the common case) is summed by C-level passes
    (``min``, ``max``, ``Counter``): about 0.08 µs a row. Any other batch takes one Python loop,
    about 0.15–0.2 µs a row.
    """
    if rows:
        first = rows[0][0]
        # the last and middle rows first: most batches of several threads are told apart there,
        # before the whole batch is compared
        if (first is not None and rows[-1][0] == first and rows[len(rows) // 2][0] == first
                and list(map(_THREAD, rows)).count(first) == len(rows)):
            return _one_thread(first, rows)
    return _by_loop(rows)


def _one_thread(thread_id: str, rows: Sequence[Row]) -> ThreadSums | None:
    """:func:`thread_sums` of rows that all belong to ``thread_id``."""
    created = list(map(_CREATED, rows))
    if None in created:
        return None
    counts = [0, 0, 0, 0]
    for level, n in Counter(map(_LEVEL, rows)).items():
        column = _COLUMN.get("INFO" if level is None else level)
        if column is None:
            return None
        counts[column - 3] += n
    return ThreadSums([thread_id], [min(created)], [max(created)], [len(rows)], *([n] for n in counts))


def _by_loop(rows: Sequence[Row]) -> ThreadSums | None:
    """:func:`thread_sums` of any rows, in one loop."""
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
