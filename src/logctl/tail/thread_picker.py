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
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

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
    ThreadPicker OptionList {
        max-height: 30;
    }
    ThreadPicker #thread-keys {
        color: $text-muted;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,T", "dismiss", "Close"),
        Binding("space", "flip", "Show/hide"),
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
            yield OptionList(*(Option(self._prompt(t)) for t in self.threads), id="thread-list", compact=True)
            yield Static(Text("hidden threads stay loaded and come back in place"), id="thread-keys")

    def _prompt(self, thread: str) -> Text:
        """``[x] name  12 records``, or ``[ ] name  12 records  hidden``; the name is data, never markup."""
        shown = thread not in self.hidden
        text = Text("[x] " if shown else "[ ] ", style="bold" if shown else "dim", no_wrap=True, overflow="ellipsis")
        text.append(neutralise_controls(thread), style=thread_style(thread) if shown else "dim strike")
        text.append(f"  {plural(self.counts[thread], 'record', grouped=True)}", style="dim")
        if not shown:
            text.append("  hidden", style="italic")
        return text

    @property
    def _list(self) -> OptionList:
        return self.query_one("#thread-list", OptionList)

    def on_mount(self) -> None:
        if self.threads:
            self._list.highlighted = 0

    def _apply(self, hidden: frozenset[str]) -> None:
        changed = self.hidden ^ hidden
        self.hidden = hidden
        listing = self._list
        for index, thread in enumerate(self.threads):
            if thread in changed:
                listing.replace_option_prompt_at_index(index, self._prompt(thread))
        self.post_message(ThreadsChosen(hidden))

    def _highlighted(self) -> str | None:
        index = self._list.highlighted
        return self.threads[index] if index is not None and index < len(self.threads) else None

    @on(OptionList.OptionSelected)
    def _selected(self) -> None:
        self.action_flip()

    def action_flip(self) -> None:
        thread = self._highlighted()
        if thread is not None:
            self._apply(self.hidden ^ {thread})

    def action_show_all(self) -> None:
        self._apply(frozenset())

    def action_only(self) -> None:
        thread = self._highlighted()
        if thread is not None:
            self._apply(frozenset(t for t in self.threads if t != thread))
