"""The history API's body (``GET /admin/runs/{thread_id}/logs``): encoded by the hub, read by tail. Pure.

See docs/protocol.md, "History". ``{"logs": [record, …], "count": n, "cursor": resume,
"before": cursor or null}``, records oldest first, each in the shape of
:meth:`~logctl.core.records.LogRecord.to_json`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from logctl.core.cursor import Cursor
from logctl.core.records import LogRecord, normalise_level, parse_timestamp
from logctl.errors import InvalidRecord, ProtocolError

__all__ = ["HistoryPage", "history_body", "history_threads", "parse_history", "parse_record"]


@dataclasses.dataclass(frozen=True, slots=True)
class HistoryPage:
    """One page of the history API: records oldest first, where to resume, where to page back."""

    records: tuple[LogRecord, ...]
    resume: Cursor | None
    before: Cursor | None


def parse_record(raw: object) -> LogRecord:
    """Build a :class:`LogRecord` from the hub's JSON record shape (history API or frame)."""
    if not isinstance(raw, dict):
        raise ProtocolError("bad_record", f"a record must be a JSON object, not {type(raw).__name__}")
    thread_id = raw.get("thread_id")
    message = raw.get("message")
    if not isinstance(message, str):
        raise ProtocolError("bad_record", f"record {raw.get('id')!r} has no message string")
    created = raw.get("created_at")
    try:
        created_at = None if created is None else parse_timestamp(created)
        level = normalise_level(raw.get("level"))
    except InvalidRecord as exc:
        raise ProtocolError(exc.code, str(exc)) from None
    cursor_text = raw.get("cursor")
    cursor = Cursor.parse(cursor_text) if isinstance(cursor_text, str) else None
    rid = raw.get("id")
    seq = raw.get("seq")
    producer = raw.get("producer_id")
    return LogRecord(
        thread_id=thread_id if isinstance(thread_id, str) else "",
        message=message,
        level=level,
        created_at=created_at,
        producer_id=producer if isinstance(producer, str) else None,
        seq=seq if isinstance(seq, int) and not isinstance(seq, bool) else None,
        id=rid if isinstance(rid, int) and not isinstance(rid, bool) else None,
        cursor=cursor,
    )


def parse_history(body: Mapping[str, Any]) -> HistoryPage:
    """Read a history API response body: ``{"logs": [...], "cursor": ..., "before": ...}``."""
    logs = body.get("logs")
    if not isinstance(logs, list):
        raise ProtocolError("bad_response", "history response has no 'logs' list")
    resume = body.get("cursor")
    before = body.get("before")
    return HistoryPage(
        records=tuple(parse_record(r) for r in logs),
        resume=Cursor.parse(resume) if isinstance(resume, str) else None,
        before=Cursor.parse(before) if isinstance(before, str) else None,
    )


def history_body(page: HistoryPage, *, threads: Sequence[str] | None = None) -> dict[str, Any]:
    """The JSON body the hub answers a history request with (the inverse of :func:`parse_history`).

    A selection's history (``GET /admin/logs``) also names the ``threads`` it was read from.
    """
    body: dict[str, Any] = {
        "logs": [r.to_json() for r in page.records],
        "count": len(page.records),
        "cursor": str(page.resume) if page.resume is not None else None,
        "before": str(page.before) if page.before is not None else None,
    }
    if threads is not None:
        body["threads"] = list(threads)
    return body


def history_threads(body: Mapping[str, Any]) -> tuple[str, ...]:
    """The ``threads`` a selection's history body names (none for one thread's history)."""
    threads = body.get("threads")
    return tuple(t for t in threads if isinstance(t, str)) if isinstance(threads, list) else ()
