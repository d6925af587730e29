"""The log record model, level normalisation and record validation."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any, Final

from logctl.core.cursor import Cursor
from logctl.errors import InvalidRecord

__all__ = [
    "DEFAULT_MAX_MESSAGE_BYTES",
    "LEVELS",
    "MAX_THREAD_ID_LENGTH",
    "LogRecord",
    "Row",
    "CREATED_AT_RANGE",
    "assume_utc",
    "check_created_at",
    "check_message",
    "escape_nul",
    "format_timestamp",
    "level_rank",
    "normalise_level",
    "check_utf8",
    "parse_timestamp",
    "record_from_wire",
    "row_from_wire",
    "validate_thread_id",
]

#: The level set of the seed, lowest first.
LEVELS: Final = ("DEBUG", "INFO", "WARN", "ERROR")

#: Other spellings accepted on input, mapped onto :data:`LEVELS`.
LEVEL_ALIASES: Final[Mapping[str, str]] = {
    "TRACE": "DEBUG",
    "NOTSET": "DEBUG",
    "WARNING": "WARN",
    "CRITICAL": "ERROR",
    "FATAL": "ERROR",
    "ERR": "ERROR",
}

_CANONICAL: Final = frozenset(LEVELS)

DEFAULT_MAX_MESSAGE_BYTES: Final = 1024 * 1024
MAX_THREAD_ID_LENGTH: Final = 256

#: Fields a producer may send in one record.
WIRE_FIELDS: Final = frozenset({"seq", "thread_id", "message", "level", "created_at"})

_SEQ_LIMIT: Final = 2**63

#: The ``created_at`` values logctl stores, in UTC: from the first (inclusive) to the second
#: (exclusive). One day inside what Python's ``datetime`` can hold at each end, so that a
#: stored value converts into any time zone when it is read back. Migration 003's CHECK
#: constraint ``thread_logs_created_at_range`` holds the database to the same bounds.
CREATED_AT_RANGE: Final = (
    dt.datetime(1, 1, 2, tzinfo=dt.timezone.utc),
    dt.datetime(9999, 12, 31, tzinfo=dt.timezone.utc),
)

#: A validated record as the columns the store writes:
#: ``(thread_id, message, level, created_at, producer_id, seq)``, the order of
#: :class:`LogRecord`'s first fields, so ``LogRecord(*row)`` is the record. The hub carries
#: rows, not records, from validation to COPY: building a frozen dataclass costs about
#: 1 µs (``object.__setattr__`` per field), a tuple about 0.03 µs.
Row = tuple[str, str, str, dt.datetime, str | None, int | None]


@dataclasses.dataclass(frozen=True, slots=True)
class LogRecord:
    """One log line of one thread.

    ``id`` and ``cursor`` are set once the record is persisted; ``producer_id`` and
    ``seq`` identify it before that (and make resends idempotent).
    """

    thread_id: str
    message: str
    level: str = "INFO"
    created_at: dt.datetime | None = None
    producer_id: str | None = None
    seq: int | None = None
    id: int | None = None
    cursor: Cursor | None = None

    @property
    def key(self) -> tuple[str, int] | None:
        """The producer key ``(producer_id, seq)``, or None for a plain SQL insert."""
        if self.producer_id is None or self.seq is None:
            return None
        return (self.producer_id, self.seq)

    def to_json(self) -> dict[str, Any]:
        """The history API's record shape, plus logctl's extra fields."""
        out: dict[str, Any] = {
            "id": self.id,
            "thread_id": self.thread_id,
            "message": self.message,
            "created_at": format_timestamp(self.created_at),
            "level": self.level,
        }
        if self.cursor is not None:
            out["cursor"] = str(self.cursor)
        if self.producer_id is not None:
            out["producer_id"] = self.producer_id
            out["seq"] = self.seq
        return out


def assume_utc(value: dt.datetime) -> dt.datetime:
    """``value`` as it is when it has a time zone; a naive one is taken as UTC, as everywhere in logctl."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.timezone.utc)


