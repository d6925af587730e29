"""The history + live merge: show every record of a thread exactly once, in stream order.

A tail client reads a page of history over HTTP, then follows the live stream from the
cursor that page returned, and after a dropped connection catches up from the last cursor
it processed. :class:`StreamMerge` takes all of that as data — history pages, ``records``
frames (committed, with cursors; or ``pending``, without) and reconnect boundaries — and
answers with the entries to show. It performs no I/O.

The rules (see docs/protocol.md):

* a committed record whose cursor is at or below the last cursor processed is a
  duplicate (an overlap between history and live, a replayed frame, a resend after a
  reconnect) and is dropped;
* a committed record whose ``(producer_id, seq)`` was already shown as *pending* is not
  shown again, but its cursor still advances the resume cursor;
* a pending record whose key was already shown (pending or committed) is dropped;
* live frames that arrive before the first history page are held back and merged after it;
* older history pages (keyset ``before=``) are accepted only below the oldest record shown.

The resume cursor (:attr:`StreamMerge.cursor`) is what a client sends when it subscribes
or reconnects. It only moves forward, and only past records that were processed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Final, Union

from logctl.core.cursor import Cursor
from logctl.core.protocol.history import HistoryPage, parse_history, parse_record
from logctl.core.records import LogRecord
from logctl.core.wording import plural

__all__ = [
    "Entry",
    "HistoryPage",
    "Marker",
    "StreamMerge",
    "parse_history",
    "parse_record",
]

#: How many keys of committed records are remembered to drop a late pending copy.
RECENT_KEYS: Final = 50_000
#: How many keys of pending records are remembered while waiting for their commit.
PENDING_KEYS: Final = 200_000


@dataclasses.dataclass(frozen=True, slots=True)
class Marker:
    """A line the viewer adds to the stream itself, such as a reconnect notice."""

    text: str
    created_at: dt.datetime | None = None
    level: str = "INFO"


#: What a viewer shows: a record, or a marker of its own.
Entry = Union[LogRecord, Marker]


class StreamMerge:
    """The merge state of one thread's view (see the module docstring for the rules)."""

    def __init__(self, cursor: Cursor | None = None, *, recent_keys: int = RECENT_KEYS, pending_keys: int = PENDING_KEYS) -> None:
        #: The resume cursor: every committed record at or before it has been processed.
        self.cursor: Cursor | None = cursor
        #: Where to page further back (None: nothing older, or no history loaded yet).
        self.before: Cursor | None = None
        #: The cursor of the oldest committed record shown.
        self.oldest: Cursor | None = None
        self.has_history = cursor is not None
        #: Records shown so far (committed and pending) and duplicates dropped.
        self.shown = 0
        self.dropped = 0
        self._pending: OrderedDict[tuple[str, int], None] = OrderedDict()
        self._recent: OrderedDict[tuple[str, int], None] = OrderedDict()
        self._early: list[tuple[tuple[LogRecord, ...], bool]] = []
        self._catching_up: int | None = None
        self._recent_keys = recent_keys
        self._pending_keys = pending_keys

    # -- inputs ------------------------------------------------------------------------

    def history(self, page: HistoryPage) -> list[LogRecord]:
        """Apply the first history page (and any live frames that came before it)."""
        first = not self.has_history
        shown = self._committed(page.records)
        if page.resume is not None:
            self.advance(page.resume)
        if first:
            self.before = page.before
        self.has_history = True
        early, self._early = self._early, []
        for records, pending in early:
            shown.extend(self.live(records, pending=pending))
        return shown

    def older(self, page: HistoryPage) -> list[LogRecord]:
        """Apply a page fetched with ``before=``: return its records that go above the oldest shown."""
        keep = [r for r in page.records if r.cursor is not None and (self.oldest is None or r.cursor < self.oldest)]
        keep.sort(key=lambda r: r.cursor or Cursor(0, 0))
        out: list[LogRecord] = []
        for record in keep:
            if self._seen_key(record.key):
                self.dropped += 1
                continue
            self._remember(record.key)
            out.append(record)
        if out:
            self.oldest = out[0].cursor
        self.before = page.before
        self.shown += len(out)
        self.dropped += len(page.records) - len(keep)
        return out

    def live(self, records: Sequence[LogRecord], *, pending: bool = False) -> list[LogRecord]:
        """Apply a ``records`` frame; return the records to show, in order."""
        if not self.has_history:
            self._early.append((tuple(records), pending))
            return []
        if pending:
            return self._pending_records(records)
        return self._committed(records)

    def advance(self, cursor: Cursor) -> None:
        """Move the resume cursor forward to ``cursor`` (a history page's or ``subscribed`` cursor)."""
        if self.cursor is None or cursor > self.cursor:
            self.cursor = cursor
        self.has_history = True

    def begin_catch_up(self) -> None:
        """Start counting the records that a reconnect catches up."""
        self._catching_up = 0

    def end_catch_up(self, now: dt.datetime | None = None) -> Marker:
        """Stop counting and return the reconnect marker."""
        count = self._catching_up or 0
        self._catching_up = None
        return Marker(f"reconnected: {plural(count, 'record')} caught up", now)

    def unloaded(self, records: Iterable[LogRecord], oldest: Cursor) -> None:
        """The viewer unloaded ``records``, its oldest, and kept ``oldest`` as its oldest committed record.

        Their keys are forgotten, so that paging back (:meth:`older`, which now starts below
        ``oldest``) shows them again. The terminal viewer never unloads; the web page does,
        past its cap of records held.
        """
        for record in records:
            if record.key is not None and record.cursor is not None:
                self._recent.pop(record.key, None)
        self.oldest = oldest
        self.before = oldest

    # -- internals ---------------------------------------------------------------------

    def _committed(self, records: Iterable[LogRecord]) -> list[LogRecord]:
        out: list[LogRecord] = []
        counted = 0  # records passed on by _pending_records, which counts them itself
        for record in records:
            cursor = record.cursor
            if cursor is None:  # a frame without cursors is treated as pending
                passed = self._pending_records((record,))
                out.extend(passed)
                counted += len(passed)
                continue
            if self.cursor is not None and cursor <= self.cursor:
                self.dropped += 1
                continue
            self.cursor = cursor
            if self.oldest is None:
                self.oldest = cursor
            key = record.key
            if key is not None and key in self._pending:
                del self._pending[key]
                self._remember(key)
                self.dropped += 1
                continue
            self._remember(key)
            out.append(record)
        self.shown += len(out) - counted
        if self._catching_up is not None:
            self._catching_up += len(out) - counted
        return out

    def _pending_records(self, records: Iterable[LogRecord]) -> list[LogRecord]:
        out: list[LogRecord] = []
        for record in records:
            key = record.key
            if key is not None:
                if self._seen_key(key) or key in self._pending:
                    self.dropped += 1
                    continue
                self._pending[key] = None
                if len(self._pending) > self._pending_keys:
                    self._pending.popitem(last=False)
            out.append(record)
        self.shown += len(out)
        if self._catching_up is not None:
            self._catching_up += len(out)
        return out

    def _remember(self, key: tuple[str, int] | None) -> None:
        if key is None:
            return
        self._recent[key] = None
        if len(self._recent) > self._recent_keys:
            self._recent.popitem(last=False)

    def _seen_key(self, key: tuple[str, int] | None) -> bool:
        return key is not None and key in self._recent
