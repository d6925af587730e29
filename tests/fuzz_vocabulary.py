"""The fuzz harness's vocabulary (tests/test_fuzz_hub.py): Hypothesis strategies for hostile input.

Frames follow the grammar of docs/protocol.md and are then bent: a field or two gets a wrong
type, a lone surrogate (sent as a JSON escape), a control character, a non-ASCII digit, an
extreme number, timestamp or cursor, a huge or deeply nested value; now and then a message is
raw bytes or invalid UTF-8. HTTP requests get odd methods, paths and queries.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
import uuid
from typing import Any

from hypothesis import strategies as st

__all__ = ["METHODS", "Namespace", "Wire", "attacks", "paths", "published_threads", "queries", "rename"]

SURROGATES = ["\ud800", "\udfff", "\udc00"]  # lone: JSON can escape them, UTF-8 cannot hold them
CONTROLS = ["\x00", "\x1b", "\x07", "\x7f", "\x85", "\x9b", "\u2028", "\ufeff", "\uffff"]
DIGITS = ["²", "٣", "１"]  # str.isdigit() says yes, int() may say no
ODD_CHARS = SURROGATES + CONTROLS + DIGITS + ["é", "🚀"]
BIG_MESSAGE = "x" * (1024 * 1024 + 1)  # one byte over the default message limit
ODD_STRINGS = ["", " ", "now", "null", "[/x]", "\x1b]52;c;aGk=\x07", "x\ud800", "x" * 256, "x" * 257, "é" * 200]

def either(*options: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """One of ``options``, each as likely (``one_of`` would weigh every branch of a nested ``one_of``)."""
    return st.integers(0, len(options) - 1).flatmap(lambda i: options[i])


texts = st.text(st.one_of(st.characters(), st.sampled_from(ODD_CHARS)), max_size=12)
strings = either(
    st.builds("{}{}{}".format, texts, st.sampled_from(SURROGATES), texts),
    st.builds("{}{}{}".format, texts, st.sampled_from(CONTROLS + DIGITS), texts),
    texts, st.sampled_from(ODD_STRINGS),
)
BIG_INTS = [0, -1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64, 10**40]
numbers = either(st.integers(), st.sampled_from(BIG_INTS), st.floats())  # NaN and ±Infinity too
values = st.recursive(
    st.one_of(st.none(), st.booleans(), numbers, strings),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(strings, inner, max_size=3)),
    max_leaves=4,
)

offsets = st.timedeltas(min_value=-dt.timedelta(hours=23, minutes=59), max_value=dt.timedelta(hours=23, minutes=59)).map(dt.timezone)
EXTREME_TIMES = [
    "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59.999999Z",
    "0001-01-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-11-30T24:00:00Z", "2026-11-30T10:30:00+24:00",
    "2026-11-30", "2026-11-30T10:30:00", "+12026-01-01T00:00:00Z", "2026-W48-1", "２０２６-11-30T10:30:00Z",
]
edge_times = either(  # the edges of what Python can hold, at any offset: UTC may fall outside them
    st.datetimes(max_value=dt.datetime(1, 1, 2), timezones=offsets).map(dt.datetime.isoformat),
    st.datetimes(min_value=dt.datetime(9999, 12, 31), timezones=offsets).map(dt.datetime.isoformat),
)
timestamps = either(st.sampled_from(EXTREME_TIMES), edge_times, st.datetimes(timezones=offsets).map(dt.datetime.isoformat))

ODD_CURSORS = [
    "now", "0-0", "1-1", "1-99999999999999999999", "99999999999999999999-1", "9223372036854775807-9223372036854775807",
    "9223372036854775808-0", "²-1", "1-²", "１-1", "٣-1", "1_0-1", " 1-1", "1-1 ", "+1-1", "-1-1", "1--1", "1-",
    "-", "", "1-1-1", "0x1-1",
]
big = st.integers(2**63 - 2, 2**70)
cursors = either(
    st.sampled_from(ODD_CURSORS),
    st.builds("{}-{}".format, either(big, st.integers(-1, 99)), either(big, st.integers(-1, 99))),
    strings, values,
)
levels = either(st.sampled_from(["INFO", "warn", "WARNING", "fatal", "trace", "LOUD", ""]), strings, values)

# Each field's odd values: wrong types, and text that is legal JSON but hostile to what comes after.
ODD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "seq": either(numbers, values),
    "thread_id": either(strings, values),
    "message": either(strings, values, st.just(BIG_MESSAGE)),
    "level": levels,
    "created_at": either(timestamps, values),
    "producer": either(strings, values),
    "ref": either(strings, values),
    "cursor": cursors,
    "records": values,
    "type": either(st.sampled_from(["publish", "subscribe", "PING", "records", "ack", ""]), values),
    "extra": values,  # a field that no frame or record has
}
RECORD_FIELDS = ("seq", "thread_id", "message", "level", "created_at", "extra")

good_record = st.fixed_dictionaries(
    {"seq": st.integers(0, 5), "thread_id": st.sampled_from(["a", "b"]), "message": texts},
    optional={"level": st.sampled_from(["INFO", "warn", "ERROR"]),
              "created_at": st.datetimes(timezones=offsets).map(dt.datetime.isoformat)},
)


@st.composite
def mutated(draw: st.DrawFn, base: st.SearchStrategy[dict[str, Any]], fields: tuple[str, ...]) -> dict[str, Any]:
    """A valid object from ``base`` with up to two of ``fields`` given odd values or dropped."""
    obj = dict(draw(base))
    for _ in range(draw(st.integers(0, 2))):
        field = draw(st.sampled_from(fields))
        if draw(st.integers(0, 3)):
            obj[field] = draw(ODD_VALUES[field])
        else:
            obj.pop(field, None)
    return obj


record = either(mutated(good_record, RECORD_FIELDS), mutated(good_record, RECORD_FIELDS), values)
publish = mutated(
    st.fixed_dictionaries(
        {"type": st.just("publish"), "records": st.lists(record, min_size=1, max_size=3)},
        optional={"producer": st.sampled_from(["p", "q"]), "ref": st.integers(0, 9)},
    ),
    ("producer", "ref", "records", "type", "extra"),
)
subscribe = mutated(
    st.fixed_dictionaries({"type": st.just("subscribe"), "thread_id": st.sampled_from(["a", "b"])},
                          optional={"cursor": st.sampled_from([None, "now", "0-0"])}),
    ("thread_id", "cursor", "cursor", "type", "extra"),
)
unsubscribe = mutated(st.fixed_dictionaries({"type": st.just("unsubscribe"), "thread_id": st.sampled_from(["a", "b"])}),
                      ("thread_id", "type", "extra"))
ping = mutated(st.fixed_dictionaries({"type": st.just("ping")}, optional={"ref": st.integers()}), ("ref", "type", "extra"))
frames = either(publish, publish, subscribe, unsubscribe, ping, values)


@st.composite
def poison(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A publish with one field of one record (or of the frame) odd, then a subscribe to that thread, maybe odd too."""
    rec = draw(good_record)
    frame: dict[str, Any] = {"type": "publish", "producer": "p", "ref": 1, "records": [rec]}
    field = draw(st.sampled_from(["thread_id", "message", "level", "created_at", "created_at", "seq", "producer", "ref"]))
    (frame if field in ("producer", "ref") else rec)[field] = draw(ODD_VALUES[field])
    sub: dict[str, Any] = {"type": "subscribe", "thread_id": rec["thread_id"]}
    if draw(st.booleans()):
        sub["cursor"] = draw(cursors)
    return [sub, frame] if draw(st.booleans()) else [frame, sub]


