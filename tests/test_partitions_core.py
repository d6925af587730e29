"""The partitioned layout's calendar (core/partitions.py): periods, names, what is missing, what retention drops."""

from __future__ import annotations

import datetime as dt

import pytest

from logctl.core.partitions import (
    Partition,
    check_period,
    missing,
    partition_name,
    period_start,
    periods_ahead,
    periods_of,
    rows_before,
    split_for_retention,
)
from logctl.errors import ConfigError

UTC = dt.timezone.utc


def _at(year: int, month: int, day: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=UTC)


def test_periods_start_at_utc_midnight_and_on_mondays() -> None:
    """A day starts at 00:00 UTC whatever the offset given; a week on its Monday; names follow the first day."""
    late = dt.datetime(2026, 12, 2, 1, 30, tzinfo=dt.timezone(dt.timedelta(hours=5)))  # 2026-12-01 20:30 UTC
    assert period_start(late, "daily") == _at(2026, 12, 1)
    assert period_start(_at(2026, 12, 6, 23), "weekly") == _at(2026, 11, 30)  # a Sunday → its Monday
    assert partition_name(_at(2026, 12, 6, 23), "weekly") == "thread_logs_p20261130"
    assert period_start(dt.datetime(2026, 12, 1, 5), "daily") == _at(2026, 12, 1)  # naive is UTC


def test_periods_ahead_and_of_rows_cover_each_period_once() -> None:
    """Partitions ahead run from now's period through now + ahead; rows' periods are distinct and ordered."""
    ahead = periods_ahead(_at(2026, 12, 1, 12), "daily", dt.timedelta(days=2))
    assert [p.name for p in ahead] == ["thread_logs_p20261201", "thread_logs_p20261202", "thread_logs_p20261203"]
    assert all(p.upper == p.lower + dt.timedelta(days=1) for p in ahead if p.lower and p.upper)
    rows = periods_of([_at(2030, 1, 1, 5), _at(2001, 5, 5), _at(2030, 1, 1, 23)], "daily")
    assert [p.name for p in rows] == ["thread_logs_p20010505", "thread_logs_p20300101"]
    last = periods_of([_at(9999, 12, 30, 12)], "weekly")[0]
    assert (last.lower, last.upper) == (_at(9999, 12, 27), None)  # the last week ends at MAXVALUE


def test_missing_skips_ranges_an_existing_partition_covers() -> None:
    """A wanted partition inside the legacy one [MINVALUE, B) or an existing one is not missing."""
    legacy = Partition("thread_logs_legacy", None, _at(2026, 12, 2))
    wanted = periods_ahead(_at(2026, 12, 1), "daily", dt.timedelta(days=2))
    assert [p.name for p in missing(wanted, [legacy])] == ["thread_logs_p20261202", "thread_logs_p20261203"]
    assert missing(wanted, [legacy, *wanted]) == []


def test_retention_drops_partitions_wholly_before_the_cutoff() -> None:
    """Partitions ending at or before the cutoff are dropped; the one holding it (or the legacy one) is the boundary."""
    legacy = Partition("thread_logs_legacy", None, _at(2026, 1, 1))
    days = periods_of([_at(2026, 1, d) for d in (1, 2, 3)], "daily")
    drop, boundary = split_for_retention([days[2], legacy, *days[:2]], _at(2026, 1, 2, 12))
    assert [p.name for p in drop] == ["thread_logs_legacy", "thread_logs_p20260101"]
    assert [p.name for p in boundary] == ["thread_logs_p20260102"]
    drop, boundary = split_for_retention([legacy, *days], _at(2025, 6, 1))
    assert (drop, [p.name for p in boundary]) == ([], ["thread_logs_legacy"])


def test_check_period_names_the_choices() -> None:
    """Only daily and weekly are periods; anything else is a ConfigError naming them."""
    assert check_period("weekly") == "weekly"
    with pytest.raises(ConfigError, match="must be one of daily, weekly, not 'monthly'"):
        check_period("monthly")


def test_rows_before_is_the_newest_upper_bound_or_none_when_unbounded() -> None:
    """Every row of the partitions dropped is older than the newest one's upper bound; none without bounds."""
    day = [Partition(f"p{d}", _at(2026, 11, d), _at(2026, 11, d + 1)) for d in (3, 1, 2)]
    assert rows_before(day) == _at(2026, 11, 4)
    assert rows_before([]) is None
    assert rows_before([*day, Partition("thread_logs_legacy", None, None)]) is None
