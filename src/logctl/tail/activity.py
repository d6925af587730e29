"""``Activity``: one small sparkline per level of the record rate over the last minute."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.color import Color
from textual.containers import Horizontal
from textual.widgets import Label, Sparkline

from logctl.core.records import LEVELS

__all__ = ["Activity"]

_COLORS = {"DEBUG": "grey", "INFO": "green", "WARN": "yellow", "ERROR": "red"}


class Activity(Horizontal):
    """``ERROR ▁▁▃█ WARN ▁▂▁ INFO ▃▅▇ DEBUG ▁▁▁``: records per second, per level."""

    DEFAULT_CSS = """
    Activity {
        height: 1;
        width: auto;
    }
    Activity > Label {
        width: auto;
        padding: 0 0 0 1;
        color: $text-muted;
    }
    Activity > Sparkline {
        width: 10;
        height: 1;
        margin: 0 0 0 1;
    }
    """

    def __init__(self) -> None:
        super().__init__()
        # held directly: a timer may call show() while the app is tearing the DOM down
        # as wide from the start as after the first count: the title beside it keeps its width
        self._labels = {level: Label(f"{level[0]}{0:>4}") for level in LEVELS}
        self._sparks = {
            level: Sparkline([0.0] * 10, min_color=Color.parse(_COLORS[level]).with_alpha(0.25), max_color=_COLORS[level])
            for level in LEVELS
        }

    def compose(self) -> ComposeResult:
        for level in reversed(LEVELS):
            yield self._labels[level]
            yield self._sparks[level]

    def show(self, series: dict[str, list[int]]) -> None:
        """Per level, counts per second, oldest first."""
        for level in LEVELS:
            data = series.get(level) or [0]
            self._sparks[level].data = [float(v) for v in data[-10:]]
            self._labels[level].update(f"{level[0]}{sum(data[-10:]):>4}")
