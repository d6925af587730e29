"""The viewer's model: which entries are visible, how many screen lines each takes, where we are.

:class:`ViewModel` keeps every loaded entry (filters hide, they never discard), the list
of visible ones, a line layout for a given width (wrap on or off, multi-line records kept
whole), the selection, follow/paused with its "N new" counter, and the positions of
search matches and errors for ``n``/``N`` and ``e``/``E``, and the threads seen (a tail
of several threads can hide some of them: :attr:`Filter.hidden_threads`). A widget asks it
which entry and which of its lines belongs at screen row ``y``, and renders only those rows.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import re
from collections.abc import Callable, Iterable, Sequence

from logctl.core.merge import Entry, Marker
from logctl.core.records import LogRecord, level_rank

__all__ = ["Filter", "ViewModel", "message_lines"]

@dataclasses.dataclass(frozen=True, slots=True)
class Filter:
    """Which entries to show. Markers are always shown."""

    min_level: str = "DEBUG"
    include: re.Pattern[str] | None = None
    exclude: re.Pattern[str] | None = None
    #: Threads whose records are hidden (a tail of several threads); their records stay loaded.
    hidden_threads: frozenset[str] = frozenset()

    def accepts(self, entry: Entry) -> bool:
        if isinstance(entry, Marker):
            return True
        if self.hidden_threads and entry.thread_id in self.hidden_threads:
            return False
        if self.min_level != "DEBUG" and level_rank(entry.level) < level_rank(self.min_level):
            return False
        if self.include is not None and self.include.search(entry.message) is None:
            return False
        return self.exclude is None or self.exclude.search(entry.message) is None

    def describe(self) -> str:
        """A short summary for a status bar; empty when nothing is filtered."""
        parts = []
        if self.min_level != "DEBUG":
            parts.append(f"level≥{self.min_level}")
        if self.include is not None:
            parts.append(f"+/{self.include.pattern}/")
        if self.exclude is not None:
            parts.append(f"-/{self.exclude.pattern}/")
        if self.hidden_threads:
            hidden = sorted(self.hidden_threads)
            parts.append(f"hiding {hidden[0]}" if len(hidden) == 1 else f"hiding {len(hidden)} threads")
        return " ".join(parts)

    def showing(self, thread_id: str, shown: bool) -> Filter:
        """This filter with ``thread_id``'s records shown or hidden."""
        hidden = self.hidden_threads - {thread_id} if shown else self.hidden_threads | {thread_id}
        return dataclasses.replace(self, hidden_threads=frozenset(hidden))

    def only(self, thread_id: str, threads: Iterable[str]) -> Filter:
        """This filter showing ``thread_id`` alone among ``threads``."""
        return dataclasses.replace(self, hidden_threads=frozenset(t for t in threads if t != thread_id))


def message_lines(entry: Entry) -> list[str]:
    """The lines of an entry's text (a trailing newline makes no empty last line)."""
    text = entry.text if isinstance(entry, Marker) else entry.message
    return text.rstrip("\n").split("\n") if text else [""]


