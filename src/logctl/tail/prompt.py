"""``Prompt``: a one-line input for a search, include or exclude pattern."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.binding import Binding, BindingType
from textual.widgets import Input

from logctl.core.patterns import compile_pattern
from logctl.core.sanitise import neutralise_controls
from logctl.errors import ConfigError
from logctl.tail.messages import PromptSubmitted

__all__ = ["Prompt"]

_PLACEHOLDERS = {
    "search": "search regex (n/N to step, empty to clear; lower case ignores case)",
    "include": "show only records matching this regex (empty to clear)",
    "exclude": "hide records matching this regex (empty to clear)",
}


class Prompt(Input):
    """Hidden until the app opens it for one kind of pattern."""

    DEFAULT_CSS = """
    Prompt {
        dock: bottom;
        display: none;
        height: 3;
        border: tall $accent;
    }
    Prompt.-open {
        display: block;
    }
    Prompt.-invalid {
        border: tall $error;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", show=False)]

    kind = "search"

    def open(self, kind: str, current: str) -> None:
        self.kind = kind
        self.placeholder = _PLACEHOLDERS[kind]
        self.border_title = kind
        self.value = current
        self.remove_class("-invalid")
        self.add_class("-open")
        # Focus now, not after a refresh (``focus()`` defers): keys typed right after the
        # one that opened the prompt, or pasted, must land in it.
        self.screen.set_focus(self)

    def close(self) -> None:
        self.remove_class("-open")

    @on(Input.Changed)
    def _check(self, event: Input.Changed) -> None:
        try:
            compile_pattern(event.value)
        except ConfigError:
            self.add_class("-invalid")
        else:
            self.remove_class("-invalid")

    @on(Input.Submitted)
    def _submit(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            compile_pattern(event.value)
        except ConfigError as exc:
            self.notify(neutralise_controls(str(exc)), severity="error", markup=False)
            return
        self.close()
        self.post_message(PromptSubmitted(self.kind, event.value))

    def action_cancel(self) -> None:
        self.close()
        self.post_message(PromptSubmitted(self.kind, self.value, cancelled=True))
