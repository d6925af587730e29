"""The partitioned layout's calendar: periods, partition names and bounds, and which partitions retention drops.

``thread_logs`` may be range-partitioned by ``created_at`` (``logctl apply-schema --partitioned
daily|weekly``): one partition per UTC day or per ISO week (from Monday 00:00 UTC), named
``thread_logs_pYYYYMMDD`` after its first day. A table converted from the plain layout keeps its
rows in one partition, ``thread_logs_legacy``, bounded below by MINVALUE. Pure: data and ``now`` in,
decisions out (the SQL is in :mod:`logctl.store.partitions`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Final, Literal, get_args

from logctl.errors import ConfigError

__all__ = [
    "AHEAD",
    "PERIODS",
    "Partition",
    "Period",
    "check_period",
    "missing",
    "partition_name",
    "period_start",
    "periods_ahead",
    "periods_of",
    "rows_before",
    "split_for_retention",
]

Period = Literal["daily", "weekly"]
PERIODS: Final[tuple[Period, ...]] = get_args(Period)

#: How far ahead of ``now`` partitions are kept ready (by ``serve`` and ``apply-schema``).
AHEAD: Final = dt.timedelta(days=7)

_STEP: Final[dict[Period, dt.timedelta]] = {"daily": dt.timedelta(days=1), "weekly": dt.timedelta(weeks=1)}
_UTC: Final = dt.timezone.utc


def check_period(value: str) -> Period:
    """``value`` as a :data:`Period`, or :class:`~logctl.errors.ConfigError`."""
    for period in PERIODS:
        if value == period:
            return period
    raise ConfigError(f"the partition period must be one of {', '.join(PERIODS)}, not {value!r}")


@dataclasses.dataclass(frozen=True, slots=True)
class Partition:
    """One partition of ``thread_logs``: rows with ``lower <= created_at < upper`` (None: unbounded)."""

    name: str
    lower: dt.datetime | None
    upper: dt.datetime | None

    def describe(self) -> str:
        lo = "MINVALUE" if self.lower is None else self.lower.astimezone(_UTC).isoformat(timespec="seconds")
        hi = "MAXVALUE" if self.upper is None else self.upper.astimezone(_UTC).isoformat(timespec="seconds")
        return f"{self.name} [{lo}, {hi})"


def period_start(at: dt.datetime, period: Period) -> dt.datetime:
    """The start (UTC midnight; Monday for weeks) of the period holding ``at`` (naive means UTC)."""
    utc = (at if at.tzinfo is not None else at.replace(tzinfo=_UTC)).astimezone(_UTC)
    day = dt.datetime(utc.year, utc.month, utc.day, tzinfo=_UTC)
    return day if period == "daily" else day - dt.timedelta(days=day.weekday())


def partition_name(start: dt.datetime, period: Period) -> str:
    """``thread_logs_pYYYYMMDD``, after the first day of the period starting at ``start``."""
    return f"thread_logs_p{period_start(start, period):%Y%m%d}"


def _bounds(start: dt.datetime, period: Period) -> Partition:
    """The partition of the period that starts at ``start``; the last period ends at MAXVALUE's edge."""
    try:
        upper: dt.datetime | None = start + _STEP[period]
    except OverflowError:  # the period of 9999-12-31: created_at never reaches it (003's CHECK)
        upper = None
    return Partition(partition_name(start, period), start, upper)


def periods_of(times: Iterable[dt.datetime], period: Period) -> list[Partition]:
    """The partitions, in order, that rows with these ``created_at`` values need."""
    return [_bounds(s, period) for s in sorted({period_start(t, period) for t in times})]


def periods_ahead(now: dt.datetime, period: Period, ahead: dt.timedelta = AHEAD) -> list[Partition]:
    """The partitions from the period of ``now`` through the one holding ``now + ahead``."""
    first, last = period_start(now, period), period_start(now + ahead, period)
    out, start = [], first
    while start <= last:
        out.append(_bounds(start, period))
        start += _STEP[period]
    return out


def missing(wanted: Sequence[Partition], existing: Sequence[Partition]) -> list[Partition]:
    """The partitions of ``wanted`` whose range no existing partition covers (so none overlaps either)."""

    def covered(p: Partition) -> bool:
        assert p.lower is not None
        return any(
            (e.lower is None or e.lower <= p.lower) and (e.upper is None or p.lower < e.upper) for e in existing
        )

    return [p for p in wanted if not covered(p)]


def split_for_retention(
    partitions: Sequence[Partition], cutoff: dt.datetime
) -> tuple[list[Partition], list[Partition]]:
    """Partitions wholly before ``cutoff`` (dropped whole), and those that straddle it (deleted from in batches)."""
    drop = [p for p in partitions if p.upper is not None and p.upper <= cutoff]
    boundary = [p for p in partitions if (p.lower is None or p.lower < cutoff) and p not in drop]
    return sorted(drop, key=_order), sorted(boundary, key=_order)


def rows_before(partitions: Sequence[Partition]) -> dt.datetime | None:
    """A time every row of ``partitions`` is older than: the newest one's upper bound (None: none, or unbounded)."""
    uppers = [p.upper for p in partitions]
    if not uppers or any(u is None for u in uppers):
        return None
    return max(u for u in uppers if u is not None)


def _order(p: Partition) -> dt.datetime:
    return p.lower or dt.datetime.min.replace(tzinfo=_UTC)
