"""The history API's body (``GET /admin/runs/{thread_id}/logs``): encoded by the hub, read by tail. Pure.

See docs/protocol.md, "History". ``{"logs": [record, …], "count": n, "cursor": resume,
"before": cursor or null}``, records oldest first, each in the shape of
:meth:`~logctl.core.records.LogRecord.to_json`.

The hub answers one thread's history with :class:`EncodedHistoryPage`: PostgreSQL encodes the
records (``logctl.store.record_json``) and :func:`encoded_history_body` splices that text into
the body, so the hub parses no row (docs/performance.md, "History latency").
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import Any

from logctl.core.cursor import Cursor
from logctl.core.records import LogRecord, normalise_level, parse_timestamp
from logctl.errors import InvalidRecord, ProtocolError

__all__ = [
    "EncodedHistoryPage",
    "HistoryPage",
    "encoded_history_body",
    "history_body",
    "history_threads",
    "page_cursors",
    "parse_history",
    "parse_record",
]


@dataclasses.dataclass(frozen=True, slots=True)
class HistoryPage:
    """One page of the history API: records oldest first, where to resume, where to page back."""

    records: tuple[LogRecord, ...]
    resume: Cursor | None
    before: Cursor | None


@dataclasses.dataclass(frozen=True, slots=True)
class EncodedHistoryPage:
    """A :class:`HistoryPage` whose records are already JSON: ``logs`` is the text of their array, oldest first."""

    logs: str
    count: int
    resume: Cursor | None
    before: Cursor | None


def page_cursors(
    xmin: int, *, limit: int, after: Cursor | None, read: int, oldest: Cursor | None, newest: Cursor | None
) -> tuple[Cursor, Cursor | None]:
    """A history page's ``resume`` and ``before`` cursors, from what the store read below the horizon ``xmin``.

    ``read``: the rows read, at most ``limit`` after a cursor, else at most ``limit + 1`` (the
    extra row says that older rows exist); ``oldest``/``newest``: the cursors of the page's
    first and last record (None when it is empty). After a cursor, a full page resumes at its
    last record (more may follow), any other at the horizon, never behind ``after``; and
    ``before`` is the page's first record (``after`` when empty). Otherwise the page resumes
    at the horizon, and ``before`` is its first record when older rows exist.
    """
    horizon = Cursor.horizon(xmin)
    if after is not None:
        resume = newest if read == limit and limit > 0 and newest is not None else horizon
        return max(resume, after), oldest if oldest is not None else after
    return horizon, oldest if read > limit else None


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


def encoded_history_body(page: EncodedHistoryPage, *, threads: Sequence[str] | None = None) -> str:
    """:func:`history_body` of a page whose records are already JSON text, without decoding them."""
    resume = json.dumps(str(page.resume)) if page.resume is not None else "null"
    before = json.dumps(str(page.before)) if page.before is not None else "null"
    named = "" if threads is None else f',"threads":{json.dumps(list(threads), ensure_ascii=False)}'
    return f'{{"logs":{page.logs},"count":{page.count},"cursor":{resume},"before":{before}{named}}}'


def history_threads(body: Mapping[str, Any]) -> tuple[str, ...]:
    """The ``threads`` a selection's history body names (none for one thread's history)."""
    threads = body.get("threads")
    return tuple(t for t in threads if isinstance(t, str)) if isinstance(threads, list) else ()
