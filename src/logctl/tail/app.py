"""``TailApp``: the Textual viewer of ``logctl tail``.

Background work (history, the live stream, older pages, the thread's first record) runs
in ``@work`` coroutines that only post messages (``logctl.tail.messages``); the handlers
here update the widgets.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import os
import random
import time
from collections.abc import Iterable
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Footer
from textual.worker import Worker, WorkerState

from logctl.core.retry import Attempt
from logctl.core.activity_counter import ActivityCounter
from logctl.core.patterns import compile_pattern
from logctl.core.times import TimeMode, next_time_mode, zone_label
from logctl.core.merge import Entry, StreamMerge
from logctl.core.records import LogRecord
from logctl.core.sanitise import neutralise_controls
from logctl.core.thread_tags import TagWidth, describe_threads
from logctl.core.wording import plural
from logctl.gc_policy import HeapFreezer
from logctl.errors import DatabaseUnavailable, HubUnavailable, LogctlError
from logctl.tail.activity import Activity
from logctl.tail.client import PAGE_LIMIT, RECONNECT, DbStatus, Event, Shown, State, TailClient, ThreadsKnown
from logctl.tail.detail import DetailScreen, record_json, record_line
from logctl.tail.help import HelpScreen
from logctl.tail.log_view import LogView
from logctl.tail.messages import (
    ConnectionChanged,
    DatabaseChanged,
    EntriesArrived,
    HistoryLoaded,
    NeedOlder,
    OlderLoaded,
    OpenDetail,
    OriginKnown,
    PromptSubmitted,
    ThreadsChosen,
    ThreadsNamed,
    ViewChanged,
)
from logctl.tail.prompt import Prompt
from logctl.tail.settings import TailSettings
from logctl.tail.status_bar import StatusBar, StatusInfo
from logctl.tail.thread_picker import ThreadPicker
from logctl.tail.title import TitleLine

__all__ = ["TailApp"]

#: Records per page when the user scrolls above the oldest one loaded.
OLDER_PAGE = 2000
#: The first screen needs only the newest page; the rest of ``-n`` loads behind it.
FIRST_PAGE = 2000


class TailApp(App[None]):
    """History, then live records, of one thread, or of several merged with a thread column."""

    TITLE = "logctl tail"
    ENABLE_COMMAND_PALETTE = False
    CSS = """
    #top {
        height: 1;
        background: $panel;
    }
    #title {
        width: 1fr;
        padding: 0 1;
        text-style: bold;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    #log {
        height: 1fr;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q,ctrl+c", "quit", "Quit"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("slash", "prompt('search')", "Search", key_display="/"),
        Binding("i", "prompt('include')", "Include"),
        Binding("x", "prompt('exclude')", "Exclude"),
        Binding("escape", "clear_search", "Clear search", show=False),
        Binding("1", "level('DEBUG')", "Level", key_display="1-4"),
        Binding("2", "level('INFO')", show=False),
        Binding("3", "level('WARN')", show=False),
        Binding("4", "level('ERROR')", show=False),
        Binding("w", "wrap", "Wrap"),
        Binding("t", "time", "Time"),
        Binding("T", "threads", "Threads"),
        Binding("c", "copy(False)", "Copy", key_display="c/C"),
        Binding("C", "copy(True)", show=False),
    ]

    def __init__(self, settings: TailSettings, *, tz: dt.tzinfo | None = None) -> None:
        super().__init__()
        self.settings = settings
        self.tz = tz or dt.datetime.now().astimezone().tzinfo or dt.timezone.utc
        self.time_mode: TimeMode = settings.time_mode or "local"
        self.client = TailClient(settings.server, settings.selection)
        self.merge = StreamMerge()
        self.filter = settings.filter
        self.info = StatusInfo(subject=settings.describe(), several=settings.several, followed=len(settings.threads))
        self.activity = ActivityCounter(window=60)
        self.origin: dt.datetime | None = None
        self.error: LogctlError | None = None
        #: Records of ``-n`` still to load behind the first screen.
        self.backfill = 0
        #: The viewer holds every record it shows: freeze them out of the cyclic GC's scans.
        self._heap = HeapFreezer()
        #: Restarts of the stream worker after unexpected failures (its backoff).
        self._stream_restart = Attempt(RECONNECT)
        # Widgets are held, not queried: timers and messages may still arrive while the
        # app tears its DOM down on exit.
        self._title_label = TitleLine(self._title_text, id="title")
        self._activity_bar = Activity()
        self._view = LogView(tz=self.tz, time_mode=self.time_mode, id="log",
                             threads=TagWidth(settings.threads) if settings.several else None)
        #: Threads the hub named for the selection, and those whose records are in (several threads only).
        self.known_threads: tuple[str, ...] = settings.threads
        #: Threads with records loaded when the title was last brought up to date.
        self._titled_threads = 0
        self._prompt = Prompt(id="prompt")
        self._status_bar = StatusBar(id="status")

    def compose(self) -> ComposeResult:
        with Horizontal(id="top"):
            yield self._title_label
            yield self._activity_bar
        yield self._view
        yield self._prompt
        yield self._status_bar
        yield Footer()

    def _handle_exception(self, error: Exception) -> None:
        """An unexpected error: exit with one line on stderr (via ``logctl.cli``), not a traceback.

        Textual would print a traceback with locals; with ``--debug``/``LOGCTL_DEBUG`` it still does.
        Textual offers no public hook for this, so this overrides its private method: pyproject
        pins textual 8.x and ``test_an_internal_error_ends_the_viewer_with_one_line_not_a_traceback``
        fails if the private API changes.
        """
        self.error = LogctlError(f"the viewer stopped on an internal error: {type(error).__name__}: {error}")
        self.error.__cause__ = error
        super()._handle_exception(error)
        if not os.environ.get("LOGCTL_DEBUG"):
            self._exit_renderables.clear()

    @property
    def log_view(self) -> LogView:
        return self._view

    def on_mount(self) -> None:
        view = self.log_view
        view.set_filter(self.filter)
        view.focus()
        self._title()
        self._status()
        self.stream()
        self.load_origin()
        self.set_interval(0.5, self._tick)

    # -- background work ------------------------------------------------------------------

    def _sink(self, event: Event) -> None:
        if isinstance(event, Shown):
            self.post_message(EntriesArrived(event.entries))
        elif isinstance(event, State):
            self.post_message(ConnectionChanged(event))
        elif isinstance(event, DbStatus):
            self.post_message(DatabaseChanged(event))
        elif isinstance(event, ThreadsKnown):
            self.post_message(ThreadsNamed(event.threads))

    @work(exclusive=True, group="stream", exit_on_error=False)
    async def stream(self) -> None:
        """Load the history (retrying while the hub is unreachable), then follow forever.

        Started again by :meth:`on_worker_state_changed` after an unexpected error; it then
        skips the history already loaded and follows on from the merge's cursor.
        """
        try:
            if not self.merge.has_history:
                await self._load_history()
            await self.client.follow(self.merge, self._sink)
        except LogctlError as exc:
            self.post_message(ConnectionChanged(State("failed", str(exc))))

    async def _load_history(self) -> None:
        settings = self.settings
        attempt = Attempt(RECONNECT)
        while True:
            self.post_message(ConnectionChanged(State("loading", f"latest {plural(settings.limit, 'record')}")))
            try:
                first = settings.limit if settings.since is not None else min(settings.limit, FIRST_PAGE)
                page = await self.client.initial(first, settings.since)
                break
            except (HubUnavailable, DatabaseUnavailable) as exc:
                now = time.monotonic()
                attempt = attempt.failed(now, jitter=random.random())
                self.post_message(ConnectionChanged(State("unreachable", str(exc), attempt.retry_at(now))))
                await asyncio.sleep(attempt.delay)
        shown = self.merge.history(page)
        if self.settings.several:
            self.post_message(ThreadsNamed(self.client.threads))
        backfill = settings.limit - len(page.records) if settings.since is None and page.before else 0
        self.post_message(HistoryLoaded(shown, more=page.before is not None, backfill=backfill,
                                        empty=not page.records and page.before is None))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A worker that failed unexpectedly: say so in the status bar; the stream is started again."""
        worker = event.worker
        if event.state != WorkerState.ERROR:
            if worker.group == "stream" and event.state == WorkerState.SUCCESS:
                self._stream_restart = self._stream_restart.reset()
            return
        error = worker.error
        what = f"{type(error).__name__}: {error}"
        if worker.group != "stream":
            self.notify(neutralise_controls(f"background work {worker.name!r} failed: {what}"), severity="error", markup=False)
            return
        now = time.monotonic()
        self._stream_restart = self._stream_restart.failed(now, jitter=random.random())
        self.post_message(ConnectionChanged(State(
            "reconnecting", f"the stream stopped on an unexpected {what}; restarting", self._stream_restart.retry_at(now))))
        self.set_timer(self._stream_restart.delay, self.stream)

    @work(exclusive=True, group="older", exit_on_error=False)
    async def load_older(self, limit: int = OLDER_PAGE) -> None:
        """Fetch the page before the oldest record loaded (keyset ``before=``)."""
        before = self.merge.before
        if before is None:
            self.post_message(OlderLoaded([], more=False))
            return
        try:
            page = await self.client.history(limit=limit, before=before)
        except LogctlError as exc:
            self.post_message(OlderLoaded([], more=True, failure=str(exc)))
            return
        shown = self.merge.older(page)
        self.post_message(OlderLoaded(shown, more=self.merge.before is not None))

    @work(exclusive=True, group="origin", exit_on_error=False)
    async def load_origin(self) -> None:
        """Find when the thread's first record was made, for relative times."""
        while True:
            try:
                self.post_message(OriginKnown(await self.client.first_time()))
                return
            except LogctlError:
                await asyncio.sleep(2)

    # -- messages -------------------------------------------------------------------------

    @on(HistoryLoaded)
    def _history(self, message: HistoryLoaded) -> None:
        view = self.log_view
        view.more_above = message.more
        self.info.waiting_for_thread = message.empty
        self.backfill = message.backfill
        self._add(list(message.entries))
        if self.backfill > 0:
            self.load_older(min(self.backfill, PAGE_LIMIT))

    @on(EntriesArrived)
    def _arrived(self, message: EntriesArrived) -> None:
        self._add(list(message.entries))

    def _add(self, entries: list[Entry]) -> None:
        records = [e for e in entries if isinstance(e, LogRecord)]
        if records:
            self.activity.add(records, dt.datetime.now(dt.timezone.utc))
            self.info.waiting_for_thread = False
            if self.origin is None and records[0].created_at is not None and self.merge.before is None:
                self._set_origin(records[0].created_at)
        self.log_view.add(entries)
        self._heap.absorbed(len(entries))
        self._new_threads()

    def _new_threads(self) -> None:
        """Name a thread in the title once its first record is in (the hub may have named it before)."""
        loaded = self.log_view.model.threads
        if not self.settings.several or len(loaded) == self._titled_threads:
            return
        self._titled_threads = len(loaded)
        self._know(loaded)

    def _know(self, threads: Iterable[str]) -> None:
        names = tuple(dict.fromkeys([*self.known_threads, *threads]))
        if names != self.known_threads:
            self.known_threads = names
            self.info.followed = len(names)
            self._title()
            self._status()

    @on(ThreadsNamed)
    def _threads_named(self, message: ThreadsNamed) -> None:
        if self.log_view.see_threads(message.threads):
            self.log_view.refresh()
        self._know(message.threads)

    @on(OlderLoaded)
    def _older(self, message: OlderLoaded) -> None:
        if message.failure is not None:
            self.notify(neutralise_controls(f"could not load older records: {message.failure}"), severity="warning", markup=False)
        self.log_view.add_older(list(message.entries), message.more)
        self._heap.absorbed(len(message.entries))
        self._new_threads()
        if self.backfill > 0:
            # stop on the last page, or on a failed fetch (scrolling up retries it)
            self.backfill = self.backfill - len(message.entries) if message.more and message.entries else 0
            if self.backfill > 0:
                self.load_older(min(self.backfill, PAGE_LIMIT))

    @on(NeedOlder)
    def _need_older(self) -> None:
        self.load_older()

    @on(ConnectionChanged)
    def _connection(self, message: ConnectionChanged) -> None:
        self.info.state = message.state
        self._status()

    @on(DatabaseChanged)
    def _database(self, message: DatabaseChanged) -> None:
        self.info.database = message.status
        self._status()

    @on(OriginKnown)
    def _origin(self, message: OriginKnown) -> None:
        if message.when is not None:
            self._set_origin(message.when)

    @on(ViewChanged)
    def _view_changed(self) -> None:
        self._status()

    @on(OpenDetail)
    def _detail(self, message: OpenDetail) -> None:
        self.push_screen(DetailScreen(message.entry, tz=self.tz, origin=self.origin))

    @on(PromptSubmitted)
    def _prompted(self, message: PromptSubmitted) -> None:
        view = self.log_view
        self.screen.set_focus(view)  # at once, so the next key is the viewer's
        if message.cancelled:
            return
        pattern = compile_pattern(message.text, what=message.kind)  # the prompt has checked it
        if message.kind == "search":
            view.set_search(pattern)
        else:
            if message.kind == "include":
                self.filter = dataclasses.replace(self.filter, include=pattern)
            else:
                self.filter = dataclasses.replace(self.filter, exclude=pattern)
            view.set_filter(self.filter)

    @on(ThreadsChosen)
    def _threads_chosen(self, message: ThreadsChosen) -> None:
        self.filter = dataclasses.replace(self.filter, hidden_threads=message.hidden)
        self.log_view.set_filter(self.filter)

    # -- actions --------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The thread picker (``T``) exists only in a tail of several threads."""
        if action == "threads":
            return self.settings.several
        return True

    def action_threads(self) -> None:
        loaded = self.log_view.model.threads
        counts = {thread: loaded.get(thread, 0) for thread in dict.fromkeys([*self.known_threads, *loaded])}
        self.push_screen(ThreadPicker(counts, self.filter.hidden_threads))

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_prompt(self, kind: str) -> None:
        view = self.log_view
        if kind == "search":
            current = view.model.search
        else:
            current = self.filter.include if kind == "include" else self.filter.exclude
        self._prompt.open(kind, current.pattern if current is not None else "")

    def action_clear_search(self) -> None:
        if self.log_view.model.search is not None:
            self.log_view.set_search(None)

    def action_level(self, level: str) -> None:
        self.filter = dataclasses.replace(self.filter, min_level=level)
        self.log_view.set_filter(self.filter)

    def action_wrap(self) -> None:
        wrapped = self.log_view.toggle_wrap()
        self.notify("wrap on" if wrapped else "wrap off", timeout=1)

    def action_time(self) -> None:
        self.time_mode = next_time_mode(self.time_mode)
        self.log_view.set_time_mode(self.time_mode)
        self._title()

    def action_copy(self, as_json: bool) -> None:
        entry = self.log_view.current_entry
        if entry is None:
            return
        self.copy_to_clipboard(record_json(entry) if as_json else record_line(entry))
        self.notify("copied the record as JSON" if as_json else "copied the record as one line", timeout=2)

    # -- display --------------------------------------------------------------------------

    def _set_origin(self, when: dt.datetime) -> None:
        if self.origin is not None and self.origin <= when:
            return
        self.origin = when
        self.log_view.set_origin(when)
        self._title()

    def _title(self) -> None:
        self._title_label.refresh()

    def _title_text(self, width: int) -> Text:
        """The top line at ``width`` cells: what is followed, the time zone, the hub."""
        zone = zone_label(self.time_mode, tz=self.tz, now=dt.datetime.now(dt.timezone.utc), origin=self.origin)
        settings = self.settings
        if settings.several:
            # the thread list is cut at whole names to the width (the zone and the hub come after)
            what = describe_threads(settings.threads, settings.match, self.known_threads, width=width or 60)
        else:
            what = settings.thread_id
        # data, not markup: a thread id like ``[/x]`` is shown as it is
        return Text(neutralise_controls(f"{what}  ·  times: {zone}  ·  {settings.server}"))

    def _status(self) -> None:
        self._status_bar.show(self.info, self.log_view.model)

    def _tick(self) -> None:
        if self.info.state.retry_at is not None:
            self._status()
        self._activity_bar.show(self.activity.series(dt.datetime.now(dt.timezone.utc)))
