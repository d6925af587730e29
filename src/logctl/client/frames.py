"""What a producer says to a hub, and what it makes of the answers. Pure: text in, events out.

See docs/protocol.md, "Publishing". Each record is encoded as a plain dict, and the whole
frame goes through ``json.dumps`` once.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Mapping
from typing import Any, Final, Union

from logctl.core.batching import Batch
from logctl.core.records import LogRecord, format_timestamp

__all__ = ["Acked", "Event", "Refused", "Rejected", "decode_reply", "encode_publish"]

#: Error codes that refuse a whole frame for now: the records are kept and sent again later.
RETRY_CODES: Final = frozenset({"backlog_full", "shutting_down", "database_unavailable"})


@dataclasses.dataclass(frozen=True, slots=True)
class Acked:
    """Every record of frame ``ref`` (and of the frames before it) is committed or rejected."""

    ref: int | None
    upto: int | None


@dataclasses.dataclass(frozen=True, slots=True)
class Rejected:
    """The hub refused ``count`` records for good (one record, or a whole frame)."""

    seq: int | None
    code: str
    message: str
    count: int = 1


@dataclasses.dataclass(frozen=True, slots=True)
class Refused:
    """The hub did not take a frame (e.g. ``backlog_full``): reconnect and send it again."""

    ref: int | None
    code: str
    message: str


Event = Union[Acked, Rejected, Refused]


def encode_publish(producer: str, ref: int, batch: Batch[LogRecord]) -> str:
    """One ``publish`` frame for ``batch``: records numbered from ``batch.first_seq``."""
    seq = batch.first_seq
    records: list[dict[str, Any]] = []
    append = records.append
    utc = dt.timezone.utc
    for r in batch.items:
        at = r.created_at
        # isoformat() of a UTC time is what format_timestamp returns, less its Z (both parse alike).
        stamp = at.isoformat() if at is not None and at.tzinfo is utc else format_timestamp(at)
        append({"seq": seq, "thread_id": r.thread_id, "message": r.message, "level": r.level, "created_at": stamp})
        seq += 1
    return json.dumps({"type": "publish", "producer": producer, "ref": ref, "records": records},
                      ensure_ascii=False, separators=(",", ":"))


def decode_reply(text: str | bytes) -> Event | None:
    """The event a hub frame means to a producer; None for frames a producer ignores."""
    try:
        frame = json.loads(text)
    except ValueError:
        return Refused(None, "bad_json", "the hub sent a frame that is not JSON")
    if not isinstance(frame, Mapping):
        return None
    kind = frame.get("type")
    if kind == "ack":
        return Acked(_int(frame.get("ref")), _int(frame.get("upto")))
    if kind == "error":
        code = str(frame.get("code") or "error")
        message = str(frame.get("message") or code)
        seq = _int(frame.get("seq"))
        if seq is not None or "index" in frame:
            return Rejected(seq, code, message)
        return Refused(_int(frame.get("ref")), code, message)
    return None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