class ViewModel:
    """Entries, filter, layout, selection and follow state of one log view."""

    def __init__(self, *, measure: Callable[[str], int] = len, count_threads: bool = False) -> None:
        self.entries: list[Entry] = []
        #: Indices into :attr:`entries` of the entries the filter accepts, in order.
        self.visible: list[int] = []
        self.filter = Filter()
        self.search: re.Pattern[str] | None = None
        self.follow = True
        #: Visible entries that arrived while follow was paused.
        self.new_count = 0
        #: The selected position in :attr:`visible` (None: nothing to select yet).
        self.selected: int | None = None
        self.wrap = False
        self.width = 80
        self.prefix = 0
        self.max_width = 0
        self._measure = measure
        #: Records loaded per thread, in the order the threads were first seen (only with
        #: ``count_threads``, for a tail of several threads: a single thread's view skips the cost).
        self.threads: dict[str, int] = {}
        self._count_threads = count_threads
        self._records = 0
        self._ends: list[int] = []
        self._matches: list[int] = []
        self._errors: list[int] = []

    # -- content -----------------------------------------------------------------------

    @property
    def total_lines(self) -> int:
        return self._ends[-1] if self._ends else 0

    def append(self, entries: Sequence[Entry]) -> int:
        """Add entries at the end; return how many of them are visible."""
        start = len(self.entries)
        self.entries.extend(entries)
        self._count(entries)
        added = [i for i in range(start, len(self.entries)) if self.filter.accepts(self.entries[i])]
        self._extend(added)
        if not self.follow:
            self.new_count += len(added)
        elif self.visible:
            self.selected = len(self.visible) - 1
        return len(added)

    def prepend(self, entries: Sequence[Entry]) -> int:
        """Add older entries at the top, keeping the selection on the same entry; return visible added."""
        if not entries:
            return 0
        before = len(self.visible)
        chosen = self._selected_entry()
        self.entries[:0] = entries
        self._count(entries)
        if chosen is not None:
            chosen += len(entries)
        self._rebuild(chosen)
        return len(self.visible) - before

    def set_filter(self, new: Filter) -> None:
        """Change the filter; the selection stays on the same entry or the nearest visible one."""
        chosen = self._selected_entry()
        self.filter = new
        self._rebuild(chosen)

    def set_search(self, pattern: re.Pattern[str] | None) -> None:
        self.search = pattern
        self._matches = [p for p, i in enumerate(self.visible) if self._is_match(self.entries[i])]

    def set_layout(self, *, width: int | None = None, prefix: int | None = None, wrap: bool | None = None) -> bool:
        """Change the text width, the prefix width (time and level) or wrap; True if lines moved."""
        width = max(1, width if width is not None else self.width)
        prefix = self.prefix if prefix is None else prefix
        wrap = self.wrap if wrap is None else wrap
        changed = wrap != self.wrap or (wrap and (width != self.width or prefix != self.prefix))
        self.width, self.prefix, self.wrap = width, prefix, wrap
        if changed:
            self._relayout()
        return changed

    def entry(self, position: int) -> Entry:
        """The entry at a visible position."""
        return self.entries[self.visible[position]]

    @property
    def selected_entry(self) -> Entry | None:
        return None if self.selected is None else self.entry(self.selected)

    @property
    def match_count(self) -> int:
        return len(self._matches)

    @property
    def records_loaded(self) -> int:
        """Records (not markers) held, visible or not."""
        return self._records

    # -- layout ------------------------------------------------------------------------

    def line_count(self, entry: Entry) -> int:
        """Screen lines that ``entry`` takes at the current layout."""
        lines = message_lines(entry)
        if not self.wrap:
            return len(lines)
        room = max(1, self.width - self.prefix)
        return sum(max(1, -(-self._measure(line) // room)) for line in lines)

    def locate(self, y: int) -> tuple[int, int] | None:
        """The visible position and line within it shown at line ``y``, or None past the end."""
        if y < 0 or y >= self.total_lines:
            return None
        position = bisect.bisect_right(self._ends, y)
        start = self._ends[position - 1] if position else 0
        return position, y - start

    def span(self, position: int) -> tuple[int, int]:
        """First line and line count of the visible entry at ``position``."""
        start = self._ends[position - 1] if position else 0
        return start, self._ends[position] - start

    # -- navigation --------------------------------------------------------------------

    def pause(self) -> None:
        """Stop following (the user scrolled up or moved the selection)."""
        if self.follow:
            self.follow = False
            self.new_count = 0
            if self.selected is None and self.visible:
                self.selected = len(self.visible) - 1

    def resume(self) -> None:
        """Follow again: select the last entry, forget the "N new" counter."""
        self.follow = True
        self.new_count = 0
        self.selected = len(self.visible) - 1 if self.visible else None

    def select(self, position: int) -> None:
        """Select a visible position (clamped); moving off the last entry pauses follow."""
        if not self.visible:
            self.selected = None
            return
        self.selected = min(max(position, 0), len(self.visible) - 1)
        if self.selected < len(self.visible) - 1:
            self.pause()

    def next_match(self, forward: bool = True) -> int | None:
        """The next (or previous) search match after the selection, wrapping around."""
        return self._step(self._matches, forward)

    def next_error(self, forward: bool = True) -> int | None:
        """The next (or previous) ERROR record after the selection, wrapping around."""
        return self._step(self._errors, forward)

    # -- internals ---------------------------------------------------------------------

    def _count(self, entries: Sequence[Entry]) -> None:
        if not self._count_threads:
            self._records += sum(1 for e in entries if not isinstance(e, Marker))
            return
        threads = self.threads
        for entry in entries:
            if not isinstance(entry, Marker):
                threads[entry.thread_id] = threads.get(entry.thread_id, 0) + 1
                self._records += 1

    def _step(self, positions: list[int], forward: bool) -> int | None:
        if not positions:
            return None
        here = self.selected if self.selected is not None else len(self.visible) - 1
        if forward:
            i = bisect.bisect_right(positions, here)
            return positions[i % len(positions)]
        i = bisect.bisect_left(positions, here) - 1
        return positions[i % len(positions)]

    def _is_match(self, entry: Entry) -> bool:
        return self.search is not None and isinstance(entry, LogRecord) and self.search.search(entry.message) is not None

    def _selected_entry(self) -> int | None:
        if self.selected is None or not self.visible:
            return None
        return self.visible[min(self.selected, len(self.visible) - 1)]

    def _extend(self, indices: list[int]) -> None:
        base = len(self.visible)
        total = self.total_lines
        measure = self._measure
        room = max(1, self.width - self.prefix)
        widest = self.max_width
        for offset, index in enumerate(indices):
            entry = self.entries[index]
            lines = message_lines(entry)
            widths = [measure(line) for line in lines]
            total += sum(max(1, -(-w // room)) for w in widths) if self.wrap else len(lines)
            self._ends.append(total)
            self.visible.append(index)
            widest = max(widest, *widths)
            if isinstance(entry, LogRecord):
                if entry.level == "ERROR":
                    self._errors.append(base + offset)
                if self.search is not None and self.search.search(entry.message) is not None:
                    self._matches.append(base + offset)
        self.max_width = widest

    def _rebuild(self, chosen: int | None) -> None:
        self.visible, self._ends, self._matches, self._errors = [], [], [], []
        self._extend([i for i, e in enumerate(self.entries) if self.filter.accepts(e)])
        if not self.visible:
            self.selected = None
        elif self.follow or chosen is None:
            self.selected = len(self.visible) - 1
        else:
            self.selected = min(bisect.bisect_left(self.visible, chosen), len(self.visible) - 1)

    def _relayout(self) -> None:
        self._ends = list(itertools.accumulate(self.line_count(self.entries[i]) for i in self.visible))
