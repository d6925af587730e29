"""GET /admin/runs on a real hub, `logctl threads` on a pipe, and the pure pieces behind them."""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse

import pytest
from helpers import HubProcess, get_json, query, run_cli, sql_insert

from logctl.core import routes
from logctl.core.protocol.runs import RunsCursor, RunSummary, glob_to_like, parse_runs, runs_body, RunsPage
from logctl.core.runs_table import format_age, runs_table

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _runs(hub: HubProcess, **params: str) -> tuple[int, dict[str, object]]:
    status, body = get_json(f"{hub.http}/admin/runs?{urllib.parse.urlencode(params)}")
    assert isinstance(body, dict)
    return status, body


@pytest.mark.both_layouts
def test_runs_lists_threads_newest_activity_first_with_levels(dsn: str, hub: HubProcess) -> None:
    """The body has each thread's times, count and per-level counts, newest last_at first, NULL threads left out."""
    sql_insert(dsn, [("old", "a", NOW - dt.timedelta(days=1)), ("new", "b", NOW), (None, "c", NOW)])
    query(dsn, "INSERT INTO thread_logs (thread_id, message, level, created_at) VALUES ('new', 'e', 'ERROR', %s)", (NOW,))
    status, body = _runs(hub)
    assert status == 200, body
    assert body["count"] == 2 and body["before"] is None
    assert body["runs"] == [
        {"thread_id": "new", "first_at": NOW.isoformat(), "last_at": NOW.isoformat(), "count": 2,
         "levels": {"DEBUG": 0, "INFO": 1, "WARN": 0, "ERROR": 1}},
        {"thread_id": "old", "first_at": (NOW - dt.timedelta(days=1)).isoformat(),
         "last_at": (NOW - dt.timedelta(days=1)).isoformat(), "count": 1,
         "levels": {"DEBUG": 0, "INFO": 1, "WARN": 0, "ERROR": 0}},
    ]


def test_since_and_match_filter_and_match_escapes_like_characters(dsn: str, hub: HubProcess) -> None:
    """since= keeps threads active since then; match= is a glob where % and _ are literal."""
    now = dt.datetime.now(UTC)
    sql_insert(dsn, [("build-1", "a", now), ("build-2", "a", now - dt.timedelta(hours=3)), ("deploy", "a", now),
                     ("b%x", "a", now), ("bzx", "a", now), ("a_b", "a", now), ("axb", "a", now)])
    assert [r["thread_id"] for r in _runs(hub, since="1h", match="build-*")[1]["runs"]] == ["build-1"]  # type: ignore[attr-defined]
    assert {r["thread_id"] for r in _runs(hub, match="build-?")[1]["runs"]} == {"build-1", "build-2"}  # type: ignore[attr-defined]
    assert [r["thread_id"] for r in _runs(hub, match="b%x")[1]["runs"]] == ["b%x"]  # type: ignore[attr-defined]
    assert [r["thread_id"] for r in _runs(hub, match="a_b")[1]["runs"]] == ["a_b"]  # type: ignore[attr-defined]
    iso = (now - dt.timedelta(hours=1)).isoformat()
    assert "build-2" not in {r["thread_id"] for r in _runs(hub, since=iso)[1]["runs"]}  # type: ignore[attr-defined]


