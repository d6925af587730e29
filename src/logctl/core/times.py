"""Times of records as the viewer and plain output show them: time modes, zone labels, ``--since``.

Pure functions: the caller passes the time zone and ``now``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Final, Literal

from logctl.core.records import assume_utc, parse_timestamp
from logctl.errors import ConfigError, InvalidRecord

__all__ = ["TIME_MODES", "TimeMode", "format_time", "next_time_mode", "parse_since", "parse_since_spec", "zone_label"]

TimeMode = Literal["local", "utc", "relative"]
TIME_MODES: Final[tuple[TimeMode, ...]] = ("local", "utc", "relative")

UTC: Final = dt.timezone.utc

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
    spec = parse_since_spec(text)
    if isinstance(spec, dt.timedelta):
        try:
            return assume_utc(now) - spec
        except OverflowError:
            raise ConfigError(f"--since {text!r} reaches before year 1") from None
    return spec


def parse_since_spec(text: str) -> dt.datetime | dt.timedelta:
    """What a ``--since`` means, before knowing ``now``: a duration back from it, or an ISO 8601 time."""
    match = _SINCE.match(text)
    if match:
        try:
            return dt.timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])
        except OverflowError:
            raise ConfigError(f"--since {text!r} is too long a duration") from None
    try:
        return parse_timestamp(text.strip())
    except InvalidRecord:
        raise ConfigError(
            f"--since {text!r} is neither a duration (10m, 2h, 1d) nor an ISO 8601 time"
        ) from None
