"""``DetailScreen``: one record in full, with its ids, level, times and pretty-printed JSON.

Every stored string is shown as ``Text`` (never parsed as markup) with its control
characters made visible.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import ClassVar

from rich.console import Group, RenderableType
from rich.json import JSON
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from logctl.core.json_line import format_json
from logctl.core.times import format_time
from logctl.core.merge import Entry, Marker
from logctl.core.sanitise import neutralise_controls

__all__ = ["DetailScreen", "record_json", "record_line"]


def record_json(entry: Entry) -> str:
    """The entry as one JSON object (the history API's record shape)."""
    if isinstance(entry, Marker):
        return json.dumps({"marker": entry.text}, ensure_ascii=False)
    return format_json(entry)


def record_line(entry: Entry) -> str:
    """The entry as one plain line: ``time level message`` in UTC."""
    if isinstance(entry, Marker):
        return entry.text
    when = format_time(entry.created_at, "utc", tz=dt.timezone.utc, iso=True)
    return f"{when} {entry.level} {entry.message}"


def _message(text: str) -> RenderableType:
    """The message as text, or pretty-printed when it is JSON; control characters shown, never obeyed."""
    stripped = text.strip()
    if stripped[:1] in ("{", "["):
        try:
            json.loads(stripped)
        except ValueError:
            pass
        else:
            pretty = JSON(stripped, indent=2)
            if neutralise_controls(pretty.text.plain) != pretty.text.plain:
                # raw C1 characters inside JSON strings: keep them escaped as ``\u009b``
                pretty = JSON(stripped, indent=2, ensure_ascii=True)
            return pretty
    return _text(text)


def _text(value: str) -> Text:
    """Stored data as a rich ``Text``: never parsed as markup, control characters made visible."""
    return Text(neutralise_controls(value))


class DetailScreen(ModalScreen[None]):
    """Shows one entry; ``c`` copies it as a line, ``C`` as JSON, Esc closes."""

    DEFAULT_CSS = """
    DetailScreen {
        align: center middle;
    }
    DetailScreen > VerticalScroll {
        width: 90%;
        height: 80%;
        border: thick $accent;
        background: $surface;
        padding: 0 1;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,enter", "dismiss", "Close"),
        Binding("c", "copy_line", "Copy line"),
        Binding("C", "copy_json", "Copy JSON"),
    ]

    def __init__(self, entry: Entry, *, tz: dt.tzinfo, origin: dt.datetime | None) -> None:
        super().__init__()
        self.entry = entry
        self.tz = tz
        self.origin = origin

    def compose(self) -> ComposeResult:
        with VerticalScroll() as scroll:
            scroll.border_title = "record (Esc closes, c copies a line, C copies JSON)"
            yield Static(self._body(), id="detail-body")

    def _body(self) -> RenderableType:
        entry = self.entry
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold")
        table.add_column()
        if isinstance(entry, Marker):
            table.add_row("marker", _text(entry.text))
            return table
        created = entry.created_at
        table.add_row("thread", _text(entry.thread_id))
        table.add_row("level", _text(entry.level))
        table.add_row("id", Text("pending (not yet stored)" if entry.id is None else str(entry.id)))
        table.add_row("cursor", Text(str(entry.cursor) if entry.cursor else "-"))
        if entry.producer_id is not None:
            table.add_row("producer", _text(f"{entry.producer_id}  seq {entry.seq}"))
        table.add_row("UTC", Text(format_time(created, "utc", tz=self.tz, iso=True)))
        table.add_row("local", Text(format_time(created, "local", tz=self.tz, iso=True)))
        table.add_row("relative", Text(format_time(created, "relative", tz=self.tz, origin=self.origin) + " since the first record"))
        return Group(table, Text(""), _message(entry.message))

    def action_copy_line(self) -> None:
        self.app.copy_to_clipboard(record_line(self.entry))
        self.notify("copied the record as one line", timeout=2)

    def action_copy_json(self) -> None:
        self.app.copy_to_clipboard(record_json(self.entry))
        self.notify("copied the record as JSON", timeout=2)
