"""``LogView``: a virtualised log view that renders only the rows on screen.

It keeps no widgets per record: a :class:`~logctl.core.view.ViewModel` maps screen row
``y`` to (entry, line within entry) and :meth:`LogView.render_line` renders that one row,
with an LRU cache of rendered entries. Opening 100,000 records costs a list of line
offsets, not 100,000 renders (the Line API, as in toolong's ``LogLines``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import ClassVar, Final

from rich.cells import cell_len
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.events import MouseDown, Resize
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.scrollbar import ScrollBarRender
from textual.strip import Strip

from logctl.core.times import TimeMode, format_time
from logctl.core.merge import Entry, Marker
from logctl.core.records import LogRecord
from logctl.core.sanitise import neutralise_controls
from logctl.core.thread_tags import TagWidth, fit_tag, thread_colour
from logctl.core.view import Filter, ViewModel, message_lines
from logctl.tail.messages import NeedOlder, OpenDetail, ViewChanged

__all__ = ["LEVEL_STYLES", "CellScrollBarRender", "LogView", "clean", "thread_style"]

LEVEL_STYLES: Final = {
    "DEBUG": Style(color="bright_black"),
    "INFO": Style(color="green"),
    "WARN": Style(color="yellow", bold=True),
    "ERROR": Style(color="bright_white", bgcolor="red", bold=True),
}
MESSAGE_STYLES: Final = {
    "DEBUG": Style(color="bright_black"),
    "WARN": Style(color="yellow"),
    "ERROR": Style(color="bright_red"),
}
TIME_STYLE: Final = Style(dim=True)
PLAIN: Final = Style()
MARKER_STYLE: Final = Style(color="cyan", italic=True)
PENDING_STYLE: Final = Style(italic=True)
_THREAD_STYLES: dict[int, Style] = {}


def thread_style(thread_id: str) -> Style:
    """The thread column's style: the thread's stable colour (``logctl.core.thread_tags``)."""
    number = thread_colour(thread_id)
    style = _THREAD_STYLES.get(number)
    if style is None:
        style = _THREAD_STYLES[number] = Style(color=Color.from_ansi(number))
    return style


def clean(line: str) -> str:
    """A line safe to draw: tabs expanded, control characters shown as ``\\x1b`` (never obeyed)."""
    line = neutralise_controls(line)
    return line.expandtabs(4) if "\t" in line else line


def measure(line: str) -> int:
    """Cells a message line takes on screen (plain ASCII, the common case, without rich)."""
    if line.isascii() and line.isprintable():
        return len(line)
    return cell_len(clean(line))


class CellScrollBarRender(ScrollBarRender):
    """A scrollbar whose thumb starts and ends on whole cells, drawn as solid cells only.

    Textual draws a thumb's ends inside a cell with eighth blocks (``▁``…``▇``), repeated
    across the gutter. Beside a log, with the thumb a cell tall, those read as stray
    sparkline glyphs (``▄▄``), and a terminal capture keeps only them.
    """

    VERTICAL_BARS: ClassVar[list[str]] = [" "] * 8
    HORIZONTAL_BARS: ClassVar[list[str]] = [" "] * 8


class LogView(ScrollView, can_focus=True):
    """The records of a thread (or of several, with a thread column), newest at the bottom, following by default."""

    DEFAULT_CSS = """
    LogView {
        background: $surface;
        scrollbar-gutter: stable;
        overflow-x: auto;
        overflow-y: scroll;
    }
    LogView > .logview--selected {
        background: $accent 30%;
    }
    LogView > .logview--match {
        background: $warning;
        color: $background;
    }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {"logview--selected", "logview--match"}

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "move(-1)", "Up", show=False),
        Binding("down,j", "move(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown,space", "page(1)", "Page down", show=False),
        Binding("home,g", "top", "Top", show=False),
        Binding("end,f,G", "follow", "Follow", key_display="f/End"),
        Binding("e", "error(True)", "Next error", show=False),
        Binding("E", "error(False)", "Prev error", show=False),
        Binding("n", "match(True)", "Next match", show=False),
        Binding("N", "match(False)", "Prev match", show=False),
        Binding("enter", "detail", "Detail"),
    ]

    def __init__(
        self, *, tz: dt.tzinfo, time_mode: TimeMode = "local", threads: TagWidth | None = None, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.model = ViewModel(measure=measure, count_threads=threads is not None)
        #: The thread column's width (None: one thread, no column).
        self.threads = threads
        self.tz = tz
        self.time_mode: TimeMode = time_mode
        self.origin: dt.datetime | None = None
        self.more_above = False
        self.loading_older = False
        self._cache: LRUCache[int, list[Strip]] = LRUCache(2048)
        self._scrolling = False
        self._base_style: Style | None = None
        self._update_prefix()

    def on_mount(self) -> None:
        # Per instance, as Textual's ScrollBar.renderer documents; the class stays untouched.
        self.vertical_scrollbar.renderer = CellScrollBarRender  # type: ignore[misc]
        self.horizontal_scrollbar.renderer = CellScrollBarRender  # type: ignore[misc]

    # -- content ---------------------------------------------------------------------------

    def add(self, entries: list[Entry]) -> None:
        """Append entries; follow the end when following."""
        if not entries:
            return
        self._see_threads(entries)
        self.model.append(entries)
        self._resize_virtual()
        if self.model.follow:
            self._scroll_end()
        self.refresh()
        self.post_message(ViewChanged())

    def add_older(self, entries: list[Entry], more: bool) -> None:
        """Prepend an older page, keeping the rows on screen where they are."""
        self.loading_older = False
        self.more_above = more
        if entries:
            before = self.model.total_lines
            self._see_threads(entries)
            self.model.prepend(entries)
            self._cache.clear()
            self._resize_virtual()
            self._jump_to(self.scroll_y + self.model.total_lines - before)
        self.refresh()
        self.post_message(ViewChanged())

    def set_filter(self, new: Filter) -> None:
        self.model.set_filter(new)
        self._relaid()

    def _see_threads(self, entries: list[Entry]) -> None:
        if self.threads is not None:
            self.see_threads([e.thread_id for e in entries if not isinstance(e, Marker)])

    def see_threads(self, names: Iterable[str]) -> bool:
        """Widen the thread column for a longer thread id (the rendered rows are redrawn); True if it widened."""
        tags = self.threads
        if tags is None:
            return False
        wider = False
        for name in names:
            if tags.see(name):
                wider = True
        if wider:
            self._update_prefix()
            self._cache.clear()
        return wider

    def set_search(self, pattern: re.Pattern[str] | None) -> None:
        self.model.set_search(pattern)
        self._cache.clear()
        if pattern is not None and self.model.match_count:
            found = self.model.next_match(forward=False) if self.model.follow else self.model.next_match()
            if found is not None:
                self._select(found)
        self.refresh()
        self.post_message(ViewChanged())

    def toggle_wrap(self) -> bool:
        self.model.set_layout(wrap=not self.model.wrap, width=self._text_width())
        self._relaid()
        return self.model.wrap

    def set_time_mode(self, mode: TimeMode) -> None:
        self.time_mode = mode
        self._update_prefix()
        self._relaid()

    def set_origin(self, origin: dt.datetime | None) -> None:
        self.origin = origin
        if self.time_mode == "relative":
            self._cache.clear()
            self.refresh()

    # -- actions ---------------------------------------------------------------------------

    def action_move(self, delta: int) -> None:
        model = self.model
        if not model.visible:
            return
        here = model.selected if model.selected is not None else len(model.visible) - 1
        self._select(here + delta)

    def action_page(self, delta: int) -> None:
        if not self.model.visible:
            return
        located = self.model.locate(int(self.scroll_y) + (self.size.height - 1 if delta > 0 else 0))
        target = located[0] if located else len(self.model.visible) - 1
        here = self.model.selected if self.model.selected is not None else len(self.model.visible) - 1
        rows = max(1, self.size.height - 1)
        self._jump_to(self.scroll_y + delta * rows)
        self._select(max(target, here + 1) if delta > 0 else min(target, here - 1), scroll=False)
        if delta > 0 and self.scroll_y >= self.max_scroll_y:
            self._select(len(self.model.visible) - 1)

    def action_top(self) -> None:
        self.model.pause()
        self._select(0)
        self._want_older()

    def action_follow(self) -> None:
        self.model.resume()
        self._scroll_end()
        self.refresh()
        self.post_message(ViewChanged())

    def action_error(self, forward: bool) -> None:
        found = self.model.next_error(forward)
        if found is None:
            self.notify("no ERROR records in view", timeout=2)
        else:
            self._select(found)

    def action_match(self, forward: bool) -> None:
        if self.model.search is None:
            self.notify("no search: press / to search", timeout=2)
            return
        found = self.model.next_match(forward)
        if found is None:
            self.notify(neutralise_controls(f"no match for /{self.model.search.pattern}/"), timeout=2, markup=False)
        else:
            self._select(found)

    def action_detail(self) -> None:
        entry = self.current_entry
        if entry is not None:
            self.post_message(OpenDetail(entry))

    @property
    def current_entry(self) -> Entry | None:
        """The selected entry, or the last one when following."""
        model = self.model
        if not model.visible:
            return None
        return model.entry(model.selected if model.selected is not None else len(model.visible) - 1)

    # -- scrolling and follow --------------------------------------------------------------

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if self._scrolling:
            return
        if new_value < old_value and self.model.follow and new_value < self.max_scroll_y:
            self.model.pause()
            located = self.model.locate(int(new_value) + self.size.height - 1)
            if located is not None:
                self.model.selected = located[0]
            self.refresh()
            self.post_message(ViewChanged())
        elif not self.model.follow and new_value >= self.max_scroll_y and new_value > old_value:
            self.action_follow()
        if new_value <= 0:
            self._want_older()

    def _want_older(self) -> None:
        if self.more_above and not self.loading_older:
            self.loading_older = True
            self.post_message(NeedOlder())

    def _jump_to(self, y: float) -> None:
        self._scrolling = True
        try:
            self.scroll_to(y=y, animate=False, immediate=True)
        finally:
            self._scrolling = False

    def _scroll_end(self) -> None:
        self._scrolling = True
        try:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        finally:
            self._scrolling = False

    def _select(self, position: int, *, scroll: bool = True) -> None:
        model = self.model
        model.select(position)
        if model.selected is None:
            return
        if scroll:
            start, count = model.span(model.selected)
            height = self.scrollable_content_region.height or self.size.height
            if start < self.scroll_y:
                self._jump_to(start)
            elif start + count > self.scroll_y + height:
                self._jump_to(start + count - height)
        if model.selected == len(model.visible) - 1 and self.scroll_y >= self.max_scroll_y and not model.follow:
            model.resume()
        if model.selected == 0:
            self._want_older()
        self.refresh()
        self.post_message(ViewChanged())

    # -- layout ----------------------------------------------------------------------------

    def on_resize(self, event: Resize) -> None:
        if self.model.set_layout(width=self._text_width()):
            self._relaid()
        elif self.model.follow:
            self._scroll_end()

    def on_mouse_down(self, event: MouseDown) -> None:
        located = self.model.locate(int(self.scroll_y) + event.y)
        if located is not None:
            self._select(located[0], scroll=False)

    def _text_width(self) -> int:
        return max(10, self.scrollable_content_region.width or self.size.width or 80)

    def _update_prefix(self) -> None:
        width = len(format_time(dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc), self.time_mode, tz=self.tz,
                                origin=dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)))
        self._time_width = max(width, 13 if self.time_mode == "relative" else width)
        # time, space, [thread, space,] level (5), pending mark, space
        self._tag_width = self.threads.width if self.threads is not None else 0
        thread = self._tag_width + 1 if self.threads is not None else 0
        self.model.set_layout(prefix=self._time_width + 8 + thread)

    def _relaid(self) -> None:
        self._cache.clear()
        self._resize_virtual()
        if self.model.follow:
            self._scroll_end()
        elif self.model.selected is not None:
            self._select(self.model.selected)
        self.refresh()
        self.post_message(ViewChanged())

    def _resize_virtual(self) -> None:
        model = self.model
        width = self._text_width() if model.wrap else model.prefix + model.max_width
        self.virtual_size = Size(width, model.total_lines)

    # -- rendering -------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._base_style = None
        self._cache.clear()

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width or self.size.width
        base = self._base_style
        if base is None:
            base = self._base_style = self.rich_style
        located = self.model.locate(scroll_y + y)
        if located is None:
            return Strip.blank(width, base)
        position, line = located
        index = self.model.visible[position]
        strips = self._cache.get(index)
        if strips is None:
            strips = self._render_entry(self.model.entries[index])
            self._cache[index] = strips
        strip = strips[min(line, len(strips) - 1)]
        if position == self.model.selected and not self.model.follow:
            strip = strip.apply_style(self.get_component_rich_style("logview--selected"))
        return strip.crop_extend(scroll_x, scroll_x + width, base)

    def _render_entry(self, entry: Entry) -> list[Strip]:
        """Every screen line of one entry at the current layout (the model counts the same lines).

        Segments are built directly (no ``Text``, no console render, one ``Strip`` per row):
        this runs for every entry that scrolls into view, so it is the viewer's hot path.
        """
        model = self.model
        prefix = model.prefix
        head = self._head(entry)
        blank = [Segment(" " * prefix)]
        room = max(1, model.width - prefix)
        style = self._message_style(entry)
        pattern = model.search if isinstance(entry, LogRecord) else None
        match_style = style + self.get_component_rich_style("logview--match") if pattern is not None else style
        out: list[Strip] = []
        for number, raw in enumerate(message_lines(entry)):
            line = clean(raw)
            segments: list[Segment] = []
            done = 0
            if pattern is not None:
                for match in pattern.finditer(line):
                    start, end = match.span()
                    if end > start:
                        if start > done:
                            segments.append(Segment(line[done:start], style))
                        segments.append(Segment(line[start:end], match_style))
                        done = end
            if done < len(line) or not segments:
                segments.append(Segment(line[done:], style))
            length = measure(line)
            if not model.wrap or length <= room:
                out.append(Strip([*(blank if number else head), *segments], prefix + length))
                continue
            strip = Strip(segments, length)
            for i, start in enumerate(range(0, length, room)):
                chunk = strip.crop(start, start + room)
                out.append(Strip([*(head if number == 0 and i == 0 else blank), *chunk], prefix + chunk.cell_length))
        return out

    def _head(self, entry: Entry) -> list[Segment]:
        """The time, thread (several threads only) and level columns, ``prefix`` cells wide."""
        when = format_time(entry.created_at, self.time_mode, tz=self.tz, origin=self.origin)
        segments = [Segment(f"{when:<{self._time_width}} ", TIME_STYLE)]
        if self.threads is not None:
            if isinstance(entry, Marker):
                segments.append(Segment(" " * (self._tag_width + 1)))
            else:
                segments.append(Segment(fit_tag(entry.thread_id, self._tag_width), thread_style(entry.thread_id)))
                segments.append(Segment(" "))
        if isinstance(entry, Marker):
            segments.append(Segment(" ──── ", MARKER_STYLE))
        else:
            segments.append(Segment(f"{entry.level:^5}", LEVEL_STYLES.get(entry.level, PLAIN)))
            segments.append(Segment("~" if entry.cursor is None else " ", PENDING_STYLE))
        segments.append(Segment(" "))
        return segments

    def _message_style(self, entry: Entry) -> Style:
        if isinstance(entry, Marker):
            return MARKER_STYLE
        style = MESSAGE_STYLES.get(entry.level, PLAIN)
        return style + PENDING_STYLE if entry.cursor is None else style
