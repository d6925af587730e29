"""``TitleLine``: the viewer's top line, its text made for the width it has at each render."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.widgets import Static

__all__ = ["TitleLine"]


class TitleLine(Static):
    """Calls ``make(width)`` on every render, so a resize re-fits the text (a tail of several
    threads cuts its list of threads at whole names to the width). ``refresh()`` after a change."""

    def __init__(self, make: Callable[[int], Text], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._make = make

    def render(self) -> Text:
        return self._make(self.content_region.width)
