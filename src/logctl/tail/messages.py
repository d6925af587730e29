"""Every custom Textual message of the viewer, in one place.

Workers talk to the UI only through these; widgets use them to tell the app what changed.
They are dataclasses (Textual's ``Message`` runs its set-up in ``__post_init__``), as in
toolong; a message that only asks for a redraw replaces one still queued (``can_replace``).
"""

from __future__ import annotations

import dataclasses
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
    "ThreadsChosen",
    "ThreadsNamed",
    "ViewChanged",
]


@dataclasses.dataclass
class HistoryLoaded(Message):
    """The first history page is in (``more``: older records exist; ``backfill``: records of ``-n``
    still to load behind it; ``empty``: the thread has no records yet)."""

    entries: Sequence[Entry]
    more: bool
    backfill: int = 0
    empty: bool = False


@dataclasses.dataclass
class EntriesArrived(Message):
    """Live records (or a marker) to add at the end, already deduplicated."""

    entries: Sequence[Entry]


@dataclasses.dataclass
class OlderLoaded(Message):
    """An older page to add at the top (``more``: still older records exist; ``failure``: why none came)."""

    entries: Sequence[Entry]
    more: bool
    failure: str | None = None


@dataclasses.dataclass
class ConnectionChanged(Message):
    """The client's connection state changed."""

    state: State


@dataclasses.dataclass
class DatabaseChanged(Message):
    """The hub reported its database up or down."""

    status: DbStatus


@dataclasses.dataclass
class OriginKnown(Message):
    """The time of the thread's first record, for relative times."""

    when: dt.datetime | None


@dataclasses.dataclass
class NeedOlder(Message):
    """The view was scrolled to its top: load the page before the oldest record."""


@dataclasses.dataclass
class ViewChanged(Message):
    """Follow, selection, filter or counts changed: the status bar should redraw."""

    def can_replace(self, message: Message) -> bool:
        """One redraw serves many changes: a newer ``ViewChanged`` replaces a queued one."""
        return isinstance(message, ViewChanged)


@dataclasses.dataclass
class OpenDetail(Message):
    """Show one entry in full."""

    entry: Entry


@dataclasses.dataclass
class PromptSubmitted(Message):
    """The user entered (or, ``cancelled``, dismissed) a search, include or exclude pattern."""

    kind: str
    text: str
    cancelled: bool = dataclasses.field(default=False, kw_only=True)


@dataclasses.dataclass
class ThreadsChosen(Message):
    """The thread picker changed which threads are hidden (their records stay loaded)."""

    hidden: frozenset[str]


@dataclasses.dataclass
class ThreadsNamed(Message):
    """The threads the hub named for the selection so far (named ones, and those its glob matched)."""

    threads: tuple[str, ...]
