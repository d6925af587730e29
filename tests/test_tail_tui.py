"""The viewer, headless (Textual Pilot), against a real hub and a real PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import io
import json
import time
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from rich.console import Console

from textual.pilot import Pilot
from textual.widgets import Static

from helpers import HubProcess, free_port
from logctl.core.merge import Marker
from logctl.core.records import LogRecord
from logctl.store import LogStore
from logctl.tail import tail_settings
from logctl.tail.app import TailApp
from logctl.tail.detail import DetailScreen
from logctl.tail.help import HelpScreen
from logctl.tail.log_view import LogView
from logctl.tail.status_bar import StatusBar

CET = dt.timezone(dt.timedelta(hours=1), "CET")
T0 = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
LEVELS = ("DEBUG", "INFO", "WARN", "ERROR")


def recs(thread: str, start: int, n: int, **extra: object) -> list[LogRecord]:
    """Records ``m<start>``…, levels cycling DEBUG…ERROR, every tenth a two-line traceback."""
    return [
        LogRecord(
            thread_id=thread,
            message=f"m{i}" + ("\nTraceback: boom" if i % 10 == 9 else ""),
            level=LEVELS[i % 4],
            created_at=T0 + dt.timedelta(seconds=i),
            **extra,  # type: ignore[arg-type]
        )
        for i in range(start, start + n)
    ]


def asyncio_test(fn: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test in its own event loop (no pytest plugin needed)."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(fn(*args, **kwargs))

    return run


@pytest.fixture
def unused_port() -> int:
    """A TCP port on which nothing listens."""
    return free_port()


def app_for(hub: HubProcess, thread: str = "t1", **options: object) -> TailApp:
    return TailApp(tail_settings(thread, server=hub.url, **options), tz=CET)  # type: ignore[arg-type]


async def until(pilot: Pilot[None], condition: Callable[[], bool], timeout: float = 10) -> None:
    """Let the app run until ``condition`` holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.02)


def screen_text(view: LogView) -> str:
    return "\n".join(view.render_line(y).text for y in range(view.size.height))


def status_text(app: TailApp) -> str:
    return str(app.query_one(StatusBar).render())


def messages(view: LogView) -> list[str]:
    return [e.message for e in view.model.entries if isinstance(e, LogRecord)]


@asyncio_test
async def test_history_appears_then_live_records_arrive(hub: HubProcess, store: LogStore) -> None:
    """History is shown, live records follow with no gap or duplicate, and the state says live."""
    store.insert(recs("t1", 0, 40))
    app = app_for(hub)
    async with app.run_test(size=(100, 24)) as pilot:
        view = app.query_one(LogView)
        await until(pilot, lambda: view.model.records_loaded == 40 and "● live" in status_text(app))
        assert "2026-01-02 04:04:44.000" in screen_text(view)  # m39 in local time (CET)
        assert "times: local CET (UTC+01:00)" in str(app.query_one("#title").render())
        store.insert(recs("t1", 40, 25))
        await until(pilot, lambda: view.model.records_loaded == 65)
        assert messages(view) == [r.message for r in recs("t1", 0, 65)]
        await until(pilot, lambda: "m64" in screen_text(view))  # following: the newest is on screen
        assert view.model.follow


@asyncio_test
async def test_level_keys_and_regex_filters_hide_without_discarding(hub: HubProcess, store: LogStore) -> None:
    """1–4 set the minimum level; i/x filter by regex; clearing brings everything back."""
    store.insert(recs("t1", 0, 40))
    app = app_for(hub)
    async with app.run_test(size=(100, 24)) as pilot:
        view = app.query_one(LogView)
        await until(pilot, lambda: view.model.records_loaded == 40)
        await pilot.press("4")
        assert len(view.model.visible) == 10
        assert all(view.model.entry(p).level == "ERROR" for p in range(10))
        assert "level≥ERROR" in status_text(app)
        await pilot.press("1", "i", *"m1", "enter")
        assert {view.model.entry(p).message.split("\n")[0] for p in range(len(view.model.visible))} == {  # type: ignore[union-attr]
            "m1", *(f"m1{d}" for d in range(10))}
        await pilot.press("x", *"m1[0-8]", "enter")
        assert len(view.model.visible) == 2  # m1 and m19
        await pilot.press("i", "ctrl+u", "enter", "x", "ctrl+u", "enter")
        assert len(view.model.visible) == 40 and view.model.records_loaded == 40


