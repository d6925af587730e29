"""Rows leaving ``thread_logs`` whole (dropped partitions), counted per thread and level, summed over partitions.

Pure: which page ranges each counting statement reads, then the rows counted by SQL in and
columns for one ``unnest`` out (the SQL is in :mod:`logctl.store.partition_drop`). Levels are
the summary's four (``logctl_level()``).
"""

from __future__ import annotations

import json

from collections.abc import Iterable, Sequence

__all__ = ["DroppedSums", "PageRange", "SumsRow", "count_statements"]

#: One thread's rows in one partition: (thread_id, rows, DEBUG, INFO, WARN, ERROR); thread_id None: rows with no thread.
SumsRow = tuple[str | None, int, int, int, int, int]


class DroppedSums:
    """Per-thread counts of the rows dropped, added up partition by partition."""

    __slots__ = ("_by_thread", "rows")

    def __init__(self) -> None:
        self._by_thread: dict[str, list[int]] = {}
        #: Every row counted, those with no thread (which the summary does not list) included.
        self.rows = 0

    def add(self, counted: Iterable[SumsRow]) -> int:
        """Add one partition's counts; return its rows."""
        rows = 0
        for thread_id, n, debug, info, warn, error in counted:
            rows += n
            if thread_id is None:
                continue
            have = self._by_thread.get(thread_id)
            if have is None:
                self._by_thread[thread_id] = [n, debug, info, warn, error]
            else:
                have[0] += n
                have[1] += debug
                have[2] += info
                have[3] += warn
                have[4] += error
        self.rows += rows
        return rows

    def __len__(self) -> int:
        """Threads that lost rows."""
        return len(self._by_thread)

    def json(self) -> str:
        """``[[thread_id, rows, DEBUG, INFO, WARN, ERROR], …]`` in thread_id order: one parameter for SQL.

        (Six lists dumped as arrays cost psycopg ~30 µs a thread; JSON, ~1.)
        """
        return json.dumps([[t, *self._by_thread[t]] for t in sorted(self._by_thread)], separators=(",", ":"))

    def columns(self) -> tuple[list[str], list[int], list[int], list[int], list[int], list[int]]:
        """(thread ids, rows, DEBUG, INFO, WARN, ERROR) as parallel lists, in thread_id order."""
        ids = sorted(self._by_thread)
        cols = [self._by_thread[t] for t in ids]
        return ids, [c[0] for c in cols], [c[1] for c in cols], [c[2] for c in cols], [c[3] for c in cols], [c[4] for c in cols]


#: One page range of a detached partition to count: (table, first page, page after the last).
PageRange = tuple[str, int, int]


def count_statements(pages: Sequence[tuple[str, int]], per_statement: int) -> list[list[PageRange]]:
    """Split partitions of ``pages`` pages each into page ranges, packed into statements of about ``per_statement`` pages.

    A big partition is counted over several statements; small ones share one (fewer rows back
    to add up). An empty partition still gets its range, so every table is read.
    """
    out: list[list[PageRange]] = []
    current: list[PageRange] = []
    filled = 0
    for name, size in pages:
        for lo in range(0, max(size, 1), per_statement):
            hi = lo + per_statement
            take = min(hi, max(size, 1)) - lo
            if current and filled + take > per_statement:
                out.append(current)
                current, filled = [], 0
            current.append((name, lo, hi))
            filled += take
    if current:
        out.append(current)
    return out
