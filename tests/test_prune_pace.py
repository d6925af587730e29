"""``prune --pace``: the plan's rest after each step, and a prune resting after each batch and partition."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from helpers import records

from logctl.core.prune_plan import PrunePlan, plan_prune
from logctl.errors import ConfigError
from logctl.store import LogStore
from logctl.store.prune import run_prune

NOW = dt.datetime(2026, 12, 2, tzinfo=dt.timezone.utc)


def test_the_rest_is_the_step_times_the_pace_three_by_default_and_none_at_zero() -> None:
    """A step of 0.2 s rests 0.6 s at pace 3 (the default), nothing at pace 0, and never a negative time."""
    plan = plan_prune(days=30, keep_per_thread=None, thread_id=None, now=NOW)
    assert plan.rest_after(0.2) == pytest.approx(0.6)
    assert plan.rest_after(-1.0) == 0.0
    assert plan_prune(days=30, keep_per_thread=None, thread_id=None, now=NOW, pace=0).rest_after(5.0) == 0.0


@pytest.mark.parametrize("pace", [float("nan"), float("inf"), -0.5, 101.0])
def test_a_pace_out_of_range_is_refused(pace: float) -> None:
    """--pace takes 0 to 100: nan, inf, negatives and more are one ConfigError naming the range."""
    with pytest.raises(ConfigError, match="--pace must be a number from 0 to 100"):
        plan_prune(days=30, keep_per_thread=None, thread_id=None, now=NOW, pace=pace)


@pytest.mark.both_layouts
def test_a_paced_prune_rests_after_each_step_in_proportion_to_it(store: LogStore, layout: str) -> None:
    """With a clock that moves one second a reading, every step after the first (a batch; partitioned: a
    partition detached, a counting statement for both small partitions, the boundary's delete) is preceded
    by a rest of pace × one second, none follows the last, and the prune deletes what it would unpaced."""
    old = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=40)
    store.insert(records("a", 5, created_at=old) + records("a", 2, created_at=old - dt.timedelta(days=1)))
    ticks = itertools.count()
    rests: list[float] = []
    plan = PrunePlan(dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=30), None, None, batch_size=3, pace=2.0)
    result = run_prune(store, plan, clock=lambda: float(next(ticks)), sleep=rests.append)
    assert result.deleted == 7 and store.count() == 0
    steps = ["3 rows", "3 rows", "1 row"] if layout == "plain" else ["detach", "detach", "count", "no boundary row"]
    assert rests == [2.0] * (len(steps) - 1)