@asyncio_test
async def test_search_highlights_and_n_steps_through_matches(hub: HubProcess, store: LogStore) -> None:
    """/ searches without hiding anything; n and N move between matches; e jumps to errors."""
    store.insert(recs("t1", 0, 40))
    app = app_for(hub)
    async with app.run_test(size=(100, 24)) as pilot:
        view = app.query_one(LogView)
        await until(pilot, lambda: view.model.records_loaded == 40)
        await pilot.press("slash", *"^m2[05]$", "enter")
        assert view.model.match_count == 2
        assert len(view.model.visible) == 40
        selected = view.model.selected_entry
        assert isinstance(selected, LogRecord) and selected.message == "m25"
        await pilot.press("N")
        assert view.model.selected_entry.message == "m20"  # type: ignore[union-attr]
        assert not view.model.follow
        await pilot.press("n")
        assert view.model.selected_entry.message == "m25"  # type: ignore[union-attr]
        await pilot.press("e")
        assert view.model.selected_entry.message.startswith("m27")  # type: ignore[union-attr]
        assert "2 matches" in status_text(app)
        await pilot.press("escape")
        assert view.model.search is None


@asyncio_test
async def test_scrolling_up_pauses_counts_new_and_f_resumes(hub: HubProcess, store: LogStore) -> None:
    """Moving up pauses follow and shows "▼ N new" for arrivals; f follows again."""
    store.insert(recs("t1", 0, 60))
    app = app_for(hub)
    async with app.run_test(size=(100, 24)) as pilot:
        view = app.query_one(LogView)
        await until(pilot, lambda: view.model.records_loaded == 60 and "● live" in status_text(app))
        await pilot.press("pageup", "pageup")
        assert not view.model.follow
        top = view.scroll_y
        store.insert(recs("t1", 60, 7))
        await until(pilot, lambda: view.model.records_loaded == 67)
        assert view.scroll_y == top  # the view did not jump
        assert view.model.new_count == 7
        await until(pilot, lambda: "▼ 7 new" in status_text(app))  # the status bar redraws on the next message
        await pilot.press("f")
        assert view.model.follow and view.model.new_count == 0
        await until(pilot, lambda: view.scroll_y == view.max_scroll_y and "m66" in screen_text(view))


@asyncio_test
async def test_wrap_and_time_modes(hub: HubProcess, store: LogStore) -> None:
    """w wraps long lines (whole records, more rows); t cycles local, UTC, relative with the zone named."""
    store.insert([LogRecord("t1", "x" * 150, "INFO", T0), LogRecord("t1", "short", "WARN", T0 + dt.timedelta(seconds=90))])
    app = app_for(hub)
    async with app.run_test(size=(100, 24)) as pilot:
        view = app.query_one(LogView)
        await until(pilot, lambda: view.model.records_loaded == 2)
        assert view.model.total_lines == 2
        await pilot.press("w")
        assert view.model.wrap and view.model.total_lines > 3
        assert "x" * 40 in screen_text(view).splitlines()[1]  # a continuation row
        await pilot.press("t")
        await until(pilot, lambda: "times: UTC" in str(app.query_one("#title").render()))
        await until(pilot, lambda: "2026-01-02 03:05:35.000" in screen_text(view))
        await pilot.press("t")
        await until(pilot, lambda: "relative to the first record, 2026-01-02 03:04:05.000 UTC" in str(app.query_one("#title").render()))
        await until(pilot, lambda: "+0:01:30.000" in screen_text(view))


