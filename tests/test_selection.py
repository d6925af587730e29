"""Selections: the value, its wire frames and its HTTP route, checked without I/O."""

from __future__ import annotations

import json

import pytest

from logctl.core.cursor import Cursor
from logctl.core.protocol import (
    LiveRecords, SelectionSubscribe, SelectionUnsubscribe, Subscribe, Subscribed, ThreadStarted, parse_frame,
    selection_frame, subscriber_event,
)
from logctl.core.routes import HttpRequest, Refusal, SelectionHistory, route
from logctl.core.selection import Selection, glob_regex, too_many_threads
from logctl.errors import ProtocolError


def test_a_selection_keeps_each_thread_once_in_order_and_needs_threads_or_a_glob() -> None:
    """Duplicates go, order stays; an empty selection, a bad id or a bad glob is a precise ProtocolError."""
    assert Selection(("b", "a", "b")).threads == ("b", "a")
    assert Selection.one("x").single == "x"
    assert Selection(("x",), "y*").single is None
    for bad, code in [((), "bad_selection"), (("",), "bad_thread_id"), (("a\x00",), "bad_thread_id"),
                      (("x" * 257,), "bad_thread_id")]:
        with pytest.raises(ProtocolError) as err:
            Selection(bad)
        assert err.value.code == code
    with pytest.raises(ProtocolError) as err:
        Selection(("a", ""))
    assert "threads[1]" in str(err.value)
    for glob in ["", "x" * 257, "a\x00"]:
        with pytest.raises(ProtocolError) as err:
            Selection((), glob)
        assert err.value.code == "bad_match"


def test_a_glob_matches_whole_ids_with_star_and_question_mark_only() -> None:
    """``*`` any run, ``?`` one character, everything else literal (``[``, ``%``, ``_``, ``.``)."""
    s = Selection((), "build-*")
    assert s.matches("build-1") and s.matches("build-") and not s.matches("xbuild-1") and not s.matches("build")
    assert Selection((), "a?c").matches("abc") and not Selection((), "a?c").matches("ac")
    for literal in ["[ab]", "50%", "a_b", "a.b", "a\\b"]:
        assert glob_regex(literal).fullmatch(literal) is not None
    assert glob_regex("[ab]").fullmatch("a") is None and glob_regex("a.b").fullmatch("axb") is None
    assert Selection(("named",), "z*").matches("named")
    assert glob_regex("a*").fullmatch("a\nb") is not None


def test_selection_frames_round_trip_and_are_told_apart_from_single_thread_frames() -> None:
    """A frame with ``sub`` is a selection's; with ``thread_id`` one thread's; never both."""
    sel = Selection(("a", "b"), "build-*")
    frame = parse_frame(selection_frame("s1", sel, Cursor(5, 6)))
    assert frame == SelectionSubscribe("s1", sel, Cursor(5, 6))
    assert parse_frame(json.dumps({"type": "subscribe", "sub": "s", "match": "x*", "cursor": "now"})) == \
        SelectionSubscribe("s", Selection((), "x*"), None, now=True)
    assert parse_frame('{"type":"unsubscribe","sub":"s"}') == SelectionUnsubscribe("s")
    assert isinstance(parse_frame('{"type":"subscribe","thread_id":"a"}'), Subscribe)
    assert subscriber_event({"type": "subscribed", "sub": "s", "threads": ["a", 3, "b"]}) == Subscribed("s", ("a", "b"))
    assert subscriber_event({"type": "thread_started", "sub": "s", "thread_id": "n"}) == ThreadStarted("s", "n")
    live = subscriber_event({"type": "records", "sub": "s", "records": [{"thread_id": "a", "message": "m", "cursor": "1-2"}]})
    assert isinstance(live, LiveRecords) and live.sub == "s" and live.records[0].thread_id == "a"


