"""Every custom Textual message of the viewer, in one place.

Workers talk to the UI only through these; widgets use them to tell the app what changed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from textual.message import Message

from logctl.core.merge import Entry
from logctl.tail.client import DbStatus, State

__all__ = [
    "ConnectionChanged",
    "DatabaseChanged",
    "EntriesArrived",
    "HistoryLoaded",
    "NeedOlder",
    "OlderLoaded",
    "OpenDetail",
    "OriginKnown",
    "PromptSubmitted",
    "ViewChanged",
]


class HistoryLoaded(Message):
    """The first history page is in (``more``: older records exist)."""

    def __init__(self, entries: Sequence[Entry], more: bool) -> None:
        super().__init__()
        self.entries = entries
        self.more = more


class EntriesArrived(Message):
    """Live records (or a marker) to add at the end, already deduplicated."""

    def __init__(self, entries: Sequence[Entry]) -> None:
        super().__init__()
        self.entries = entries


class OlderLoaded(Message):
    """An older page to add at the top (``more``: still older records exist)."""

    def __init__(self, entries: Sequence[Entry], more: bool) -> None:
        super().__init__()
        self.entries = entries
        self.more = more


class ConnectionChanged(Message):
    """The client's connection state changed."""

    def __init__(self, state: State) -> None:
        super().__init__()
        self.state = state


class DatabaseChanged(Message):
    """The hub reported its database up or down."""

    def __init__(self, status: DbStatus) -> None:
        super().__init__()
        self.status = status


class OriginKnown(Message):
    """The time of the thread's first record, for relative times."""

    def __init__(self, when: dt.datetime | None) -> None:
        super().__init__()
        self.when = when


class NeedOlder(Message):
    """The view was scrolled to its top: load the page before the oldest record."""


class ViewChanged(Message):
    """Follow, selection, filter or counts changed: the status bar should redraw."""


class OpenDetail(Message):
    """Show one entry in full."""

    def __init__(self, entry: Entry) -> None:
        super().__init__()
        self.entry = entry


class PromptSubmitted(Message):
    """The user entered (or, ``cancelled``, dismissed) a search, include or exclude pattern."""

    def __init__(self, kind: str, text: str, *, cancelled: bool = False) -> None:
        super().__init__()
        self.kind = kind
        self.text = text
        self.cancelled = cancelled