@asyncio_test
async def test_detail_panel_and_copy(hub: HubProcess, store: LogStore) -> None:
    """Enter opens the record in full (JSON pretty-printed); c and C copy it as a line or JSON."""
    store.insert([LogRecord("t1", '{"step": 3, "ok": false}', "ERROR", T0)])
    app = app_for(hub)
    async with app.run_test(size=(100, 30)) as pilot:
        view = app.query_one(LogView)
        await until(pilot, lambda: view.model.records_loaded == 1)
        await pilot.press("C")
        copied = json.loads(app.clipboard)
        assert copied["message"] == '{"step": 3, "ok": false}' and copied["level"] == "ERROR" and copied["cursor"]
        await pilot.press("c")
        assert app.clipboard == '2026-01-02T03:04:05.000Z ERROR {"step": 3, "ok": false}'
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen) and bool(app.screen.query("#detail-body")))
        console = Console(width=90, file=io.StringIO(), color_system=None)
        console.print(app.screen.query_one("#detail-body", Static).content)
        body = console.file.getvalue()  # type: ignore[attr-defined]
        assert '"step": 3' in body and "cursor" in body
        await pilot.press("escape", "question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, HelpScreen))


@asyncio_test
async def test_scrolling_to_the_top_loads_older_history(hub: HubProcess, store: LogStore) -> None:
    """Above the oldest loaded record, older pages load (keyset before=), in order, once."""
    store.insert(recs("t1", 0, 120))
    app = app_for(hub, limit=30)
    async with app.run_test(size=(100, 24)) as pilot:
        view = app.query_one(LogView)
        await until(pilot, lambda: view.model.records_loaded == 30)
        assert view.more_above
        await pilot.press("home")
        await until(pilot, lambda: view.model.records_loaded == 120)
        assert messages(view) == [r.message for r in recs("t1", 0, 120)]
        assert not view.more_above


@asyncio_test
async def test_a_large_n_paints_the_newest_page_first_and_loads_the_rest_behind_it(hub: HubProcess, store: LogStore) -> None:
    """-n 5000 shows the newest page at once, then fills in older pages up to 5000, in order."""
    store.insert(recs("t1", 0, 6000))
    app = app_for(hub, limit=5000)
    async with app.run_test(size=(100, 24)) as pilot:
        view = app.query_one(LogView)
        await until(pilot, lambda: view.model.records_loaded == 5000, timeout=20)
        assert messages(view) == [r.message for r in recs("t1", 1000, 5000)]
        assert view.more_above and app.backfill == 0
        assert view.model.follow and "m5999" in screen_text(view)


@asyncio_test
async def test_unknown_thread_says_so_and_waits(hub: HubProcess, store: LogStore) -> None:
    """A thread with no records yet is named as such; its first records then appear."""
    app = app_for(hub, thread="later")
    async with app.run_test(size=(100, 24)) as pilot:
        await until(pilot, lambda: "has no records yet; waiting" in status_text(app) and "● live" in status_text(app))
        store.insert(recs("later", 0, 3))
        view = app.query_one(LogView)
        await until(pilot, lambda: view.model.records_loaded == 3 and "no records yet" not in status_text(app))


@asyncio_test
async def test_unreachable_hub_is_shown_and_retried(unused_port: int) -> None:
    """With no hub, the state says unreachable with a countdown; nothing crashes."""
    app = TailApp(tail_settings("t1", server=f"ws://127.0.0.1:{unused_port}"), tz=CET)
    async with app.run_test(size=(100, 24)) as pilot:
        await until(pilot, lambda: "hub unreachable, retrying" in status_text(app))
        assert "connection refused" in status_text(app).lower()


@asyncio_test
async def test_hub_restart_recovers_with_nothing_missing_or_doubled(hub: HubProcess, store: LogStore) -> None:
    """The hub goes away and comes back: the view reconnects, catches up and marks it."""
    store.insert(recs("t1", 0, 20))
    app = app_for(hub)
    async with app.run_test(size=(100, 24)) as pilot:
        view = app.query_one(LogView)
        await until(pilot, lambda: view.model.records_loaded == 20 and "● live" in status_text(app))
        await asyncio.to_thread(hub.stop)
        await until(pilot, lambda: "● live" not in status_text(app))
        store.insert(recs("t1", 20, 14))  # written while the hub is down
        await asyncio.to_thread(hub.start)
        await until(pilot, lambda: view.model.records_loaded == 34 and "● live" in status_text(app), timeout=20)
        store.insert(recs("t1", 34, 5))
        await until(pilot, lambda: view.model.records_loaded == 39)
        assert messages(view) == [r.message for r in recs("t1", 0, 39)]
        markers = [e.text for e in view.model.entries if isinstance(e, Marker)]
        assert markers == ["reconnected: 14 records caught up"]


def detail_text(app: TailApp) -> str:
    """The detail screen's body as a terminal would show it (no colour)."""
    console = Console(width=120, file=io.StringIO(), color_system=None)
    console.print(app.screen.query_one("#detail-body", Static).content)
    return console.file.getvalue()  # type: ignore[attr-defined,no-any-return]


@asyncio_test
async def test_markup_and_control_characters_in_data_are_shown_as_text(hub: HubProcess, store: LogStore) -> None:
    """A thread and producer id like ``[/x]`` and OSC/CSI/C1 in a message never crash or reach the terminal."""
    hostile = "[/x]\x1b]0;pwned\x07 \x1b]52;c;ZXZpbA==\x07 \x1b[2J\x9b6n [bold]"
    store.insert([LogRecord("[/x]", hostile, "ERROR", T0, producer_id="[/x]\x1b[31m", seq=1),
                  LogRecord("[/x]", '{"k": "\x9b2J"}', "INFO", T0 + dt.timedelta(seconds=1))])
    app = app_for(hub, thread="[/x]")
    async with app.run_test(size=(120, 30)) as pilot:
        view = app.query_one(LogView)
        await until(pilot, lambda: view.model.records_loaded == 2 and "● live" in status_text(app))
        title = str(app.query_one("#title").render())
        assert title.startswith("[/x]  ·  times:")
        assert "[/x]\\x1b]0;pwned\\x07 " in screen_text(view)
        await pilot.press("up", "enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen) and bool(app.screen.query("#detail-body")))
        body = detail_text(app)
        assert "[/x]\\x1b]0;pwned\\x07 \\x1b]52;c;ZXZpbA==\\x07 \\x1b[2J\\x9b6n [bold]" in body
        assert "[/x]\\x1b[31m  seq 1" in body
        assert "\x1b" not in body and "\x07" not in body and "\x9b" not in body
        await pilot.press("escape", "down", "enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen) and "2J" in detail_text(app))
        assert "\x9b" not in detail_text(app) and '"k": "\\u009b2J"' in detail_text(app)
        await pilot.press("escape")
        assert app.return_code is None and app.is_running


class OddHub:
    """A real WebSocket/HTTP server that speaks the hub's protocol but sends the given odd frames.

    Connection *n* gets ``subscribed`` and then ``frames[n]`` (the last list repeats); the
    history API answers one record. Nothing below websockets is mocked.
    """

    def __init__(self, frames: list[list[str]]) -> None:
        self.frames = frames
        self.connections = 0
        self.record = {"id": 1, "thread_id": "t1", "message": "from history", "level": "INFO",
                       "created_at": "2026-01-02T03:04:05Z", "cursor": "5-1"}

    def process_request(self, connection: Any, request: Any) -> Any:
        from http import HTTPStatus

        if request.path.startswith("/admin/runs/"):
            after = "after=" in request.path and "after=0-0" not in request.path
            body = {"logs": [] if after else [self.record], "cursor": "5-1", "before": None}
            return connection.respond(HTTPStatus.OK, json.dumps(body))
        return None

    async def handler(self, ws: Any) -> None:
        frames = self.frames[min(self.connections, len(self.frames) - 1)]
        self.connections += 1
        await ws.recv()  # subscribe
        await ws.send(json.dumps({"type": "subscribed", "cursor": None}))
        for frame in frames:
            await ws.send(frame)
        await ws.wait_closed()


def live_record(message: str) -> str:
    return json.dumps({"type": "records", "records": [
        {"id": 2, "thread_id": "t1", "message": message, "level": "WARN", "created_at": "2026-01-02T03:04:06Z", "cursor": "6-2"}]})


@asyncio_test
async def test_an_unexpected_frame_is_shown_and_the_stream_recovers() -> None:
    """A frame that breaks the client is named in the status bar (never a frozen "● live"), and the view reconnects."""
    from websockets.asyncio.server import serve

    odd = OddHub([
        ["not json {"],
        [json.dumps({"type": "status", "database": "up", "backlog": "lots"})],  # ValueError, but not a JSON error
        [json.dumps({"type": "status", "database": "up", "backlog": [1]})],  # TypeError: before, the worker died
        [live_record("after recovery")],
    ])
    async with serve(odd.handler, "127.0.0.1", 0, process_request=odd.process_request) as server:
        port = server.sockets[0].getsockname()[1]
        app = TailApp(tail_settings("t1", server=f"ws://127.0.0.1:{port}"), tz=CET)
        seen: list[str] = []
        async with app.run_test(size=(100, 24)) as pilot:
            view = app.query_one(LogView)

            def recovered() -> bool:
                seen.append(status_text(app))
                return "after recovery" in messages(view) and "● live" in seen[-1]

            await until(pilot, recovered, timeout=20)
            assert odd.connections == 4
            assert messages(view) == ["from history", "after recovery"]
    assert any("the hub sent a frame that is not JSON" in s for s in seen), seen
    assert any("unexpected ValueError while following" in s for s in seen), seen
    assert any("unexpected TypeError while following" in s for s in seen), seen
    assert not any("not JSON" in s and "ValueError" in s for s in seen)


def test_an_internal_error_ends_the_viewer_with_one_line_not_a_traceback(
    unused_port: int, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unexpected exception exits with app.error set and no traceback on stderr.

    TailApp overrides Textual's private ``_handle_exception`` and clears ``_exit_renderables``
    (Textual has no public hook for this; pyproject pins textual 8.x): this fails if they change.
    """
    from textual.app import App

    monkeypatch.delenv("LOGCTL_DEBUG", raising=False)
    assert "_handle_exception" in vars(App), "Textual's App._handle_exception is gone: revisit TailApp._handle_exception"

    class Broken(TailApp):
        def action_help(self) -> None:
            raise RuntimeError("boom in a handler")

    async def press_help(pilot: Pilot[object]) -> None:
        await pilot.press("question_mark")

    app = Broken(tail_settings("t1", server=f"ws://127.0.0.1:{unused_port}"), tz=CET)
    app.run(headless=True, size=(100, 24), auto_pilot=press_help)
    assert app.return_code == 1
    assert app.error is not None and "RuntimeError: boom in a handler" in str(app.error)
    err = capsys.readouterr().err
    assert "Traceback" not in err and "boom" not in err, err
