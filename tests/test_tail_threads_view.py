"""A tail of several threads, the pure parts: thread colours, the plain prefix, the header, show/hide."""

from __future__ import annotations

import datetime as dt
import io
import re
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logctl.core.merge import Marker
from logctl.core.records import LogRecord
from logctl.core.thread_tags import (
    MAX_TAG_WIDTH, THREAD_PALETTE, TagWidth, cells, describe_threads, fit_tag, plain_prefix, thread_colour,
)
from logctl.core.view import Filter, ViewModel
from logctl.errors import ConfigError
from logctl.tail.plain import PlainPrinter
from logctl.tail.settings import tail_settings
from logctl.tail.status_bar import StatusInfo, status_line

T0 = dt.datetime(2026, 11, 30, 10, 30, 0, tzinfo=dt.timezone.utc)
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def rec(thread: str, message: str, level: str = "INFO", seconds: int = 0) -> LogRecord:
    return LogRecord(thread_id=thread, message=message, level=level, created_at=T0 + dt.timedelta(seconds=seconds))


# -- colours -----------------------------------------------------------------------------


def _luminance(number: int) -> float:
    """Relative luminance (WCAG) of an xterm-256 cube colour."""
    levels = (0, 95, 135, 175, 215, 255)
    n = number - 16
    rgb = (levels[n // 36], levels[(n // 6) % 6], levels[n % 6])

    def linear(c: int) -> float:
        v = c / 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_every_palette_colour_reads_on_dark_and_on_light_terminals() -> None:
    """Each thread colour has a contrast ratio of at least 3 against black and against white."""
    assert len(set(THREAD_PALETTE)) == len(THREAD_PALETTE) >= 8
    for number in THREAD_PALETTE:
        assert 16 <= number < 232, number  # the colour cube: the same RGB in every terminal theme
        lum = _luminance(number)
        assert (lum + 0.05) / 0.05 >= 3.0, f"colour {number} is too dark on black"
        assert 1.05 / (lum + 0.05) >= 3.0, f"colour {number} is too light on white"


@given(st.text(min_size=1, max_size=40))
def test_a_threads_colour_is_a_palette_colour_and_always_the_same(thread: str) -> None:
    """thread_colour is a pure function of the id, into the palette."""
    assert thread_colour(thread) in THREAD_PALETTE
    assert thread_colour(thread) == thread_colour(str(thread))


def test_colours_are_stable_across_processes() -> None:
    """A new interpreter (another hash seed) gives the same colours: no salted hash()."""
    names = ["demo-build", "demo-etl", "demo-agent", "t1", "ünï"]
    code = "from logctl.core.thread_tags import thread_colour as c; print([c(n) for n in %r])" % (names,)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONHASHSEED": "12345", "PATH": ""}, timeout=60)
    assert out.stdout.strip() == str([thread_colour(n) for n in names])


def test_the_demo_threads_get_three_different_colours() -> None:
    """`logctl serve --demo`'s three threads are told apart by colour."""
    assert len({thread_colour(t) for t in ("demo-build", "demo-etl", "demo-agent")}) == 3


# -- tags and the plain prefix ----------------------------------------------------------


def test_fit_tag_pads_cuts_and_shows_controls() -> None:
    """A tag is padded to the width, cut with … past it (wide characters counted as two), controls visible."""
    assert fit_tag("etl", 6) == "etl   "
    assert fit_tag("a-very-long-thread", 8) == "a-very-…"
    assert cells(fit_tag("日本語のスレッド", 7)) == 7 and fit_tag("日本語のスレッド", 7).startswith("日本語…")
    assert fit_tag("x\x1b[2J", 10) == "x\\x1b[2J  "


def test_tag_width_is_the_widest_seen_so_far_and_bounded() -> None:
    """The column only grows, reports when it does, and never passes its limit."""
    tags = TagWidth(["ab"])
    assert tags.width == 2
    assert tags.see("abcd") and tags.width == 4
    assert not tags.see("x") and not tags.see("abcd") and tags.width == 4
    assert tags.see("y" * 100) and tags.width == MAX_TAG_WIDTH
    assert not tags.see("z" * 200) and tags.width == MAX_TAG_WIDTH


def test_plain_prefix_is_thread_bar_and_coloured_only_when_asked() -> None:
    """`thread │ ` padded; with colour, the tag in its 256-colour SGR and nothing else changed."""
    assert plain_prefix("etl", 5, color=False) == "etl   │ "
    coloured = plain_prefix("etl", 5, color=True)
    assert f"\x1b[38;5;{thread_colour('etl')}m" in coloured
    assert ANSI.sub("", coloured) == "etl   │ "


def _printer(*threads: str, match: str | None = None, color: str = "never") -> tuple[PlainPrinter, io.StringIO]:
    out = io.StringIO()
    settings = tail_settings(list(threads), match=match, color=color, server="ws://127.0.0.1:1")
    return PlainPrinter(settings, out, io.StringIO(), None), out


def test_plain_lines_of_several_threads_carry_the_prefix_padded_to_the_widest_seen() -> None:
    """With a glob, each line starts `thread │`; the column widens when a longer id arrives and stays wide."""
    printer, out = _printer(match="b-*")
    printer.entries([rec("b-1", "one"), rec("b-22", "two", seconds=1)])
    printer.entries([rec("b-1", "three", seconds=2)])
    assert out.getvalue().splitlines() == [
        "b-1 │ 2026-11-30T10:30:00.000Z INFO  one",
        "b-22 │ 2026-11-30T10:30:01.000Z INFO  two",
        "b-1  │ 2026-11-30T10:30:02.000Z INFO  three",
    ]


def test_named_threads_set_the_column_width_from_the_start() -> None:
    """`tail a bbbb`: the names asked for size the column before any record arrives."""
    printer, out = _printer("a", "bbbb")
    printer.entries([rec("a", "first")])
    assert out.getvalue() == "a    │ 2026-11-30T10:30:00.000Z INFO  first\n"


def test_a_single_thread_tail_has_no_prefix_and_json_is_unchanged() -> None:
    """One thread: lines as before. --json: the record's JSON only (it carries thread_id)."""
    printer, out = _printer("a")
    printer.entries([rec("a", "first")])
    assert out.getvalue() == "2026-11-30T10:30:00.000Z INFO  first\n"
    out = io.StringIO()
    several = PlainPrinter(tail_settings(["a", "b"], json=True, server="ws://127.0.0.1:1"), out, io.StringIO(), None)
    several.entries([rec("b", "x")])
    assert out.getvalue().startswith('{"id": null, "thread_id": "b", "message": "x"')


def test_coloured_plain_lines_colour_the_tag() -> None:
    """--color always: the tag is coloured and the rest of the line is what it was."""
    printer, out = _printer("a", "b", color="always")
    printer.entries([rec("b", "x", "WARN")])
    line = out.getvalue().rstrip("\n")
    assert line.startswith(f"\x1b[38;5;{thread_colour('b')}mb\x1b[0m")
    assert ANSI.sub("", line) == "b │ 2026-11-30T10:30:00.000Z WARN  x"


# -- what the header says ----------------------------------------------------------------


def test_describe_threads_counts_and_lists_and_cuts_at_whole_names() -> None:
    """The header names one thread as is, counts several, and cuts a long list at whole names with `+N more`."""
    assert describe_threads(["t1"], None, ["t1"]) == "t1"
    assert describe_threads(["b", "a"], None, []) == "2 threads: a, b"
    demo = ["demo-etl", "demo-build", "demo-agent"]
    assert describe_threads([], "demo-*", demo) == "demo-* (3 threads: demo-agent, demo-build, demo-etl)"
    assert describe_threads([], "demo-*", demo, width=50) == "demo-* (3 threads: demo-agent, +2 more)"
    assert describe_threads([], "demo-*", demo, width=51) == "demo-* (3 threads: demo-agent, demo-build, +1 more)"
    assert describe_threads([], "demo-*", demo, width=52) == "demo-* (3 threads: demo-agent, demo-build, demo-etl)"
    assert describe_threads([], "x-*", []) == "x-* (0 threads)"
    many = [f"build-{i:03}" for i in range(40)]
    text = describe_threads([], "build-*", many, width=60)
    assert text.startswith("build-* (40 threads: build-000, build-001, ") and text.endswith(" more)")
    assert len(text) <= 60
    assert describe_threads(["a\x1b]0;x\x07"], "b*", []) == "a\\x1b]0;x\\x07 b* (1 thread: a\\x1b]0;x\\x07)"


# -- show and hide in the view -----------------------------------------------------------


def three_threads() -> ViewModel:
    vm = ViewModel(count_threads=True)
    vm.append([rec(t, f"{t}-{i}", seconds=i) for i in range(6) for t in ("a", "b", "c")])
    return vm


def messages(vm: ViewModel) -> list[str]:
    out = []
    for position in range(len(vm.visible)):
        entry = vm.entry(position)
        out.append(entry.text if isinstance(entry, Marker) else entry.message)
    return out


def test_hiding_a_thread_filters_it_out_and_showing_it_puts_it_back_in_place() -> None:
    """Hidden threads' records stay loaded; shown again, they are where they were, in order."""
    vm = three_threads()
    before = messages(vm)
    vm.set_filter(vm.filter.showing("b", False))
    assert messages(vm) == [m for m in before if not m.startswith("b-")]
    assert vm.records_loaded == 18 and vm.threads == {"a": 6, "b": 6, "c": 6}
    vm.append([rec("b", "b-late"), Marker("reconnected: 0 records caught up"), rec("a", "a-late")])
    assert messages(vm)[-2:] == ["reconnected: 0 records caught up", "a-late"]
    vm.set_filter(vm.filter.showing("b", True))
    assert messages(vm) == [*before, "b-late", "reconnected: 0 records caught up", "a-late"]


def test_only_one_thread_and_other_filters_combine() -> None:
    """`only` hides every other thread; a level filter applies on top; describe() says what is hidden."""
    vm = three_threads()
    vm.set_filter(Filter(min_level="INFO").only("c", vm.threads))
    assert set(m.split("-")[0] for m in messages(vm)) == {"c"}
    assert vm.filter.describe() == "level≥INFO hiding 2 threads"
    vm.set_filter(vm.filter.showing("a", True))
    assert vm.filter.describe() == "level≥INFO hiding b"
    assert set(m.split("-")[0] for m in messages(vm)) == {"a", "c"}


def test_selection_stays_on_the_same_record_when_a_thread_is_hidden() -> None:
    """Hiding another thread keeps the selected record; hiding its own thread moves to the next one shown."""
    vm = three_threads()
    vm.pause()
    vm.select(3)  # a-1
    chosen = vm.selected_entry
    vm.set_filter(vm.filter.showing("b", False))
    assert vm.selected_entry == chosen
    vm.set_filter(vm.filter.showing("b", True))
    vm.select(4)  # b-1
    vm.set_filter(vm.filter.showing("b", False))
    assert getattr(vm.selected_entry, "message", None) == "c-1"


@given(st.lists(st.tuples(st.sampled_from("abcd"), st.booleans()), max_size=12))
def test_any_sequence_of_toggles_shows_exactly_the_shown_threads(toggles: list[tuple[str, bool]]) -> None:
    """After any show/hide sequence, the visible records are those of the threads shown, in load order."""
    vm = ViewModel(count_threads=True)
    records = [rec(t, f"{t}{i}") for i in range(3) for t in "abcd"]
    vm.append(records)
    shown = set("abcd")
    for thread, on in toggles:
        vm.set_filter(vm.filter.showing(thread, on))
        (shown.add if on else shown.discard)(thread)
    assert [vm.entry(p) for p in range(len(vm.visible))] == [r for r in records if r.thread_id in shown]


def test_status_line_counts_the_threads_of_a_tail_of_several() -> None:
    """`12 records in 3 threads` (`in 3 of 5` while some followed threads have none loaded), the hidden ones
    in the filter part; one thread: as before."""
    vm = ViewModel(count_threads=True)
    vm.append([rec(t, "x") for t in "abcabcabcabc"])
    vm.set_filter(vm.filter.showing("b", False))
    line = status_line(StatusInfo(several=True), vm, 0.0).plain
    assert "12 records in 3 threads" in line and "filter hiding b (4 hidden)" in line
    assert "12 records in 3 of 5 threads" in status_line(StatusInfo(several=True, followed=5), vm, 0.0).plain
    assert " in 3 threads" not in status_line(StatusInfo(), vm, 0.0).plain


# -- settings ----------------------------------------------------------------------------


def test_settings_take_several_threads_and_a_glob() -> None:
    """Names are kept in order without repeats; a glob alone is fine; neither is a precise error."""
    settings = tail_settings(["b", "a", "b"], match="c-*", server="ws://127.0.0.1:1")
    assert settings.threads == ("b", "a") and settings.match == "c-*" and settings.several
    assert settings.describe() == "threads matching 'c-*' and threads 'b', 'a'"
    one = tail_settings("t1", server="ws://127.0.0.1:1")
    assert not one.several and one.thread_id == "t1" and one.describe() == "thread 't1'"
    with pytest.raises(ConfigError, match="name a thread"):
        tail_settings([], server="ws://127.0.0.1:1")
    with pytest.raises(ConfigError, match="--match needs a pattern"):
        tail_settings([], match="", server="ws://127.0.0.1:1")
    with pytest.raises(ConfigError, match="thread_id is empty"):
        tail_settings(["a", ""], server="ws://127.0.0.1:1")
