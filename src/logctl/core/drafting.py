"""Record drafting: a producer's call checked and repaired into a record for the spool. Pure.

:func:`draft_record` validates what the caller passed (thread id, level, message type) and
:func:`clean_message` repairs the text; :func:`record_size` is the estimate the spool's
byte bound counts.
"""

from __future__ import annotations

import datetime as dt
import re
from json.encoder import encode_basestring
from typing import Final

from logctl.core.records import (
    DEFAULT_MAX_MESSAGE_BYTES,
    LEVELS,
    LogRecord,
    escape_nul,
    normalise_level,
    validate_thread_id,
)
from logctl.errors import InvalidRecord

__all__ = ["RECORD_OVERHEAD", "clean_message", "draft_record", "json_size", "record_size"]

#: Bytes of frame overhead counted per record on top of its text.
RECORD_OVERHEAD: Final = 96

_SURROGATE: Final = re.compile("[\ud800-\udfff]")


def clean_message(text: str, max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> str:
    r"""Make any text storable: NUL as the four characters ``\x00``, lone surrogates as U+FFFD,
    and over ``max_bytes`` of UTF-8 cut short with a visible ``… [truncated N bytes]``.

    A message is data, not code, so it is repaired rather than refused.
    """
    if "\x00" in text:
        text = escape_nul(text)
    if text.isascii():
        if len(text) <= max_bytes:
            return text
        data = text.encode("ascii")
    else:
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates, e.g. from os.fsdecode()
            text = _SURROGATE.sub("\ufffd", text)
            data = text.encode("utf-8")
        if len(data) <= max_bytes:
            return text
    keep = max(0, max_bytes - 40)  # room for the marker
    return data[:keep].decode("utf-8", "ignore") + f"… [truncated {len(data) - keep} bytes]"


def draft_record(message: object, thread_id: object, level: object, created_at: dt.datetime) -> LogRecord:
    """Validate a producer's call into a record for the spool (no producer id or seq yet).

    A missing or bad thread id, a non-string message and an unknown level are the
    caller's mistakes and raise :class:`~logctl.errors.InvalidRecord`; the message text
    itself is repaired by :func:`clean_message`.
    """
    if thread_id is None:
        raise InvalidRecord("missing_thread_id", "no thread id: pass thread_id= or call set_log_context() first")
    tid = validate_thread_id(thread_id)
    if not isinstance(message, str):
        raise InvalidRecord("bad_message", f"a log message must be a str, not {type(message).__name__}")
    lvl = level if level in LEVELS else normalise_level(level)
    assert isinstance(lvl, str)
    return LogRecord(tid, clean_message(message), lvl, created_at)


def json_size(text: str) -> int:
    r"""Bytes ``text`` takes in a frame: its UTF-8 length once JSON-escaped, without the quotes.

    A control character grows to six (``\u0001``), a quote or backslash to two, a non-ASCII
    character to its UTF-8 bytes. Plain printable ASCII, the common case, is measured
    without building the escaped copy.
    """
    if text.isascii():
        if text.isprintable() and '"' not in text and "\\" not in text:
            return len(text)
        return len(encode_basestring(text)) - 2
    return len(encode_basestring(text).encode("utf-8", "surrogatepass")) - 2


def record_size(record: LogRecord) -> int:
    """Estimated bytes a record takes in the spool and on the wire: as JSON-escaped UTF-8.

    Measuring the escaped form keeps a batch of ``batch_bytes`` within the hub's frame
    limit (``serve --max-frame-bytes``) even when its text is all control characters.
    """
    return json_size(record.message) + json_size(record.thread_id) + RECORD_OVERHEAD