class Wire:
    """One WebSocket message as sent: its payload and whether it goes in a text frame."""

    __slots__ = ("payload", "text")

    def __init__(self, payload: str | bytes, text: bool) -> None:
        self.payload, self.text = payload, text

    def __repr__(self) -> str:  # Hypothesis prints this for a falsifying example
        p = self.payload
        shown = repr(p) if len(p) <= 300 else f"{p[:150]!r} …{len(p)} in all… {p[-50:]!r}"
        return f"Wire({'text' if self.text else 'binary'} {shown})"

    @property
    def may_close(self) -> int | None:
        """The close code that the WebSocket layer may answer this message with, if any."""
        if self.text and isinstance(self.payload, bytes):
            try:
                self.payload.decode("utf-8")
            except UnicodeDecodeError:
                return 1007
        return 1009 if len(self.payload) > 1024 * 1024 else None


def _wire(obj: Any, how: str) -> Wire:
    """``obj`` as JSON: ASCII text (lone surrogates as ``\\ud800`` escapes), raw UTF-8 text, or binary."""
    ascii_text = json.dumps(obj)
    if how == "utf-8":
        raw = json.dumps(obj, ensure_ascii=False)
        try:
            raw.encode("utf-8")
            return Wire(raw, True)
        except UnicodeEncodeError:
            return Wire(ascii_text, True)
    return Wire(ascii_text.encode(), False) if how == "binary" else Wire(ascii_text, True)


def _nested(depth: int, inner: str = "") -> str:
    return "[" * depth + inner + "]" * depth


