"""Counts in messages people read say "1 record", never "1 records"."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from logctl.cli.render import render_prune_result
from logctl.cli.render_spool import render_replay_result
from logctl.client.replay import ReplayResult
from logctl.core.cursor import ORIGIN
from logctl.core.fanout import FanOut
from logctl.core.prune_plan import PrunePlan
from logctl.core.protocol.hub import Publish, RecordError, publish_error_frames
from logctl.core.wording import plural
from logctl.errors import InvalidRecord, ProtocolError
from logctl.store.prune import PruneResult


def test_plural_can_group_thousands() -> None:
    """plural(..., grouped=True) writes the count with separators, and still says "1 record"."""
    assert plural(12_345, "record", grouped=True) == "12,345 records"
    assert plural(1, "match", "matches", grouped=True) == "1 match"


def test_prune_results_say_one_row() -> None:
    """prune says "would delete 1 row" and "deleted 1 row in …"."""
    plan = PrunePlan(dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), None, None)
    assert render_prune_result(plan, PruneResult(1, 0, 0.0, True)).startswith("dry run: would delete 1 row (")
    assert render_prune_result(plan, PruneResult(1, 1, 0.01, False)).startswith("deleted 1 row in 0.01s")


def test_a_replay_of_one_record_says_one_record() -> None:
    """spool replay says "replayed 1 record of …"."""
    text = render_replay_result(ReplayResult(producers=1, records=1, committed=1, rejected=0, damaged_segments=0,
                                             damaged_bytes=0, live=0, left=0))
    assert text.startswith("replayed 1 record of 1 stopped producer(s)")


def test_a_summary_of_one_more_rejected_record_is_singular() -> None:
    """The too_many_errors summary for one record past the limit says "1 more record … was rejected"."""
    errors = [RecordError(i, i, InvalidRecord("bad_level", "bad level")) for i in range(3)]
    frames = [json.loads(f) for f in publish_error_frames(Publish("p", 1, [{}] * 3), errors, 2)]
    assert frames[-1]["count"] == 1
    assert frames[-1]["message"].startswith("1 more record of this frame was rejected")


def test_a_subscription_limit_of_one_says_one_subscription() -> None:
    """Past --max-subscriptions 1 the error says "already has 1 subscription"."""
    f = FanOut(max_subscriptions=1)
    c = f.connect()
    f.subscribe(c, "a", ORIGIN)
    with pytest.raises(ProtocolError, match="already has 1 subscription, the hub's limit"):
        f.subscribe(c, "b", ORIGIN)
