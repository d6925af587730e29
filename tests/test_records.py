"""Wire records (logctl.core.records.row_from_wire): the inline fast path decides exactly as the plain validators."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import examples
from logctl.core.protocol import Publish, validate_publish
from logctl.core.records import (
    WIRE_FIELDS,
    LogRecord,
    check_message,
    normalise_level,
    parse_timestamp,
    record_from_wire,
    row_from_wire,
    validate_thread_id,
)
from logctl.errors import InvalidRecord

NOW = dt.datetime(2026, 11, 30, 10, 30, tzinfo=dt.timezone.utc)
SMALL = 64  # a small message limit, so that limit cases are cheap to generate


def reference(raw: object, producer_id: str | None, max_bytes: int) -> tuple[object, ...]:
    """The record checks written plainly, one validator per field: the oracle for the fast path."""
    if not isinstance(raw, dict):
        raise InvalidRecord("bad_record", f"a record must be a JSON object, not {type(raw).__name__}")
    if not raw.keys() <= WIRE_FIELDS:
        names = ", ".join(sorted(str(k)[:32] for k in raw.keys() - WIRE_FIELDS)[:5])
        raise InvalidRecord("unknown_field", f"unknown field(s) in record: {names}")
    seq = raw.get("seq")
    if producer_id is not None:
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0 or seq >= 2**63:
            raise InvalidRecord("bad_seq", f"seq must be a non-negative 64-bit integer, not {seq!r:.32}")
    thread_id = validate_thread_id(raw.get("thread_id"))
    message = check_message(raw.get("message"), max_bytes)
    level = normalise_level(raw.get("level"))
    created = raw.get("created_at")
    created_at = NOW if created is None else parse_timestamp(created)
    return (thread_id, message, level, created_at, producer_id, seq if producer_id is not None else None)


def outcome(fn: Any, *args: Any) -> tuple[str, object]:
    try:
        return ("ok", fn(*args))
    except InvalidRecord as exc:
        return (exc.code, str(exc))


def fast(raw: object, producer_id: str | None, max_bytes: int) -> tuple[object, ...]:
    return row_from_wire(raw, producer_id=producer_id, now=NOW, max_message_bytes=max_bytes)


ANY = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-5, max_value=2**64), st.floats(allow_nan=False),
    st.text(max_size=8), st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
TEXT = st.one_of(
    st.text(max_size=20),
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=20),  # lone surrogates too
)
#: Per field: its edge cases, any text, and any JSON-ish value.
FIELDS = {
    "seq": st.one_of(st.sampled_from([0, 1, -1, 2**63 - 1, 2**63, True, False, 1.0, "1"]), ANY),
    "thread_id": st.one_of(st.sampled_from(["", "t1", "x" * 256, "x" * 257, "a\x00b", "é" * 256]), TEXT, ANY),
    "message": st.one_of(
        st.sampled_from(["", "m", "a\x00b", "\ud800", "x" * (SMALL // 4), "x" * SMALL, "x" * (SMALL + 1),
                         "é" * (SMALL // 2), "é" * (SMALL // 2 + 1), "🚀" * (SMALL // 4 + 1)]),
        TEXT, st.text(min_size=SMALL // 4 - 2, max_size=SMALL + 2),
        st.text(alphabet="é€🚀a\x00", min_size=SMALL // 4 - 2, max_size=SMALL // 2 + 2), ANY,
    ),
    "level": st.one_of(st.sampled_from(["INFO", "info", "Warning", " error ", "LOUD", "FATAL", "DEBUG", ""]), TEXT, ANY),
    "created_at": st.one_of(
        st.sampled_from(["2026-11-30T10:30:00Z", "2026-11-30T10:30:00.123456+00:00", "2026-11-30 12:00:00+02:00",
                         "2026-11-30", "2026-13-01T00:00:00", "yesterday"]),
        TEXT, ANY,
    ),
    "colour": ANY,
}


@st.composite
def wire_records(draw: st.DrawFn) -> object:
    if draw(st.integers(0, 9)) == 0:
        return draw(ANY)  # not an object at all
    present = draw(st.sets(st.sampled_from(sorted(FIELDS))))
    return {name: draw(FIELDS[name]) for name in sorted(present)}


@pytest.mark.timeout(300)  # 5,000 examples in CI: 52 s measured on a busy 2-core machine
@settings(max_examples=examples(5000), deadline=None)
@given(raw=wire_records(), producer=st.sampled_from([None, "p"]))
def test_fast_path_agrees_with_the_plain_validators(raw: object, producer: str | None) -> None:
    """Any record, valid or not, gets the same row or the same error code and message from both."""
    assert outcome(fast, raw, producer, SMALL) == outcome(reference, raw, producer, SMALL)


@pytest.mark.parametrize("level", [[], {}, ["INFO"]])
def test_an_unhashable_level_is_an_unknown_level(level: object) -> None:
    """A list or object as the level is refused as unknown_level (it used to raise TypeError)."""
    with pytest.raises(InvalidRecord) as info:
        row_from_wire({"thread_id": "t", "message": "m", "level": level}, producer_id=None, now=NOW)
    assert info.value.code == "unknown_level"


def test_record_from_wire_is_the_row_as_a_record() -> None:
    """record_from_wire builds the LogRecord whose first fields are the row."""
    raw = {"seq": 3, "thread_id": "t", "message": "a\x00b", "level": "warning", "created_at": "2026-11-30T10:30:00Z"}
    row = row_from_wire(raw, producer_id="p", now=NOW)
    assert row == ("t", "a\\x00b", "WARN", NOW, "p", 3)
    assert record_from_wire(raw, producer_id="p", now=NOW) == LogRecord(*row)


def test_validate_publish_acks_up_to_the_highest_seq_valid_or_not() -> None:
    """upto is the highest seq of the frame over good and rejected records; None without a producer."""
    records = [{"seq": 5, "thread_id": "t", "message": "m"}, {"seq": 9, "message": "no thread"},
               {"seq": 7, "thread_id": "t", "message": "m"}]
    rows, errors, upto = validate_publish(Publish("p", 1, records), now=NOW)
    assert [r[5] for r in rows] == [5, 7] and [(e.index, e.seq) for e in errors] == [(1, 9)] and upto == 9
    assert validate_publish(Publish(None, 1, records), now=NOW)[2] is None


def test_validate_publish_takes_no_invalid_seq_as_the_ack_upto() -> None:
    """A rejected record's seq counts for ``upto`` only when it is a valid seq: -1 and 2^63 do not."""
    frame = Publish("p", 1, [{"seq": -1, "thread_id": "t", "message": "m"}, {"seq": 2**63, "thread_id": "t", "message": "m"}])
    assert validate_publish(frame, now=NOW)[2] is None
