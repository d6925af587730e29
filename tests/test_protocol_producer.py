"""Publish frames written by the producer (logctl.core.protocol.producer.encode_publish): the JSON of the frame as dicts."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import examples
from logctl.core.delivery import Rejected
from logctl.core.protocol.producer import decode_reply, encode_publish
from logctl.core.spool import Batch
from logctl.core.records import LEVELS, LogRecord, format_timestamp, parse_timestamp

UTC = dt.timezone.utc


def as_dicts(producer: str, ref: int, batch: Batch[LogRecord]) -> dict[str, Any]:
    """The frame written plainly, as dicts: the oracle."""
    return {"type": "publish", "producer": producer, "ref": ref, "records": [
        {"seq": seq, "thread_id": r.thread_id, "message": r.message, "level": r.level,
         "created_at": format_timestamp(r.created_at)}
        for seq, r in zip(batch.seqs(), batch.items)
    ]}


def decoded(text: str) -> dict[str, Any]:
    """A frame with each created_at parsed, so that equal instants compare equal however they are spelled."""
    frame: dict[str, Any] = json.loads(text)
    for r in frame["records"]:
        if r["created_at"] is not None:
            r["created_at"] = parse_timestamp(r["created_at"])
    return frame


LOW, HIGH = dt.datetime(1900, 1, 1), dt.datetime(2200, 1, 1)  # far from datetime's own limits
TIMES = st.one_of(
    st.none(),
    st.datetimes(min_value=LOW, max_value=HIGH, timezones=st.just(UTC)),
    st.datetimes(min_value=dt.datetime(2026, 11, 30, 10, 29, 59), max_value=dt.datetime(2026, 11, 30, 10, 30, 1),
                 timezones=st.just(UTC)),  # many in one second, some across its edges
    st.datetimes(min_value=LOW, max_value=HIGH,
                 timezones=st.sampled_from([dt.timezone(dt.timedelta(hours=2)), dt.timezone(dt.timedelta(hours=-5))])),
    st.datetimes(min_value=LOW, max_value=HIGH),  # naive: taken as UTC
)
RECORDS = st.builds(
    LogRecord,
    thread_id=st.one_of(st.sampled_from(["t1", 't"2', "t\\3", "ünï", "🚀"]), st.text(min_size=1, max_size=10)),
    message=st.one_of(st.text(max_size=30), st.sampled_from(['"quoted"', "back\\slash", "tab\there", "new\nline", "\x1f\x7f"])),
    level=st.sampled_from(LEVELS),
    created_at=TIMES,
)


@settings(max_examples=examples(500), deadline=None)
@given(records=st.lists(RECORDS, min_size=1, max_size=20), shared=st.booleans(),
       first_seq=st.integers(0, 2**63 - 100), ref=st.integers(1, 10**9))
def test_encode_publish_is_the_json_of_the_frame_as_dicts(
    records: list[LogRecord], shared: bool, first_seq: int, ref: int
) -> None:
    """Escaping, seqs, levels and every instant (UTC, other offsets, naive, none, shared by a run) are as json.dumps writes them."""
    if shared:  # records of one read share one datetime object
        records = [LogRecord(r.thread_id, r.message, r.level, records[0].created_at) for r in records]
    batch = Batch(first_seq, tuple(records), tuple(1 for _ in records), len(records))
    text = encode_publish("8d0c-producer", ref, batch)
    assert decoded(text) == decoded(json.dumps(as_dicts("8d0c-producer", ref, batch), ensure_ascii=False))


def test_utc_times_are_written_with_microseconds_and_offset() -> None:
    """A UTC created_at is written as YYYY-MM-DDTHH:MM:SS.ffffff+00:00, whole seconds included."""
    at = dt.datetime(2026, 11, 30, 10, 30, 0, tzinfo=UTC)
    items = (LogRecord("t", "a", "INFO", at), LogRecord("t", "b", "INFO", at + dt.timedelta(microseconds=7)))
    frame = json.loads(encode_publish("p", 1, Batch(0, items, (1, 1), 2)))
    assert [r["created_at"] for r in frame["records"]] == [
        "2026-11-30T10:30:00.000000+00:00", "2026-11-30T10:30:00.000007+00:00"]


def test_a_too_many_errors_summary_decodes_to_a_rejection_of_count_records() -> None:
    """The hub's too_many_errors summary (no seq, an index and a count) is a rejection of `count` records, not one."""
    message = "200 more records of this frame were rejected (the first: message_too_large)"
    frame = {"type": "error", "code": "too_many_errors", "message": message, "ref": 3, "producer": "p", "index": 101, "count": 200}
    assert decode_reply(json.dumps(frame)) == Rejected(None, "too_many_errors", message, 200)
    one = {"type": "error", "code": "message_too_large", "message": "too big", "ref": 3, "seq": 7, "index": 7}
    assert decode_reply(json.dumps(one)) == Rejected(7, "message_too_large", "too big", 1)