def test_paging_with_before_misses_and_repeats_no_thread(dsn: str, hub: HubProcess) -> None:
    """Pages of 7 over 50 threads (ties on last_at and NULL times included) give every thread exactly once, in order."""
    rows: list[tuple[str | None, str, dt.datetime | None]] = [
        (f"t{i:02d}", "m", NOW - dt.timedelta(minutes=i // 3)) for i in range(45)
    ]
    rows += [(f"n{i}", "m", None) for i in range(5)]
    sql_insert(dsn, rows)
    seen: list[str] = []
    params = {"limit": "7"}
    for _ in range(20):
        status, body = _runs(hub, **params)
        assert status == 200, body
        seen += [r["thread_id"] for r in body["runs"]]  # type: ignore[attr-defined]
        if body["before"] is None:
            break
        params["before"] = str(body["before"])
    expected = query(dsn, "SELECT thread_id FROM (SELECT thread_id, max(created_at) AS last FROM thread_logs GROUP BY thread_id) s"
                          " ORDER BY last DESC NULLS LAST, thread_id DESC")
    assert seen == [row[0] for row in expected]
    assert len(seen) == 50


@pytest.mark.parametrize(("query_string", "code"), [
    ("limit=0", "bad_limit"), ("limit=1001", "bad_limit"), ("limit=x", "bad_limit"),
    ("since=yesterday", "bad_since"), ("match=", "bad_match"), ("before=nocursor", "bad_cursor"),
    ("before=notatime|t1", "bad_cursor"), ("thread=x", "unknown_parameter"), ("limit=1&limit=2", "bad_query"),
])
def test_bad_parameters_are_400_with_a_precise_code(query_string: str, code: str) -> None:
    """Each bad parameter of /admin/runs is refused by routing with 400 and its own error code."""
    decision = routes.route(routes.HttpRequest("GET", f"/admin/runs?{query_string}"))
    assert isinstance(decision, routes.Refusal)
    assert (decision.status, decision.code) == (400, code)


def test_the_hub_answers_bad_parameters_with_400_json(hub: HubProcess) -> None:
    """A real hub answers a bad limit with 400 and the error body."""
    status, body = _runs(hub, limit="5000")
    assert status == 400 and body["error"]["code"] == "bad_limit"  # type: ignore[index]


def test_routing_parses_the_parameters() -> None:
    """limit, a duration since, a glob match and a cursor become a Runs route."""
    decision = routes.route(routes.HttpRequest("GET", "/admin/runs?limit=5&since=2h&match=build-*&before=%7Cx"))
    assert decision == routes.Runs(5, dt.timedelta(hours=2), "build-%", RunsCursor(None, "x"))
    assert routes.route(routes.HttpRequest("GET", "/admin/runs")) == routes.Runs()


def test_glob_to_like_escapes_like_metacharacters() -> None:
    """* and ? become % and _; a literal %, _ or backslash is escaped."""
    assert glob_to_like("a*b?c%d_e\\f") == "a%b_c\\%d\\_e\\\\f"


def test_the_body_round_trips_through_parse_runs() -> None:
    """parse_runs reads back what runs_body wrote, cursor included."""
    page = RunsPage((RunSummary("t", NOW, NOW, 3, {"DEBUG": 0, "INFO": 1, "WARN": 1, "ERROR": 1}),), RunsCursor(NOW, "t"))
    assert parse_runs(json.loads(json.dumps(runs_body(page)))) == page


def test_format_age_uses_the_largest_whole_unit() -> None:
    """Ages read 5s, 3m, 2h, 4d; the future reads 0s; no time reads -."""
    assert [format_age(NOW - d, NOW) for d in (
        dt.timedelta(seconds=5), dt.timedelta(minutes=3, seconds=59), dt.timedelta(hours=2, minutes=1), dt.timedelta(days=4, hours=23),
    )] == ["5s", "3m", "2h", "4d"]
    assert format_age(NOW + dt.timedelta(seconds=3), NOW) == "0s"
    assert format_age(None, NOW) == "-"


def test_the_table_aligns_columns_like_kubectl() -> None:
    """The table has the five headers and one aligned line per thread, errors and warnings from the levels."""
    runs = [
        RunSummary("demo-build", NOW, NOW - dt.timedelta(seconds=5), 120, {"ERROR": 2, "WARN": 0}),
        RunSummary("a-much-longer-thread", NOW, NOW - dt.timedelta(hours=3), 7, {"ERROR": 0, "WARN": 11}),
    ]
    assert runs_table(runs, NOW) == [
        "THREAD                 LAST ACTIVITY   RECORDS   ERRORS   WARNINGS",
        "demo-build             5s              120       2        0",
        "a-much-longer-thread   3h              7         0        11",
    ]


def test_threads_command_on_a_pipe_prints_json_lines(dsn: str, hub: HubProcess, cli_env: dict[str, str]) -> None:
    """`logctl threads` piped prints one JSON object per thread; `runs` is the same command; -n and --match apply."""
    now = dt.datetime.now(UTC)
    sql_insert(dsn, [(f"build-{i}", "m", now - dt.timedelta(minutes=i)) for i in range(5)] + [("deploy", "m", now)])
    result = run_cli(["threads", "--server", hub.url, "--match", "build-*", "-n", "3"], cli_env)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["thread_id"] for line in lines] == ["build-0", "build-1", "build-2"]
    assert lines[0]["count"] == 1 and lines[0]["levels"]["INFO"] == 1
    alias = run_cli(["runs", "--server", hub.url, "-n", "1000"], {**cli_env, "LOGCTL_SERVER": hub.url})
    assert alias.returncode == 0, alias.stderr
    assert len(alias.stdout.splitlines()) == 6


def test_threads_refuses_a_bad_since_in_one_line(cli_env: dict[str, str]) -> None:
    """A --since that is neither a duration nor a time is an error line before any request."""
    result = run_cli(["threads", "--since", "yesterday", "--server", "ws://127.0.0.1:9"], cli_env)
    assert result.returncode != 0
    assert "--since 'yesterday'" in result.stderr and "Traceback" not in result.stderr