raw_wires = st.one_of(
    st.binary(max_size=64).map(lambda b: Wire(b, False)),
    st.binary(max_size=64).map(lambda b: Wire(b, True)),  # a text frame that may not be UTF-8
    texts.map(lambda t: Wire(t.encode("utf-8", "surrogatepass"), True)),  # surrogates: invalid UTF-8
    st.sampled_from([
        Wire(_nested(100_000), True),  # RecursionError in json.loads
        Wire('{"type":"ping","ref":' + _nested(100_000) + "}", True),
        Wire('{"type":"publish","records":[' + ",".join(["1"] * 1_000_000) + "]}", True),  # 1.9 MiB: one error per record?
        Wire('{"type":"ping","type":"publish","records":[]}', True),
        Wire('{"type":"ping","ref":NaN}', True),
        Wire('{"type":"subscribe","thread_id":"a","cursor":"\\u00b2-1"}', True),
        Wire("\ufeff{}", True),
    ]),
)
json_wires = st.builds(_wire, frames, st.sampled_from(["ascii", "utf-8", "binary"]))


@st.composite
def wires(draw: st.DrawFn) -> Wire:
    """Mostly frames of the protocol's grammar (bent), sometimes raw bytes and hand-made text."""
    return draw(raw_wires if draw(st.integers(0, 9)) == 0 else json_wires)


@st.composite
def attacks(draw: st.DrawFn) -> list[Wire]:
    """A few messages of any kind, or a poisoned publish together with a subscribe to its thread."""
    if draw(st.booleans()):
        return draw(st.lists(wires(), min_size=1, max_size=4))
    how = draw(st.sampled_from(["ascii", "utf-8", "binary"]))
    return [_wire(obj, how) for obj in draw(poison())]


# -- one example's own names --------------------------------------------------------------


class Namespace:
    """Gives every thread and producer id of one example a fresh prefix (lengths ≥ 100 are kept)."""

    def __init__(self) -> None:
        self.prefix = f"{uuid.uuid4().hex[:8]}:"

    def name(self, value: Any) -> Any:
        if not isinstance(value, str) or not value:
            return value
        if len(value) >= 100:
            return self.prefix + value[len(self.prefix):]
        return self.prefix + value

    def frame(self, obj: Any) -> Any:
        """``obj`` with the ids of a frame and of its records renamed."""
        if not isinstance(obj, dict):
            return obj
        out = {k: self.name(v) if k in ("thread_id", "producer") else v for k, v in obj.items()}
        if isinstance(out.get("records"), list):
            out["records"] = [self.frame(r) for r in out["records"]]
        return out


def rename(wire: Wire, names: Namespace) -> Wire:
    """``wire`` with its ids renamed, when it is a JSON object this harness can read back."""
    try:
        obj = json.loads(wire.payload)
    except (ValueError, RecursionError):
        return wire
    if not isinstance(obj, dict):
        return wire
    renamed = json.dumps(names.frame(obj))
    return Wire(renamed if isinstance(wire.payload, str) else renamed.encode(), wire.text)


def published_threads(sent: list[Wire]) -> list[str]:
    """The thread ids (valid UTF-8 strings) that publish frames in ``sent`` named."""
    found: list[str] = []
    for wire in sent:
        try:
            obj = json.loads(wire.payload)
        except (ValueError, RecursionError):
            continue
        if isinstance(obj, dict) and obj.get("type") == "publish" and isinstance(obj.get("records"), list):
            for rec in obj["records"]:
                tid = rec.get("thread_id") if isinstance(rec, dict) else None
                if isinstance(tid, str) and 0 < len(tid) <= 256 and tid not in found:
                    found.append(tid)
    return found[:3]


# -- HTTP requests ------------------------------------------------------------------------------

METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]
path_ids = st.one_of(st.sampled_from(["a", "%C2%B2", "%ff", "%00", "%ed%a0%80", "x" * 257]),
                     st.binary(max_size=12).map(lambda b: urllib.parse.quote_from_bytes(b, safe="")))
paths = st.one_of(
    st.sampled_from(["/healthz", "/metrics", "/", "/ws", "/nope", "/admin/runs//logs", "//healthz"]),
    path_ids.map("/admin/runs/{}/logs".format),
)
query_values = st.one_of(
    st.sampled_from(ODD_CURSORS + ["%C2%B2-1", "%ff", "0", "-1", "10001", "1e3", "abc"]),
    st.integers(-(2**70), 2**70).map(str),
    st.binary(max_size=8).map(lambda b: urllib.parse.quote_from_bytes(b, safe="")),
)
queries = st.lists(
    st.tuples(st.sampled_from(["limit", "before", "after", "x", "LIMIT"]), query_values), max_size=3,
).map(lambda pairs: "&".join(f"{k}={urllib.parse.quote(v, safe='%')}" for k, v in pairs))
