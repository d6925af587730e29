"""``ThreadPicker``: show or hide the threads of a tail of several threads (the ``T`` key).

A list of the threads seen, each in its colour with its record count and a toggle; a
change applies at once (the app hears :class:`~logctl.tail.messages.ThreadsChosen`), and
hidden threads' records stay loaded: showing them again brings them back in place.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import SelectionList, Static
from textual.widgets.selection_list import Selection

from logctl.core.sanitise import neutralise_controls
from logctl.core.wording import plural
from logctl.tail.log_view import thread_style
from logctl.tail.messages import ThreadsChosen

__all__ = ["ThreadPicker"]


class ThreadPicker(ModalScreen[None]):
    """Toggles for the threads: Space or Enter toggles, ``a`` shows all, ``o`` only the highlighted one."""

    DEFAULT_CSS = """
    ThreadPicker {
        align: center middle;
    }
    ThreadPicker > Vertical {
        width: 72;
        max-width: 95%;
        height: auto;
        max-height: 90%;
        border: thick $accent;
        background: $surface;
        padding: 0 1;
    }
    ThreadPicker SelectionList {
        height: auto;
        max-height: 30;
        border: none;
        padding: 0;
    }
    ThreadPicker #thread-keys {
        color: $text-muted;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,T", "dismiss", "Close"),
        Binding("a", "show_all", "Show all"),
        Binding("o", "only", "Only this one"),
    ]

    def __init__(self, counts: Mapping[str, int], hidden: frozenset[str]) -> None:
        super().__init__()
        self.threads = sorted(counts)
        self.counts = dict(counts)
        self.hidden = hidden

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "threads (Space toggles, a all, o only, Esc closes)"
            yield SelectionList[str](*(self._option(t) for t in self.threads), id="thread-list")
            yield Static(Text("hidden threads' records stay loaded; showing them puts them back in place"), id="thread-keys")

    def _option(self, thread: str) -> Selection[str]:
        # data, not markup: a thread id like ``[b]x`` is shown as it is
        prompt = Text(neutralise_controls(thread), style=thread_style(thread), no_wrap=True, overflow="ellipsis")
        prompt.append(f"  {plural(self.counts[thread], 'record', grouped=True)}", style="dim")
        return Selection(prompt, thread, thread not in self.hidden)

    @property
    def _list(self) -> SelectionList[str]:
        return self.query_one("#thread-list", SelectionList)

    @on(SelectionList.SelectedChanged)
    def _changed(self) -> None:
        shown = set(self._list.selected)
        self.hidden = frozenset(t for t in self.threads if t not in shown)
        self.post_message(ThreadsChosen(self.hidden))

    def action_show_all(self) -> None:
        self._list.select_all()

    def action_only(self) -> None:
        listing = self._list
        highlighted = listing.highlighted
        if highlighted is None:
            return
        keep = listing.get_option_at_index(highlighted).value
        with listing.prevent(SelectionList.SelectedChanged):
            listing.deselect_all()
            listing.select(keep)
        self._changed()
