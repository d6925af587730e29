"""The viewer's pure model: filters, layout, follow, search and the display helpers."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import examples
from logctl.core.activity_counter import ActivityCounter
from logctl.core.patterns import compile_pattern
from logctl.core.plain_line import escape_newlines, format_plain
from logctl.core.times import format_time, next_time_mode, parse_since, zone_label
from logctl.core.merge import Marker
from logctl.core.records import LogRecord
from logctl.core.view import Filter, ViewModel
from logctl.errors import ConfigError
from logctl.tail.client import DbStatus
from logctl.tail.plain import PlainPrinter
from logctl.tail.settings import TailSettings
from logctl.tail.status_bar import StatusInfo, status_line

T0 = dt.datetime(2026, 11, 30, 10, 30, 0, 123456, tzinfo=dt.timezone.utc)
CET = dt.timezone(dt.timedelta(hours=1), "CET")


def r(message: str, level: str = "INFO", seconds: float = 0) -> LogRecord:
    return LogRecord(thread_id="t", message=message, level=level, created_at=T0 + dt.timedelta(seconds=seconds))


def model(*records: LogRecord) -> ViewModel:
    vm = ViewModel()
    vm.append(records)
    return vm


def test_filter_hides_without_discarding() -> None:
    """A filter hides entries; clearing it shows them all again; markers always show."""
    vm = model(r("a", "DEBUG"), r("b", "INFO"), r("c", "WARN"), r("d", "ERROR"))
    vm.append([Marker("reconnected: 0 records caught up")])
    vm.set_filter(Filter(min_level="WARN"))
    assert [vm.entry(p) for p in range(len(vm.visible))][-1] == Marker("reconnected: 0 records caught up")
    assert len(vm.visible) == 3
    vm.set_filter(Filter(include=compile_pattern("b|c"), exclude=compile_pattern("c")))
    assert [getattr(vm.entry(p), "message", None) for p in range(len(vm.visible))] == ["b", None]
    vm.set_filter(Filter())
    assert len(vm.visible) == 5


def test_multiline_records_stay_whole_and_wrap_counts_lines() -> None:
    """A traceback takes one line per line; with wrap, long lines take several."""
    vm = model(r("one"), r("Traceback:\n  File x\nValueError: boom\n"), r("x" * 25))
    vm.set_layout(width=20, prefix=10)
    assert vm.total_lines == 5
    assert vm.locate(1) == (1, 0) and vm.locate(3) == (1, 2) and vm.locate(4) == (2, 0)
    assert vm.locate(5) is None
    vm.set_layout(wrap=True)
    assert vm.total_lines == 1 + (1 + 1 + 2) + 3  # "ValueError: boom" is 16 cells in a 10-cell column
    assert vm.span(2) == (5, 3)


def test_follow_pause_counts_new_and_resume() -> None:
    """While paused, visible arrivals are counted as new; resume clears the count and selects the end."""
    vm = model(r("a"), r("b"))
    assert vm.follow and vm.selected == 1
    vm.select(0)
    assert not vm.follow
    vm.append([r("c"), r("d", "DEBUG")])
    assert vm.new_count == 2 and vm.selected == 0
    vm.set_filter(Filter(min_level="INFO"))
    vm.append([r("e", "DEBUG")])
    assert vm.new_count == 2
    vm.resume()
    assert vm.follow and vm.new_count == 0 and vm.selected == len(vm.visible) - 1


def test_search_and_error_navigation_wrap_around() -> None:
    """n/N and e/E step through matches and errors from the selection, wrapping."""
    vm = model(r("alpha"), r("boom", "ERROR"), r("beta alpha"), r("gamma"), r("bang", "ERROR"))
    vm.set_search(compile_pattern("alpha"))
    assert vm.match_count == 2
    vm.select(0)
    assert vm.next_match() == 2
    vm.select(2)
    assert vm.next_match() == 0
    assert vm.next_match(forward=False) == 0
    assert vm.next_error() == 4
    vm.select(4)
    assert vm.next_error() == 1
    assert vm.next_error(forward=False) == 1
    vm.append([r("alpha again")])
    assert vm.match_count == 3


def test_filter_keeps_selection_on_the_same_record() -> None:
    """Changing the filter keeps the selected record selected when it stays visible."""
    vm = model(r("a", "DEBUG"), r("b", "ERROR"), r("c", "DEBUG"), r("d", "ERROR"))
    vm.select(1)
    vm.set_filter(Filter(min_level="ERROR"))
    assert vm.selected_entry == vm.entries[1]


def test_prepend_keeps_selection_and_layout() -> None:
    """Older records go on top; the selected record stays selected."""
    vm = model(r("c"), r("d"))
    vm.select(0)
    vm.prepend([r("a"), r("b\nb2")])
    assert vm.selected_entry == vm.entries[2]
    assert vm.total_lines == 5
    assert vm.records_loaded == 4


@settings(max_examples=examples(100), deadline=None)
@given(messages=st.lists(st.text(alphabet="ab\n ", max_size=30), max_size=30),
       width=st.integers(1, 12), prefix=st.integers(0, 5), wrap=st.booleans())
def test_layout_lines_add_up(messages: list[str], width: int, prefix: int, wrap: bool) -> None:
    """Every screen line maps to exactly one entry line, in order, however the layout is set."""
    vm = model(*(r(m) for m in messages))
    vm.set_layout(width=width, prefix=prefix, wrap=wrap)
    seen = [vm.locate(y) for y in range(vm.total_lines)]
    expected = [(p, k) for p in range(len(vm.visible)) for k in range(vm.line_count(vm.entry(p)))]
    assert seen == expected


def test_time_modes_and_zone_labels() -> None:
    """Local, UTC and relative times, and a label naming the zone."""
    assert format_time(T0, "utc", tz=CET) == "2026-11-30 10:30:00.123"
    assert format_time(T0, "local", tz=CET) == "2026-11-30 11:30:00.123"
    assert format_time(T0, "local", tz=CET, iso=True) == "2026-11-30T11:30:00.123+01:00"
    assert format_time(T0, "utc", tz=CET, iso=True) == "2026-11-30T10:30:00.123Z"
    later = T0 + dt.timedelta(hours=26, seconds=3.5)
    assert format_time(later, "relative", tz=CET, origin=T0) == "+26:00:03.500"
    assert format_time(T0, "relative", tz=CET, origin=later) == "-26:00:03.500"
    assert format_time(None, "utc", tz=CET) == "-"
    assert zone_label("utc", tz=CET, now=T0) == "UTC"
    assert zone_label("local", tz=CET, now=T0) == "local CET (UTC+01:00)"
    assert zone_label("relative", tz=CET, now=T0, origin=T0).startswith("relative to the first record, 2026-11-30")
    assert [next_time_mode(m) for m in ("local", "utc", "relative")] == ["utc", "relative", "local"]


def test_parse_since() -> None:
    """Durations count back from now; ISO times are absolute; garbage is a ConfigError."""
    assert parse_since("10m", T0) == T0 - dt.timedelta(minutes=10)
    assert parse_since("2h", T0) == T0 - dt.timedelta(hours=2)
    assert parse_since("1.5d", T0) == T0 - dt.timedelta(hours=36)
    assert parse_since("2026-11-30T09:00:00", T0) == dt.datetime(2026, 11, 30, 9, tzinfo=dt.timezone.utc)
    with pytest.raises(ConfigError, match="--since 'yesterday'"):
        parse_since("yesterday", T0)


def test_patterns_use_smart_case() -> None:
    """Lower-case patterns ignore case; any capital makes them case-sensitive; bad regexes are named."""
    low = compile_pattern("error")
    assert low is not None and low.search("ERROR here")
    exact = compile_pattern("Error")
    assert exact is not None and not exact.search("ERROR")
    assert compile_pattern("") is None
    with pytest.raises(ConfigError, match="not a valid regular expression"):
        compile_pattern("(", what="--grep")


def test_plain_line_is_one_line_with_optional_colour() -> None:
    """Plain output is one line per record; colour only adds ANSI codes."""
    rec = r("Traceback:\n  boom\n", "ERROR")
    assert format_plain(rec, mode="utc", tz=CET) == "2026-11-30T10:30:00.123Z ERROR Traceback:\\n  boom"
    coloured = format_plain(rec, mode="utc", tz=CET, color=True)
    assert "\x1b[1;31mERROR\x1b[0m" in coloured
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == format_plain(rec, mode="utc", tz=CET)
    assert escape_newlines("a\r\nb") == "a\\nb"


def test_activity_counts_per_level_and_forgets_old_buckets() -> None:
    """The sparkline series counts records per second per level over the window."""
    counter = ActivityCounter(window=5)
    counter.add([r("a", "ERROR", -1), r("b", "ERROR", -1), r("c", "INFO", 0), r("old", "INFO", -60)], T0)
    series = counter.series(T0)
    assert series["ERROR"] == [0, 0, 0, 2, 0]
    assert series["INFO"] == [0, 0, 0, 0, 1]
    assert counter.total(T0 + dt.timedelta(seconds=10)) == 0


def test_heap_freezer_freezes_once_per_batch_of_records() -> None:
    """HeapFreezer calls gc.freeze() once ``every`` records have been absorbed, not before."""
    import gc

    from logctl.gc_policy import HeapFreezer

    freezer = HeapFreezer(every=10)
    try:
        assert not freezer.absorbed(4) and not freezer.absorbed(5)
        keep = [[i] for i in range(100)]  # new objects that a freeze moves to the permanent generation
        before = gc.get_freeze_count()
        assert freezer.absorbed(1)
        assert gc.get_freeze_count() > before and keep
        assert not freezer.absorbed(9)
    finally:
        gc.unfreeze()


def test_only_gc_policy_touches_the_garbage_collector() -> None:
    """No module of logctl but gc_policy imports gc: process-wide GC policy has one home."""
    import ast
    from pathlib import Path

    import logctl

    root = Path(logctl.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if "gc" in names and path.name != "gc_policy.py":
                offenders.append(str(path.relative_to(root)))
    assert offenders == []


def test_view_changed_messages_coalesce_and_others_do_not() -> None:
    """A queued ViewChanged is replaced by a newer one (one redraw); data-carrying messages never are."""
    from logctl.tail.messages import EntriesArrived, ViewChanged

    assert ViewChanged().can_replace(ViewChanged())
    assert not ViewChanged().can_replace(EntriesArrived([]))
    assert not EntriesArrived([]).can_replace(EntriesArrived([]))


def test_status_line_says_one_record_and_one_match_in_the_singular() -> None:
    """The status bar reads "1 record" and "1 match", and "12,345 records" with separators."""
    vm = model(r("alpha"))
    vm.set_search(compile_pattern("alpha"))
    line = status_line(StatusInfo(), vm, 0.0).plain
    assert "  1 record  " in line and "1 records" not in line
    assert "/alpha/ 1 match" in line and "1 matches" not in line
    many = model(*(r(f"m{i}") for i in range(12_345)))
    assert "  12,345 records" in status_line(StatusInfo(), many, 0.0).plain


def test_plain_notes_one_record_waiting_in_the_singular() -> None:
    """tail --plain says "(1 record waiting)" when the hub's database is down with one record queued."""
    err = io.StringIO()
    printer = PlainPrinter(TailSettings(("t",)), io.StringIO(), err, None)
    printer.event(DbStatus(False, 1))
    printer.event(DbStatus(False, 2))
    assert "(1 record waiting)" in err.getvalue() and "(2 records waiting)" in err.getvalue()
    assert "1 records" not in err.getvalue()
