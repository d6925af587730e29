"""The hub's side of the WebSocket protocol (docs/protocol.md): parse what clients send, encode replies.

Bytes in, decisions out: nothing here touches a socket.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Sequence
from typing import Any, Final

from logctl.core.cursor import Cursor
from logctl.core.records import (
    DEFAULT_MAX_MESSAGE_BYTES,
    LogRecord,
    Row,
    check_utf8,
    row_from_wire,
    validate_thread_id,
)
from logctl.core.selection import Selection
from logctl.core.wording import plural
from logctl.errors import InvalidRecord, ProtocolError

__all__ = [
    "Ping",
    "Publish",
    "RecordError",
    "SelectionSubscribe",
    "SelectionUnsubscribe",
    "Subscribe",
    "Unsubscribe",
    "DEFAULT_MAX_ERRORS_PER_FRAME",
    "DEFAULT_MAX_RECORDS_PER_FRAME",
    "encode",
    "error_frame",
    "publish_error_frames",
    "parse_frame",
    "records_frame",
    "status_frame",
    "validate_publish",
]

FRAME_FIELDS: Final = {
    "publish": frozenset({"type", "producer", "ref", "records"}),
    "subscribe": frozenset({"type", "thread_id", "cursor", "sub", "threads", "match"}),
    "unsubscribe": frozenset({"type", "thread_id", "sub"}),  # threads/match: unknown_field
    "ping": frozenset({"type", "ref"}),
}
MAX_PRODUCER_LENGTH: Final = 128
#: A selection's id (``sub``), chosen by the client: 1 to this many characters.
MAX_SUB_LENGTH: Final = 64
#: Thread ids one selection frame may name before any hub limit is looked at (the hub's own
#: limit, ``serve --max-selection-threads``, is lower): a frame is refused before it is read through.
MAX_FRAME_THREADS: Final = 10_000
#: Records one publish frame may hold (``serve --max-records-per-frame``); a producer
#: sends at most 2,000 (docs/producers.md).
DEFAULT_MAX_RECORDS_PER_FRAME: Final = 10_000
#: Error frames sent for the rejected records of one publish frame; the rest are
#: summed up in one ``too_many_errors`` frame (``serve --max-errors-per-frame``).
DEFAULT_MAX_ERRORS_PER_FRAME: Final = 100
_SEQ_LIMIT: Final = 2**63


@dataclasses.dataclass(frozen=True, slots=True)
class Publish:
    producer: str | None
    ref: Any
    records: list[Any]


@dataclasses.dataclass(frozen=True, slots=True)
class Subscribe:
    thread_id: str
    cursor: Cursor | None
    now: bool = False  # cursor "now": start at the current horizon


@dataclasses.dataclass(frozen=True, slots=True)
class Unsubscribe:
    thread_id: str


@dataclasses.dataclass(frozen=True, slots=True)
class SelectionSubscribe:
    """Follow a selection (several threads and/or a glob) as one stream, under the client's id ``sub``."""

    sub: str
    selection: Selection
    cursor: Cursor | None
    now: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class SelectionUnsubscribe:
    sub: str


@dataclasses.dataclass(frozen=True, slots=True)
class Ping:
    ref: Any = None


Frame = Publish | Subscribe | Unsubscribe | SelectionSubscribe | SelectionUnsubscribe | Ping


@dataclasses.dataclass(frozen=True, slots=True)
class RecordError:
    """One rejected record of a publish frame."""

    index: int
    seq: int | None
    error: InvalidRecord


