"""The protocol package (core/protocol/): the subscriber's side and the history body, both directions."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from helpers import examples
from hypothesis import given, settings
from hypothesis import strategies as st

import logctl.core.protocol as protocol
from logctl.core.cursor import Cursor
from logctl.core.protocol import (
    HistoryPage,
    HubStatus,
    LiveRecords,
    StreamError,
    Subscribe,
    Subscribed,
    history_body,
    parse_frame,
    parse_history,
    records_frame,
    status_frame,
    subscribe_frame,
    subscriber_event,
)
from logctl.core.records import LEVELS, LogRecord
from logctl.errors import ProtocolError

UTC = dt.timezone.utc


def committed(rid: int, message: str = "m", *, producer: str | None = "p", seq: int | None = 0) -> LogRecord:
    return LogRecord("t", message, "INFO", dt.datetime(2026, 1, 1, tzinfo=UTC) + dt.timedelta(seconds=rid),
                     producer_id=producer, seq=seq if producer is not None else None, id=rid,
                     cursor=Cursor(1000 + rid, rid))


def test_the_subscribe_frame_the_subscriber_writes_is_the_one_the_hub_parses() -> None:
    """subscribe_frame() round-trips through the hub's parse_frame, with a cursor and with none ("now" is null)."""
    hub_side = parse_frame(subscribe_frame("build 1", Cursor(5, 7)))
    assert isinstance(hub_side, Subscribe)
    assert (hub_side.thread_id, hub_side.cursor, hub_side.now) == ("build 1", Cursor(5, 7), False)
    assert json.loads(subscribe_frame("t", None)) == {"type": "subscribe", "thread_id": "t", "cursor": None}


def test_the_hubs_frames_become_subscriber_events() -> None:
    """records (committed and pending), status, subscribed and error frames the hub encodes decode to typed events."""
    rows = [committed(1), committed(2, "é\x1b")]
    event = subscriber_event(json.loads(records_frame("t", rows)))
    assert isinstance(event, LiveRecords) and not event.pending
    assert [(r.id, r.message, r.cursor) for r in event.records] == [(r.id, r.message, r.cursor) for r in rows]
    pending = subscriber_event(json.loads(records_frame("t", rows[:1], pending=True)))
    assert isinstance(pending, LiveRecords) and pending.pending
    assert subscriber_event(json.loads(status_frame(False, 12))) == HubStatus(False, 12)
    assert subscriber_event(json.loads(status_frame(True, 0))) == HubStatus(True, 0)
    assert subscriber_event({"type": "subscribed", "thread_id": "t", "cursor": None}) == Subscribed()
    error = subscriber_event({"type": "error", "code": "shutting_down", "message": "bye"})
    assert error == StreamError("shutting_down", "bye") and isinstance(error, StreamError) and error.retryable
    assert not StreamError("bad_cursor", "no").retryable
    left_out = subscriber_event({"type": "error", "code": "thread_unreadable", "message": "m", "sub": "s", "thread_id": "b"})
    assert left_out == StreamError("thread_unreadable", "m", "b", "s") and isinstance(left_out, StreamError)
    assert left_out.thread_left_out and not left_out.retryable and not StreamError("forbidden", "no", sub="s").thread_left_out


def test_frames_a_subscriber_does_not_know_are_ignored_and_bad_records_frames_refused() -> None:
    """Unknown types and non-objects give None; a records frame without a list is a ProtocolError, a wordy backlog a ValueError."""
    assert subscriber_event({"type": "pong"}) is None
    assert subscriber_event([1, 2]) is None
    with pytest.raises(ValueError):
        subscriber_event({"type": "status", "database": "up", "backlog": "lots"})
    with pytest.raises(ProtocolError):
        subscriber_event({"type": "records", "records": {}})


@settings(max_examples=examples(200), deadline=None)
@given(
    st.lists(st.tuples(st.text(max_size=20), st.sampled_from(sorted(LEVELS)), st.booleans()), max_size=10),
    st.booleans(),
)
def test_the_history_body_the_hub_writes_is_the_page_tail_reads(rows: list[tuple[str, str, bool]], more: bool) -> None:
    """parse_history(history_body(page)) gives the page back: records, resume cursor and before cursor."""
    records = tuple(
        LogRecord("t", message, level, dt.datetime(2026, 1, 1, tzinfo=UTC) + dt.timedelta(microseconds=i),
                  producer_id="p" if keyed else None, seq=i if keyed else None, id=i + 1, cursor=Cursor(10, i + 1))
        for i, (message, level, keyed) in enumerate(rows)
    )
    page = HistoryPage(records, Cursor(11, 0), records[0].cursor if more and records else None)
    body = json.loads(json.dumps(history_body(page), ensure_ascii=False))
    assert body["count"] == len(records)
    assert parse_history(body) == page


def test_the_package_re_exports_every_side() -> None:
    """logctl.core.protocol names the hub's, producer's, subscriber's and history's functions in its __all__."""
    for name in ("parse_frame", "encode_publish", "decode_reply", "subscriber_event", "history_body", "parse_history"):
        assert name in protocol.__all__ and callable(getattr(protocol, name))