@pytest.mark.parametrize(("frame", "code", "words"), [
    ({"type": "subscribe", "sub": "s", "thread_id": "a", "threads": ["b"]}, "bad_frame", "not both"),
    ({"type": "subscribe", "threads": ["a"]}, "bad_sub", "needs \"sub\""),
    ({"type": "subscribe", "sub": "", "threads": ["a"]}, "bad_sub", "1 to 64"),
    ({"type": "subscribe", "sub": "x" * 65, "threads": ["a"]}, "bad_sub", "1 to 64"),
    ({"type": "subscribe", "sub": 7, "threads": ["a"]}, "bad_sub", "1 to 64"),
    ({"type": "subscribe", "sub": "s"}, "bad_selection", "at least one"),
    ({"type": "subscribe", "sub": "s", "threads": "a"}, "bad_selection", "a list"),
    ({"type": "subscribe", "sub": "s", "threads": ["a", 5]}, "bad_thread_id", "threads[1]"),
    ({"type": "subscribe", "sub": "s", "threads": ["a"] * 10_001}, "too_many_threads", "at most 10000"),
    ({"type": "subscribe", "sub": "s", "match": ""}, "bad_match", "1 to 256"),
    ({"type": "subscribe", "sub": "s", "match": 5}, "bad_match", "1 to 256"),
    ({"type": "subscribe", "sub": "s", "match": "a*", "cursor": "x"}, "bad_cursor", "<txid>-<id>"),
    ({"type": "subscribe", "sub": "s", "match": "a*", "extra": 1}, "unknown_field", "extra"),
    ({"type": "unsubscribe", "sub": "s", "threads": ["a"]}, "unknown_field", "unsubscribe frame: threads"),
])
def test_bad_selection_frames_get_precise_errors(frame: dict[str, object], code: str, words: str) -> None:
    """Each malformed selection frame names what is wrong."""
    with pytest.raises(ProtocolError) as err:
        parse_frame(json.dumps(frame))
    assert err.value.code == code
    assert words in str(err.value)


def test_a_lone_surrogate_in_a_selection_is_invalid_utf8() -> None:
    """A sub or glob that no UTF-8 text can hold is refused, as for other fields."""
    for frame in ['{"type":"subscribe","sub":"\\ud800","match":"a"}', '{"type":"subscribe","sub":"s","match":"\\ud800"}']:
        with pytest.raises(ProtocolError) as err:
            parse_frame(frame)
        assert err.value.code == "invalid_utf8"


def test_the_selection_limit_error_names_the_option() -> None:
    """too_many_threads names the count, the limit and the serve option."""
    assert too_many_threads(Selection(("a", "b")), 2) is None
    error = too_many_threads(Selection(("a", "b", "c")), 2)
    assert error is not None and error.code == "too_many_threads"
    assert "3 threads" in str(error) and "--max-selection-threads" in str(error)


def get(target: str) -> object:
    return route(HttpRequest("GET", target))


def test_the_selection_history_route_takes_repeated_threads_and_a_glob() -> None:
    """GET /admin/logs?thread=a&thread=b&match=… becomes one SelectionHistory."""
    decision = get("/admin/logs?thread=a&thread=b%20c&match=build-*&limit=5&before=3-4")
    assert decision == SelectionHistory(Selection(("a", "b c"), "build-*"), 5, Cursor(3, 4), None)
    assert get("/admin/logs?match=x") == SelectionHistory(Selection((), "x"), 1000, None, None)


@pytest.mark.parametrize(("target", "code"), [
    ("/admin/logs", "bad_selection"),
    ("/admin/logs?limit=5", "bad_selection"),
    ("/admin/logs?thread=", "bad_thread_id"),
    ("/admin/logs?match=", "bad_match"),
    ("/admin/logs?match=a&match=b", "bad_query"),
    ("/admin/logs?thread=a&limit=0", "bad_limit"),
    ("/admin/logs?thread=a&before=1-1&after=1-1", "bad_query"),
    ("/admin/logs?thread=a&after=zz", "bad_cursor"),
    ("/admin/logs?thread=a&thread_id=b", "unknown_parameter"),
    ("/admin/logs?thread=%FF", "bad_query"),
])
def test_bad_selection_queries_are_precise_400s(target: str, code: str) -> None:
    """Every bad parameter of GET /admin/logs is a 400 with its own code."""
    decision = get(target)
    assert isinstance(decision, Refusal) and decision.status == 400 and decision.code == code, decision
