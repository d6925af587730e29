"""A k-way merge of per-thread streams read in pages: one stream in global ``(txid, id)`` order. Pure.

The store reads a selection's history (``GET /admin/logs``, a selection's catch-up) as one
ordered index scan per thread, each LIMITed, inside one snapshot. :class:`KWayMerge` decides
which threads to read next, from where and how many rows, and merges what comes back.

The rule that makes it exact: a thread that returned a *full* page may have more rows right
after its last one, so nothing beyond that row can be handed out until the thread is read
again. :meth:`KWayMerge.take` hands out rows in order and stops as soon as the next row
could come from a thread whose buffer ran dry while it still had more to read;
:meth:`KWayMerge.wanted` then names the threads to read. A thread that returned less than
it was asked for is exhausted. Each refill of a thread asks for twice as many rows as its
last one (up to ``max_page``), so a selection dominated by one busy thread costs a few reads,
and every thread is over-read by at most one page.

Descending merges (the latest rows first, for ``before=`` paging) work the same way with
the order reversed.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Final, Generic, TypeVar

from logctl.core.cursor import Cursor
from logctl.core.records import LogRecord

__all__ = ["KWayMerge", "MIN_PAGE", "record_position"]

#: The smallest page read of one thread.
MIN_PAGE: Final = 16

#: A row as the merge sees it: a LogRecord, or the store's raw row (decoded only once taken).
Row = TypeVar("Row")


def record_position(record: LogRecord) -> tuple[int, int]:
    """A committed record's ``(txid, id)``."""
    assert record.cursor is not None, "a merge takes committed rows only"
    return record.cursor.txid, record.cursor.id


class _Source(Generic[Row]):
    __slots__ = ("buffer", "cursor", "page", "exhausted")

    def __init__(self, cursor: Cursor, page: int) -> None:
        self.buffer: deque[Row] = deque()
        #: Where the next read of this thread starts (exclusive).
        self.cursor = cursor
        self.page = page
        self.exhausted = False


class KWayMerge(Generic[Row]):
    """Merge the rows of ``threads`` after ``start`` (or, ``descending``, before it) into one ordered stream.

    ``position(row)`` is a row's ``(txid, id)``: rows may be records or anything cheaper to
    hold (the store merges raw rows and builds records only for those it returns).
    """

    def __init__(
        self, threads: Iterable[str], start: Cursor, position: Callable[[Row], tuple[int, int]], *,
        descending: bool = False, page: int = MIN_PAGE, max_page: int = 10_000,
    ) -> None:
        self.position = position
        self.descending = descending
        self.max_page = max(1, max_page)
        first = max(1, min(page, self.max_page))
        self._sources: dict[str, _Source[Row]] = {t: _Source(start, first) for t in dict.fromkeys(threads)}
        #: Heads of the non-empty buffers: (sort key, thread).
        self._heap: list[tuple[tuple[int, int], str]] = []
        self._dry: set[str] = {t for t in self._sources}
        self.reads = 0

    def _key(self, row: Row) -> tuple[int, int]:
        txid, rid = self.position(row)
        return (-txid, -rid) if self.descending else (txid, rid)

    # -- what to read -------------------------------------------------------------------

    def wanted(self) -> dict[str, tuple[Cursor, int]]:
        """The threads to read before more rows can be taken: thread -> (read after this cursor, this many rows)."""
        return {t: (self._sources[t].cursor, self._sources[t].page) for t in sorted(self._dry)}

    def add(self, thread_id: str, rows: Sequence[Row], asked: int) -> None:
        """The read of ``thread_id`` that :meth:`wanted` asked for (``asked`` rows) returned ``rows``, in merge order."""
        source = self._sources[thread_id]
        self.reads += 1
        self._dry.discard(thread_id)
        if len(rows) < asked:
            source.exhausted = True
        if rows:
            was_empty = not source.buffer
            source.buffer.extend(rows)
            source.cursor = Cursor(*self.position(rows[-1]))
            if was_empty:
                heapq.heappush(self._heap, (self._key(source.buffer[0]), thread_id))
        source.page = min(self.max_page, source.page * 2)

    @property
    def done(self) -> bool:
        """Every row of every thread has been taken."""
        return not self._heap and not self._dry

    # -- what to hand out ---------------------------------------------------------------

    def take(self, limit: int) -> list[Row]:
        """Up to ``limit`` rows in merge order, as far as is known to be complete; see the module docstring."""
        out: list[Row] = []
        heap = self._heap
        while len(out) < limit and heap and not self._dry:
            _, thread_id = heapq.heappop(heap)
            source = self._sources[thread_id]
            out.append(source.buffer.popleft())
            if source.buffer:
                heapq.heappush(heap, (self._key(source.buffer[0]), thread_id))
            elif not source.exhausted:
                self._dry.add(thread_id)
        return out
