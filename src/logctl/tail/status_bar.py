"""``StatusBar``: connection state, counts, filter, search, follow and "▼ N new"."""

from __future__ import annotations

import dataclasses
import time

from rich.text import Text
from textual.widgets import Static

from logctl.core.sanitise import neutralise_controls
from logctl.core.view import ViewModel
from logctl.core.wording import plural
from logctl.tail.client import DbStatus, State

__all__ = ["StatusBar", "StatusInfo", "describe_state", "status_line"]

_STATE_STYLES = {
    "loading": "bold cyan",
    "live": "bold green",
    "reconnecting": "bold yellow",
    "unreachable": "bold red",
    "failed": "bold white on red",
}


def describe_state(state: State, now: float) -> str:
    """``● live``, ``◌ loading history``, ``↻ reconnecting in 3 s (…)``, ``✖ hub unreachable …``.

    The detail (often the hub's own words) has its control characters made visible.
    """
    return neutralise_controls(_describe_state(state, now))


def _describe_state(state: State, now: float) -> str:
    if state.kind == "loading":
        return f"◌ loading history{': ' + state.detail if state.detail else ''}"
    if state.kind == "live":
        return "● live"
    if state.kind == "failed":
        return f"✖ {state.detail}"
    wait = ""
    if state.retry_at is not None:
        seconds = max(0.0, state.retry_at - now)
        wait = f" in {seconds:.0f} s" if seconds >= 1 else " now"
    if state.kind == "reconnecting":
        return f"↻ reconnecting{wait}" + (f" ({state.detail})" if state.detail else "")
    return f"✖ hub unreachable, retrying{wait}" + (f" ({state.detail})" if state.detail else "")


@dataclasses.dataclass
class StatusInfo:
    """What the status bar shows besides the model."""

    state: State = dataclasses.field(default_factory=lambda: State("loading"))
    database: DbStatus | None = None
    waiting_for_thread: bool = False
    #: What is followed, for "… has no records yet": ``thread 't1'``, ``threads matching 'b-*'``.
    subject: str = ""
    #: A tail of several threads: the status counts the threads and the hidden ones.
    several: bool = False
    #: Threads followed (named, matched by the glob, or seen), for "in 3 of 4 threads".
    followed: int = 0


class StatusBar(Static):
    """One line at the bottom: where the stream stands and what the view shows."""

    DEFAULT_CSS = """
    StatusBar {
        height: 1;
        background: $panel;
        color: $text;
        padding: 0 1;
    }
    """

    def show(self, info: StatusInfo, model: ViewModel) -> None:
        self.update(status_line(info, model, time.monotonic()))


def status_line(info: StatusInfo, model: ViewModel, now: float) -> Text:
    """The status bar's one line for ``info`` and ``model`` at monotonic time ``now``."""
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(describe_state(info.state, now), style=_STATE_STYLES.get(info.state.kind, ""))
    if info.database is not None and not info.database.up:
        text.append(f"  ⚠ hub database down ({info.database.backlog} waiting; ~ = not yet stored)", style="bold yellow")
    if info.waiting_for_thread and not model.entries:
        verb = "have" if info.several else "has"
        text.append(neutralise_controls(f"  {info.subject} {verb} no records yet; waiting"), style="italic")
    text.append(f"  {plural(model.records_loaded, 'record', grouped=True)}")
    if info.several:
        loaded, followed = len(model.threads), max(info.followed, len(model.threads))
        text.append(f" in {loaded} of {plural(followed, 'thread')}" if loaded < followed else f" in {plural(loaded, 'thread')}")
    hidden = len(model.entries) - len(model.visible)
    described = model.filter.describe()
    if described:
        text.append(neutralise_controls(f"  filter {described} ({hidden:,} hidden)"), style="magenta")
    if model.search is not None:
        matches = plural(model.match_count, "match", "matches", grouped=True)
        text.append(neutralise_controls(f"  search /{model.search.pattern}/ {matches}"), style="yellow")
    if model.wrap:
        text.append("  wrap")
    if model.follow:
        text.append("  following", style="green")
    else:
        text.append("  paused", style="bold")
        if model.new_count:
            text.append(f"  ▼ {model.new_count:,} new (f/End)", style="bold reverse yellow")
    return text
