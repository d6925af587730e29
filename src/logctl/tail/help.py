"""``HelpScreen``: every key of the viewer."""

from __future__ import annotations

from typing import ClassVar, Final

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

__all__ = ["KEYS", "HelpScreen"]

#: (keys, what they do) — docs/tail.md lists the same table; a test keeps them in step.
KEYS: Final = (
    ("↑ ↓  k j", "move the selection (moving up pauses follow)"),
    ("PgUp PgDn Space", "page up / down"),
    ("Home g", "go to the oldest loaded record (and load older history)"),
    ("End f G", "follow: jump to the newest record and stick to it"),
    ("1 2 3 4", "minimum level: DEBUG, INFO, WARN, ERROR"),
    ("e E", "next / previous ERROR record"),
    ("/", "search (regex, highlights matches); Esc in the prompt cancels"),
    ("n N", "next / previous search match"),
    ("i", "include filter: show only records matching a regex (empty clears)"),
    ("x", "exclude filter: hide records matching a regex (empty clears)"),
    ("Esc", "clear the search"),
    ("w", "wrap long lines on/off"),
    ("t", "time: local → UTC → relative to the thread's first record"),
    ("T", "threads: show or hide each thread (a tail of several threads)"),
    ("Enter", "open the selected record in full"),
    ("c C", "copy the selected record as one line / as JSON"),
    ("?", "this help"),
    ("q Ctrl+C", "quit"),
)


class HelpScreen(ModalScreen[None]):
    """A table of keys; any of Esc, q or ? closes it."""

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen > VerticalScroll {
        width: 86;
        max-width: 95%;
        height: auto;
        max-height: 90%;
        border: thick $accent;
        background: $surface;
        padding: 0 1;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for keys, what in KEYS:
            table.add_row(keys, what)
        with VerticalScroll() as scroll:
            scroll.border_title = "logctl tail: keys"
            yield Static(table, id="help-body")