def encode(obj: dict[str, Any]) -> str:
    """Compact JSON, UTF-8 kept as is."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def parse_frame(data: str | bytes) -> Frame:
    """Decode one client frame or raise :class:`ProtocolError` saying precisely why not."""
    if isinstance(data, bytes | bytearray | memoryview):
        try:
            data = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProtocolError("invalid_utf8", f"binary frame is not valid UTF-8 (byte {exc.start})") from None
    try:
        obj = json.loads(data)
    except json.JSONDecodeError as exc:
        raise ProtocolError("bad_json", f"frame is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise ProtocolError("bad_json", "frame is nested too deeply to decode") from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise ProtocolError("bad_json", f"frame cannot be decoded: {str(exc)[:120]}") from None
    if not isinstance(obj, dict):
        raise ProtocolError("bad_frame", f"a frame must be a JSON object, not {type(obj).__name__}")
    kind = obj.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("bad_frame", "frame has no \"type\" string")
    allowed = FRAME_FIELDS.get(kind)
    if allowed is None:
        raise ProtocolError(
            "unknown_type", f"unknown frame type {kind[:32]!r}: expected one of {', '.join(FRAME_FIELDS)}"
        )
    unknown = obj.keys() - allowed
    if unknown:
        names = ", ".join(sorted(str(k)[:32] for k in unknown)[:5])
        raise ProtocolError("unknown_field", f"unknown field(s) in {kind} frame: {names}")
    if kind == "publish":
        producer = obj.get("producer")
        if producer is not None and (not isinstance(producer, str) or not producer or len(producer) > MAX_PRODUCER_LENGTH or "\x00" in producer):
            raise ProtocolError("bad_frame", f"producer must be a non-empty string of at most {MAX_PRODUCER_LENGTH} characters")
        if producer is not None:
            _check_utf8(producer, "producer")
        records = obj.get("records")
        if not isinstance(records, list):
            raise ProtocolError("bad_frame", "publish frame needs a \"records\" list")
        return Publish(producer, _check_ref(obj.get("ref")), records)
    if kind == "ping":
        return Ping(_check_ref(obj.get("ref")))
    if "sub" in obj or "threads" in obj or "match" in obj:
        return _selection_frame(kind, obj)
    try:
        thread_id = validate_thread_id(obj.get("thread_id"))
    except InvalidRecord as exc:
        raise ProtocolError(exc.code, f"{kind}: {exc}") from None
    if kind == "unsubscribe":
        return Unsubscribe(thread_id)
    cursor, now = _subscribe_cursor(obj.get("cursor"))
    return Subscribe(thread_id, cursor, now)


def _subscribe_cursor(cursor: object) -> tuple[Cursor | None, bool]:
    """A subscribe frame's cursor: (cursor, now); None and not now is the start of the stream."""
    if cursor is None:
        return None, False
    if cursor == "now":
        return None, True
    if not isinstance(cursor, str):
        raise ProtocolError("bad_cursor", "cursor must be a string such as \"1234-56\", \"now\" or null")
    return Cursor.parse(cursor), False


def _selection_frame(kind: str, obj: dict[str, Any]) -> SelectionSubscribe | SelectionUnsubscribe:
    """A selection's ``subscribe`` or ``unsubscribe`` frame (it has a ``sub``, and no ``thread_id``)."""
    if "thread_id" in obj:
        raise ProtocolError("bad_frame", f"a {kind} frame names one thread_id or a selection (sub, threads, match), not both")
    sub = obj.get("sub")
    if not isinstance(sub, str) or not sub or len(sub) > MAX_SUB_LENGTH:
        raise ProtocolError("bad_sub", f"a selection's {kind} frame needs \"sub\": its id, a string of 1 to {MAX_SUB_LENGTH} characters")
    _check_utf8(sub, "sub")
    if kind == "unsubscribe":
        return SelectionUnsubscribe(sub)
    threads = obj.get("threads", [])
    if not isinstance(threads, list):
        raise ProtocolError("bad_selection", "threads must be a list of thread ids")
    if len(threads) > MAX_FRAME_THREADS:
        raise ProtocolError("too_many_threads", f"the selection names {len(threads)} threads; a frame may name at most {MAX_FRAME_THREADS}")
    try:
        selection = Selection(tuple(threads), obj.get("match"))
    except ProtocolError as exc:
        raise ProtocolError(exc.code, f"selection {sub[:64]!r}: {exc}") from None
    cursor, now = _subscribe_cursor(obj.get("cursor"))
    return SelectionSubscribe(sub, selection, cursor, now)


def _check_utf8(value: str, field: str) -> None:
    try:
        check_utf8(value, field)
    except InvalidRecord as exc:
        raise ProtocolError(exc.code, str(exc)) from None