def format_timestamp(value: dt.datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z`` suffix, as in the seed's JSON."""
    if value is None:
        return None
    text = assume_utc(value).astimezone(dt.timezone.utc).isoformat()
    return text.replace("+00:00", "Z")


def check_utf8(value: str, field: str) -> str:
    """Return ``value`` if it can be written as UTF-8, else raise :class:`InvalidRecord` ``invalid_utf8``.

    JSON can carry a lone surrogate (``"\\ud800"``) that no UTF-8 encoder, PostgreSQL's
    included, accepts: such a string must never get past validation.
    """
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidRecord(
                "invalid_utf8", f"{field} is not valid UTF-8: it holds a lone surrogate at character {exc.start}"
            ) from None
    return value


def check_created_at(value: dt.datetime) -> dt.datetime:
    """``value`` (naive taken as UTC) if it lies in :data:`CREATED_AT_RANGE` once in UTC, else :class:`InvalidRecord`."""
    aware = assume_utc(value)
    try:
        in_range = CREATED_AT_RANGE[0] <= aware.astimezone(dt.timezone.utc) < CREATED_AT_RANGE[1]
    except OverflowError:  # beyond year 1..9999 once in UTC
        in_range = False
    if not in_range:
        raise InvalidRecord(
            "bad_created_at",
            f"created_at {aware.isoformat()} is outside the supported range: from 0001-01-02T00:00:00Z"
            " up to (not including) 9999-12-31T00:00:00Z",
        )
    return aware


def parse_timestamp(value: object) -> dt.datetime:
    """Parse an ISO 8601 timestamp; naive values are taken as UTC.

    A time outside :data:`CREATED_AT_RANGE` once in UTC is refused: it could be stored, but
    not read back in every time zone (and migration 003's CHECK would refuse it anyway).
    """
    if not isinstance(value, str):
        raise InvalidRecord("bad_created_at", f"created_at must be an ISO 8601 string, not {type(value).__name__}")
    check_utf8(value, "created_at")
    try:
        parsed = assume_utc(dt.datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        raise InvalidRecord("bad_created_at", f"created_at {value[:64]!r} is not an ISO 8601 timestamp") from None
    return check_created_at(parsed)


def normalise_level(value: object) -> str:
    """Map a level name onto :data:`LEVELS`, or raise :class:`InvalidRecord`.

    Case is ignored, and the stdlib ``logging`` names are accepted: WARNING→WARN,
    CRITICAL→ERROR (also FATAL, ERR), TRACE/NOTSET→DEBUG.
    """
    if value is None:
        return "INFO"
    if not isinstance(value, str):  # before any set lookup: a list or dict is unhashable
        raise InvalidRecord("unknown_level", f"level must be a string, not {type(value).__name__}")
    if value in _CANONICAL:
        return str(value)  # the common case: already canonical
    check_utf8(value, "level")
    upper = value.strip().upper()
    if upper in LEVELS:
        return upper
    if upper in LEVEL_ALIASES:
        return LEVEL_ALIASES[upper]
    raise InvalidRecord(
        "unknown_level",
        f"unknown level {value[:32]!r}: expected one of {', '.join(LEVELS)}",
    )


def level_rank(level: str) -> int:
    """Position of a normalised level in :data:`LEVELS` (unknown levels rank as INFO)."""
    try:
        return LEVELS.index(level)
    except ValueError:
        return 1


def escape_nul(text: str) -> str:
    r"""PostgreSQL TEXT cannot hold NUL: store it visibly as the four characters ``\x00``."""
    return text.replace("\x00", "\\x00") if "\x00" in text else text


def validate_thread_id(value: object) -> str:
    """Return a usable thread id or raise :class:`InvalidRecord`.

    Any text is stored literally (SQL is always parameterised); only emptiness, NUL
    bytes and excessive length are refused.
    """
    if value is None:
        raise InvalidRecord("missing_thread_id", "record has no thread_id")
    if not isinstance(value, str):
        raise InvalidRecord("bad_thread_id", f"thread_id must be a string, not {type(value).__name__}")
    if not value:
        raise InvalidRecord("bad_thread_id", "thread_id is empty")
    if "\x00" in value:
        raise InvalidRecord("bad_thread_id", "thread_id contains a NUL byte")
    check_utf8(value, "thread_id")
    if len(value) > MAX_THREAD_ID_LENGTH:
        raise InvalidRecord(
            "bad_thread_id", f"thread_id is {len(value)} characters long; the limit is {MAX_THREAD_ID_LENGTH}"
        )
    return value


def check_message(value: object, max_bytes: int) -> str:
    """Return the message to store (NUL escaped) or raise :class:`InvalidRecord`."""
    if not isinstance(value, str):
        if value is None:
            raise InvalidRecord("missing_message", "record has no message")
        raise InvalidRecord("bad_message", f"message must be a string, not {type(value).__name__}")
    # Cheap bound first: a str of n code points is at most 4n UTF-8 bytes.
    if len(value) * 4 > max_bytes and len(value.encode("utf-8", "surrogatepass")) > max_bytes:
        raise InvalidRecord(
            "message_too_large",
            f"message is {len(value.encode('utf-8', 'surrogatepass'))} bytes; the limit is {max_bytes}",
        )
    return escape_nul(check_utf8(value, "message"))


def row_from_wire(
    raw: object,
    *,
    producer_id: str | None,
    now: dt.datetime,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    default_thread_id: str | None = None,
) -> Row:
    """Validate one record as sent by a producer into the :data:`Row` the store writes.

    ``now`` stamps records that carry no ``created_at``. Each field is first checked for
    the common valid case inline; anything else goes through the field's validator
    (:func:`validate_thread_id`, :func:`check_message`, :func:`normalise_level`,
    :func:`parse_timestamp`), which accepts it or raises the precise error.
    """
    if not isinstance(raw, dict):
        raise InvalidRecord("bad_record", f"a record must be a JSON object, not {type(raw).__name__}")
    if not raw.keys() <= WIRE_FIELDS:
        unknown = raw.keys() - WIRE_FIELDS
        names = ", ".join(sorted(str(k)[:32] for k in unknown)[:5])
        raise InvalidRecord("unknown_field", f"unknown field(s) in record: {names}")
    seq = raw.get("seq")
    if producer_id is None:
        seq = None
    elif type(seq) is not int or seq < 0 or seq >= _SEQ_LIMIT:
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0 or seq >= _SEQ_LIMIT:
            raise InvalidRecord("bad_seq", f"seq must be a non-negative 64-bit integer, not {seq!r:.32}")
    thread_id = raw.get("thread_id", default_thread_id)
    if (type(thread_id) is not str or not thread_id or len(thread_id) > MAX_THREAD_ID_LENGTH
            or not thread_id.isascii() or "\x00" in thread_id):
        thread_id = validate_thread_id(thread_id)
    message = raw.get("message")
    if type(message) is not str or len(message) > max_message_bytes or not message.isascii() or "\x00" in message:
        message = check_message(message, max_message_bytes)
    level = raw.get("level")
    if type(level) is not str or level not in _CANONICAL:
        level = normalise_level(level)
    created = raw.get("created_at")
    created_at = now if created is None else parse_timestamp(created)
    return (thread_id, message, level, created_at, producer_id, seq)


def record_from_wire(
    raw: object,
    *,
    producer_id: str | None,
    now: dt.datetime,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    default_thread_id: str | None = None,
) -> LogRecord:
    """Validate one record as sent by a producer and build a :class:`LogRecord` (see :func:`row_from_wire`)."""
    return LogRecord(*row_from_wire(
        raw, producer_id=producer_id, now=now, max_message_bytes=max_message_bytes, default_thread_id=default_thread_id
    ))
