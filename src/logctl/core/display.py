"""How a record is shown: time modes and zone labels, ``--since``, patterns, plain lines, activity.

Pure functions: the caller passes the time zone and ``now``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from typing import Final, Literal

from logctl.core.records import LEVELS, LogRecord, assume_utc, parse_timestamp
from logctl.core.sanitise import neutralise_controls
from logctl.errors import ConfigError, InvalidRecord

__all__ = [
    "TIME_MODES",
    "ActivityCounter",
    "TimeMode",
    "compile_pattern",
    "escape_newlines",
    "format_json",
    "format_plain",
    "format_time",
    "next_time_mode",
    "parse_since",
    "zone_label",
]

TimeMode = Literal["local", "utc", "relative"]
TIME_MODES: Final[tuple[TimeMode, ...]] = ("local", "utc", "relative")

UTC: Final = dt.timezone.utc

#: ANSI SGR colours of the plain mode, per level.
LEVEL_ANSI: Final[Mapping[str, str]] = {"DEBUG": "2;36", "INFO": "32", "WARN": "33", "ERROR": "1;31"}

_SINCE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")
_UNITS: Final[Mapping[str, float]] = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def next_time_mode(mode: TimeMode) -> TimeMode:
    """local → UTC → relative → local."""
    return TIME_MODES[(TIME_MODES.index(mode) + 1) % len(TIME_MODES)]


def format_time(
    value: dt.datetime | None,
    mode: TimeMode,
    *,
    tz: dt.tzinfo,
    origin: dt.datetime | None = None,
    iso: bool = False,
) -> str:
    """A record's time in ``mode``: ``2026-11-30 10:30:00.123``, or ``+0:01:02.500`` relative to ``origin``.

    With ``iso`` the absolute forms carry their offset (``…T10:30:00.123Z``), for output
    that has no status bar to name the zone.
    """
    if value is None:
        return "-"
    value = assume_utc(value)
    if mode == "relative":
        if origin is None:
            return "+?"
        delta = value - assume_utc(origin)
        sign = "-" if delta < dt.timedelta(0) else "+"
        micros = abs(delta) // dt.timedelta(microseconds=1)
        seconds, micros = divmod(micros, 1_000_000)
        minutes, seconds = divmod(seconds, 60)
        hours, minutes = divmod(minutes, 60)
        return f"{sign}{hours}:{minutes:02d}:{seconds:02d}.{micros // 1000:03d}"
    local = value.astimezone(UTC if mode == "utc" else tz)
    text = local.strftime("%Y-%m-%dT%H:%M:%S" if iso else "%Y-%m-%d %H:%M:%S") + f".{local.microsecond // 1000:03d}"
    if iso:
        offset = local.strftime("%z")
        text += "Z" if offset in ("+0000", "") else f"{offset[:3]}:{offset[3:]}"
    return text


def zone_label(mode: TimeMode, *, tz: dt.tzinfo, now: dt.datetime, origin: dt.datetime | None = None) -> str:
    """Name the zone the times are shown in: ``local CET (UTC+01:00)``, ``UTC``, ``relative to …``."""
    if mode == "utc":
        return "UTC"
    if mode == "relative":
        if origin is None:
            return "relative to the first record (not loaded yet)"
        return f"relative to the first record, {format_time(origin, 'utc', tz=tz)} UTC"
    local = assume_utc(now).astimezone(tz)
    offset = local.strftime("%z") or "+0000"
    name = local.tzname() or ""
    zone = f"UTC{offset[:3]}:{offset[3:]}"
    return f"local {name} ({zone})" if name and name not in ("UTC", zone) else f"local ({zone})"


def parse_since(text: str, now: dt.datetime) -> dt.datetime:
    """``10m``, ``2h``, ``1.5d``, ``30s`` before ``now``, or an ISO 8601 time (naive means UTC)."""
    match = _SINCE.match(text)
    if match:
        return assume_utc(now) - dt.timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])
    try:
        return parse_timestamp(text.strip())
    except InvalidRecord:
        raise ConfigError(
            f"--since {text!r} is neither a duration (10m, 2h, 1d) nor an ISO 8601 time"
        ) from None


def compile_pattern(text: str, *, what: str = "pattern") -> re.Pattern[str] | None:
    """Compile a filter or search regex with smart case: all lower case means case-insensitive.

    An empty text means no pattern; an invalid regex raises :class:`ConfigError`.
    """
    if not text:
        return None
    flags = re.IGNORECASE if text == text.lower() else 0
    try:
        return re.compile(text, flags)
    except re.error as exc:
        raise ConfigError(f"{what} {text!r} is not a valid regular expression: {exc}") from None


def escape_newlines(message: str) -> str:
    r"""Keep a record on one line: a newline becomes the two characters ``\n``."""
    if "\n" not in message and "\r" not in message:
        return message
    return message.rstrip("\r\n").replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\r")


def format_plain(
    record: LogRecord,
    *,
    mode: TimeMode,
    tz: dt.tzinfo,
    origin: dt.datetime | None = None,
    color: bool = False,
) -> str:
    """One line ``time level message`` for plain output (ANSI colour only when ``color``).

    Control characters of the message are shown, never obeyed (:func:`neutralise_controls`).
    """
    when = format_time(record.created_at, mode, tz=tz, origin=origin, iso=True)
    level = f"{record.level:<5}"
    message = neutralise_controls(escape_newlines(record.message))
    if not color:
        return f"{when} {level} {message}"
    code = LEVEL_ANSI.get(record.level, "0")
    return f"\x1b[2m{when}\x1b[0m \x1b[{code}m{level}\x1b[0m {message}"


def format_json(record: LogRecord) -> str:
    """One JSON object in the history API's record shape, on one line (UTF-8 kept as is).

    JSON escapes the C0 controls; DEL and the C1 range are escaped too (``\\u009b``), so
    the line is still exact JSON and none of it acts on a terminal.
    """
    text = json.dumps(record.to_json(), ensure_ascii=False)
    return _JSON_RAW_CONTROLS.sub(_json_escape, text) if _JSON_RAW_CONTROLS.search(text) else text


#: Controls that ``json.dumps(ensure_ascii=False)`` leaves raw (they can only occur inside strings).
_JSON_RAW_CONTROLS: Final = re.compile("[\x7f-\x9f]")


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


@dataclasses.dataclass(slots=True)
class ActivityCounter:
    """Records per second per level over the last ``window`` seconds, for a sparkline."""

    window: int = 60
    _buckets: dict[str, dict[int, int]] = dataclasses.field(default_factory=lambda: {lv: {} for lv in LEVELS})
    _latest: int = 0

    def add(self, records: Iterable[LogRecord], now: dt.datetime) -> None:
        """Count records at their ``created_at`` (or ``now``); older than the window are ignored."""
        current = int(assume_utc(now).timestamp())
        self._latest = max(self._latest, current)
        floor = self._latest - self.window
        for record in records:
            at = int(assume_utc(record.created_at).timestamp()) if record.created_at else current
            at = min(at, current)
            if at <= floor:
                continue
            bucket = self._buckets.setdefault(record.level, {})
            bucket[at] = bucket.get(at, 0) + 1

    def series(self, now: dt.datetime) -> dict[str, list[int]]:
        """Per level, ``window`` counts, oldest first, ending at ``now``; old buckets are forgotten."""
        current = int(assume_utc(now).timestamp())
        self._latest = max(self._latest, current)
        first = current - self.window + 1
        out: dict[str, list[int]] = {}
        for level, bucket in self._buckets.items():
            for stale in [t for t in bucket if t < first]:
                del bucket[stale]
            out[level] = [bucket.get(t, 0) for t in range(first, current + 1)]
        return out

    def total(self, now: dt.datetime) -> int:
        """Records counted within the window."""
        return sum(sum(v) for v in self.series(now).values())