def _check_ref(ref: Any) -> Any:
    """``ref`` is echoed in replies, so it must encode as UTF-8 (no lone surrogate anywhere in it)."""
    if ref is None or isinstance(ref, int | float):
        return ref
    if isinstance(ref, str):
        _check_utf8(ref, "ref")
        return ref
    try:
        encode({"ref": ref}).encode("utf-8")
    except UnicodeEncodeError:
        raise ProtocolError("invalid_utf8", "ref is not valid UTF-8: it holds a lone surrogate") from None
    return ref


def validate_publish(
    frame: Publish,
    *,
    now: dt.datetime,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    max_records: int = DEFAULT_MAX_RECORDS_PER_FRAME,
) -> tuple[list[Row], list[RecordError], int | None]:
    """Split a publish frame into valid records (as store rows) and per-record errors.

    Returns ``(rows, errors, upto)`` where ``upto`` is the highest valid ``seq`` in the
    frame (of a stored or a rejected record) for the cumulative ack, or None without a
    producer. A frame of more than ``max_records`` records is refused as a whole, before
    any record is looked at: :class:`ProtocolError` ``too_many_records``.
    """
    if len(frame.records) > max_records:
        raise ProtocolError(
            "too_many_records",
            f"publish frame holds {plural(len(frame.records), 'record')}; the limit is {max_records}: no record was taken",
        )
    good: list[Row] = []
    bad: list[RecordError] = []
    producer = frame.producer
    keep = good.append
    for index, raw in enumerate(frame.records):
        try:
            keep(row_from_wire(raw, producer_id=producer, now=now, max_message_bytes=max_message_bytes))
        except InvalidRecord as exc:
            seq = raw.get("seq") if isinstance(raw, dict) else None
            valid_seq = isinstance(seq, int) and not isinstance(seq, bool) and 0 <= seq < _SEQ_LIMIT
            bad.append(RecordError(index, seq if valid_seq else None, exc))
    upto: int | None = None
    if producer is not None:
        seqs = [row[5] for row in good] + [e.seq for e in bad]
        upto = max((seq for seq in seqs if seq is not None), default=None)
    return good, bad, upto


def error_frame(code: str, message: str, **context: Any) -> str:
    """An ``error`` frame; always valid UTF-8, even when ``message`` quotes a lone surrogate."""
    frame: dict[str, Any] = {"type": "error", "code": code, "message": message}
    frame.update({k: v for k, v in context.items() if v is not None})
    text = encode(frame)
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = json.dumps(frame, separators=(",", ":"))  # ASCII escapes: valid JSON text
    return text


def publish_error_frames(frame: Publish, errors: Sequence[RecordError], limit: int) -> list[str]:
    """The error frames for a publish frame's rejected records: the first ``limit``, then one summary.

    The summary (code ``too_many_errors``) carries ``count``, the number of rejected records
    it stands for, and ``index``, the position of the first of them. One frame of a million
    bad records costs a million error frames otherwise.
    """
    frames = [
        error_frame(bad.error.code, str(bad.error), ref=frame.ref, producer=frame.producer, seq=bad.seq, index=bad.index)
        for bad in errors[:limit]
    ]
    rest = len(errors) - limit
    if rest > 0:
        first = errors[limit]
        frames.append(error_frame(
            "too_many_errors",
            f"{plural(rest, 'more record')} of this frame {'was' if rest == 1 else 'were'} rejected (the first: {first.error.code})",
            ref=frame.ref, producer=frame.producer, index=first.index, count=rest,
        ))
    return frames


def records_frame(thread_id: str, records: Sequence[LogRecord], *, pending: bool = False, sub: str | None = None) -> str:
    """One ``records`` frame; encoded once and sent to every subscriber of the thread.

    A selection's frame carries its ``sub`` instead of a thread id (its records name their threads).
    """
    frame: dict[str, Any] = {"type": "records", "sub": sub} if sub is not None else {"type": "records", "thread_id": thread_id}
    if pending:
        frame["pending"] = True
    frame["records"] = [r.to_json() for r in records]
    return encode(frame)


def status_frame(database_up: bool, backlog: int) -> str:
    """Tell every connection whether the hub can write to the database right now."""
    return encode({"type": "status", "database": "up" if database_up else "down", "backlog": backlog})
