"""Plain output: one line per record (or JSON Lines), following or not, for pipes and scripts.

Records go to stdout; what the tool has to say about itself (no records yet, connection
lost, reconnected) goes to stderr, so ``logctl tail t1 --json | jq`` always sees clean JSON.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Mapping, Sequence
from typing import TextIO

from logctl.core.json_line import format_json
from logctl.core.plain_line import format_plain
from logctl.core.merge import Entry, Marker, StreamMerge
from logctl.core.records import LogRecord
from logctl.core.sanitise import neutralise_controls
from logctl.core.thread_tags import TagWidth, plain_prefix
from logctl.core.wording import plural
from logctl.tail.client import DbStatus, Event, Shown, State, TailClient, ThreadsKnown
from logctl.tail.settings import ColorChoice, TailSettings

__all__ = ["run_plain", "use_color"]


def use_color(choice: ColorChoice, stream: TextIO, env: Mapping[str, str]) -> bool:
    """``always``/``never`` win; ``auto`` colours a terminal unless ``NO_COLOR`` is set (no-color.org)."""
    if choice != "auto":
        return choice == "always"
    if env.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class PlainPrinter:
    """Writes entries that pass the filter to ``out`` and notes to ``err``."""

    def __init__(self, settings: TailSettings, out: TextIO, err: TextIO, origin: dt.datetime | None) -> None:
        self.settings = settings
        self.filter = settings.filter
        self.out, self.err = out, err
        self.color = use_color(settings.color, out, os.environ)
        self.mode = settings.time_mode or "utc"
        self.tz = dt.datetime.now().astimezone().tzinfo or dt.timezone.utc
        self.origin = origin
        self.last_state: str | None = None
        self.printed = 0
        #: The thread column of a tail of several threads (None: one thread, no column).
        self.tags = TagWidth(settings.threads) if settings.several else None

    def entries(self, entries: Sequence[Entry]) -> None:
        lines: list[str] = []
        for entry in entries:
            if isinstance(entry, Marker):
                self.note(entry.text)
                continue
            if not self.filter.accepts(entry):
                continue
            lines.append(self._line(entry))
        if lines:
            self.out.write("\n".join(lines) + "\n")
            self.out.flush()
            self.printed += len(lines)

    def _line(self, record: LogRecord) -> str:
        if self.settings.json:
            return format_json(record)
        if self.origin is None and self.mode == "relative":
            self.origin = record.created_at
        line = format_plain(record, mode=self.mode, tz=self.tz, origin=self.origin, color=self.color)
        if self.tags is None:
            return line
        self.tags.see(record.thread_id)
        return plain_prefix(record.thread_id, self.tags.width, color=self.color) + line

    def see(self, threads: Sequence[str]) -> None:
        """Threads the hub named for the selection: the column is as wide as the widest from the start."""
        if self.tags is not None:
            for thread in threads:
                self.tags.see(thread)

    def note(self, text: str) -> None:
        self.err.write(f"logctl: {neutralise_controls(text)}\n")
        self.err.flush()

    def event(self, event: Event) -> None:
        if isinstance(event, Shown):
            self.entries(event.entries)
        elif isinstance(event, State):
            text = _state_text(event)
            if text and text != self.last_state:
                self.note(text)
            self.last_state = text
        elif isinstance(event, ThreadsKnown):
            self.see(event.threads)
        elif isinstance(event, DbStatus):
            self.note("the hub's database is back" if event.up else
                      f"the hub cannot write to its database ({plural(event.backlog, 'record')} waiting); live records are shown as they arrive")


def _state_text(state: State) -> str:
    if state.kind == "live":
        return "following live records"
    if state.kind in ("reconnecting", "unreachable") and state.retry_at is not None:
        return f"{state.detail}; reconnecting with backoff"
    return ""


async def run_plain(settings: TailSettings, out: TextIO | None = None, err: TextIO | None = None) -> None:
    """Print the history, then (unless ``--no-follow``) the live records until interrupted."""
    out = out or sys.stdout
    err = err or sys.stderr
    client = TailClient(settings.server, settings.selection)
    page = await client.initial(settings.limit, settings.since)
    origin = None
    if (settings.time_mode or "utc") == "relative":
        origin = await client.first_time()
    printer = PlainPrinter(settings, out, err, origin)
    printer.see(client.threads)
    merge = StreamMerge()
    try:
        shown = merge.history(page)
        if not page.records and page.before is None:
            printer.note(f"{settings.describe()} {'have' if settings.several else 'has'} no records yet"
                         + ("; waiting for them" if settings.follow else ""))
        printer.entries(shown)
        if settings.follow:
            printer.last_state = _state_text(State("live"))
            await client.follow(merge, printer.event)
    except BrokenPipeError:
        # the reader went away (`| head`): stop quietly, as other Unix tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
