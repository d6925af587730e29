"""What a subscriber (``logctl tail``) says to a hub, and what it makes of the hub's frames. Pure.

See docs/protocol.md, "Subscribing". The caller decodes the JSON (so that it can tell a
frame that is not JSON from one it does not understand); :func:`subscriber_event` turns
a decoded frame into one typed event.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Final, Union

from logctl.core.cursor import Cursor
from logctl.core.protocol.history import parse_record
from logctl.core.records import LogRecord
from logctl.core.selection import Selection
from logctl.errors import ProtocolError

__all__ = [
    "STREAM_RETRY_CODES", "HubStatus", "LiveRecords", "StreamError", "SubscriberEvent", "Subscribed", "ThreadStarted",
    "selection_frame", "subscribe_frame", "subscriber_event",
]

#: Error codes that refuse a subscription only for now (reconnect later).
STREAM_RETRY_CODES: Final = frozenset({"database_unavailable", "shutting_down"})


@dataclasses.dataclass(frozen=True, slots=True)
class Subscribed:
    """The hub took the subscription: live records follow.

    For a selection: its id ``sub`` and the ``threads`` it resolved to when it was taken.
    """

    sub: str | None = None
    threads: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class LiveRecords:
    """Records of the thread (or of selection ``sub``): committed (with cursors), or ``pending`` (not yet stored)."""

    records: tuple[LogRecord, ...]
    pending: bool = False
    sub: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class ThreadStarted:
    """A thread joined selection ``sub`` after it was taken (it matched the glob); its records follow."""

    sub: str
    thread_id: str


@dataclasses.dataclass(frozen=True, slots=True)
class HubStatus:
    """The hub's word on its database, and how many records it holds unwritten."""

    database_up: bool
    backlog: int


@dataclasses.dataclass(frozen=True, slots=True)
class StreamError:
    """An ``error`` frame: ``retryable`` ones (see :data:`STREAM_RETRY_CODES`) pass with a reconnect.

    ``thread_id`` and ``sub``: the thread and the selection it concerns, when the hub named them.
    """

    code: str
    message: str
    thread_id: str | None = None
    sub: str | None = None

    @property
    def retryable(self) -> bool:
        return self.code in STREAM_RETRY_CODES

    @property
    def thread_left_out(self) -> bool:
        """A ``thread_unreadable`` notice: one thread's live records stop, the subscription itself goes on."""
        return self.code == "thread_unreadable" and self.thread_id is not None


SubscriberEvent = Union[Subscribed, LiveRecords, ThreadStarted, HubStatus, StreamError]


def subscribe_frame(thread_id: str, cursor: Cursor | None) -> str:
    """The ``subscribe`` frame: follow ``thread_id`` after ``cursor`` (None: from the start)."""
    return json.dumps(
        {"type": "subscribe", "thread_id": thread_id, "cursor": str(cursor) if cursor is not None else None},
        ensure_ascii=False, separators=(",", ":"),
    )


def selection_frame(sub: str, selection: Selection, cursor: Cursor | None) -> str:
    """The ``subscribe`` frame of a selection: follow its threads as one stream after ``cursor`` (None: from the start)."""
    frame: dict[str, object] = {"type": "subscribe", "sub": sub, "threads": list(selection.threads)}
    if selection.match is not None:
        frame["match"] = selection.match
    frame["cursor"] = str(cursor) if cursor is not None else None
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


def _sub(frame: dict[str, object]) -> str | None:
    sub = frame.get("sub")
    return sub if isinstance(sub, str) else None


def subscriber_event(frame: object) -> SubscriberEvent | None:
    """The event a decoded hub frame means to a subscriber; None for frames it ignores.

    Raises :class:`~logctl.errors.ProtocolError` for a ``records`` frame that is malformed, and
    ValueError or TypeError for a ``status`` frame whose backlog is not a number (the
    viewer names such an error and reconnects).
    """
    if not isinstance(frame, dict):
        return None
    kind = frame.get("type")
    if kind == "subscribed":
        threads = frame.get("threads")
        names = tuple(t for t in threads if isinstance(t, str)) if isinstance(threads, list) else ()
        return Subscribed(_sub(frame), names)
    if kind == "records":
        raw = frame.get("records")
        if not isinstance(raw, list):
            raise ProtocolError("bad_frame", "records frame without a records list")
        return LiveRecords(tuple(parse_record(r) for r in raw), pending=bool(frame.get("pending")), sub=_sub(frame))
    if kind == "thread_started":
        sub, thread_id = _sub(frame), frame.get("thread_id")
        if sub is None or not isinstance(thread_id, str):
            raise ProtocolError("bad_frame", "thread_started frame without a sub and a thread_id string")
        return ThreadStarted(sub, thread_id)
    if kind == "status":  # a backlog that is not a number raises (ValueError, TypeError), as tail always has
        return HubStatus(frame.get("database") != "down", int(frame.get("backlog") or 0))
    if kind == "error":
        thread_id = frame.get("thread_id")
        return StreamError(str(frame.get("code")), str(frame.get("message")),
                           thread_id if isinstance(thread_id, str) else None, _sub(frame))
    return None
