"""The tail client: history over HTTP, the live stream over WebSocket, reconnects.

The HTTP GETs run ``urllib.request`` in a worker thread; the stream uses
``websockets.asyncio.client``. Every decision about what to show is made by
:class:`~logctl.core.merge.StreamMerge`; this module only moves frames and reports what
it is doing through a *sink*, a plain callable that receives :data:`Event` values.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import random
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any, Final, Literal, Union

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from logctl.client.refusals import plain_to_tls_hint, refused_by_hub, untrusted_hub
from logctl.config import HubAddress, resolve_hub
from logctl.core.cursor import ORIGIN, Cursor
from logctl.core.routes import MAX_LIMIT
from logctl.core.merge import Entry, Marker, StreamMerge
from logctl.core.protocol import (
    HistoryPage, HubStatus, LiveRecords, StreamError, Subscribed, ThreadStarted, parse_history, selection_frame,
    subscribe_frame, subscriber_event,
)
from logctl.core.protocol.history import history_threads
from logctl.core.records import LogRecord
from logctl.core.selection import Selection
from logctl.core.retry import Attempt, RetryPolicy
from logctl.errors import DatabaseUnavailable, HubUnavailable, LogctlError, ProtocolError

__all__ = ["PAGE_LIMIT", "SUB", "DbStatus", "Event", "Shown", "State", "TailClient", "ThreadsKnown"]

#: The hub refuses larger pages.
PAGE_LIMIT: Final = MAX_LIMIT
HTTP_TIMEOUT: Final = 10.0
CONNECT_TIMEOUT: Final = 5.0
#: Waits between reconnects: 0.25 s doubling to 10 s; jitter shortens each by up to a fifth.
RECONNECT: Final = RetryPolicy(base=0.25, cap=10.0, spread=0.2)
#: The id this client gives its selection subscription (one per connection).
SUB: Final = "tail"

StateKind = Literal["loading", "live", "reconnecting", "unreachable", "failed"]


@dataclasses.dataclass(frozen=True, slots=True)
class State:
    """The connection state. ``retry_at`` is a ``time.monotonic()`` deadline when waiting to retry."""

    kind: StateKind
    detail: str = ""
    retry_at: float | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Shown:
    """Entries to add to the view, in order (records and markers)."""

    entries: Sequence[Entry]
    history: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class DbStatus:
    """The hub's own word on its database (a ``status`` frame)."""

    up: bool
    backlog: int


@dataclasses.dataclass(frozen=True, slots=True)
class ThreadsKnown:
    """The threads a selection follows, as far as the hub has said: the named ones, then those its
    glob matched (when it subscribed, and each one that started since, in order)."""

    threads: tuple[str, ...]


Event = Union[State, Shown, DbStatus, ThreadsKnown]
Sink = Callable[[Event], None]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class TailClient:
    """Talks to one hub about one thread, or about a :class:`~logctl.core.selection.Selection` of threads.

    One thread (a ``str``, or a selection of exactly one thread and no glob) uses the thread's
    own history route and subscription. A selection of several threads or a glob uses
    ``GET /admin/logs`` and one selection subscription: the hub merges its threads into one
    stream in global ``(txid, id)`` order, so the merge and the resume cursor work as for one
    thread (docs/protocol.md, "Selections").
    """

    def __init__(self, server: HubAddress | str, target: str | Selection) -> None:
        self.address = server if isinstance(server, HubAddress) else resolve_hub(server)
        self.server = self.address.url
        self.selection = target if isinstance(target, Selection) else Selection.one(target)
        #: The thread followed, or None when following several (a selection).
        self.thread_id: str | None = self.selection.single
        #: The threads the hub last named for the selection (the named ones until it has answered).
        self.threads: tuple[str, ...] = self.selection.threads
        self.http_base = self.address.http_base  # the proxy's path prefix kept, as for the stream
        self.ws_url = self.address.ws_url
        if self.thread_id is not None:
            self.history_url = self.address.http_url(f"/admin/runs/{urllib.parse.quote(self.thread_id, safe='')}/logs")
            self._selection_query: list[tuple[str, str]] = []
        else:
            self.history_url = self.address.http_url("/admin/logs")
            self._selection_query = [("thread", t) for t in self.selection.threads]
            if self.selection.match is not None:
                self._selection_query.append(("match", self.selection.match))

    # -- history (HTTP) -------------------------------------------------------------------

    async def history(self, *, limit: int, before: Cursor | None = None, after: Cursor | None = None) -> HistoryPage:
        """One page of the history API, oldest first."""
        query: dict[str, str] = {"limit": str(max(1, min(limit, PAGE_LIMIT)))}
        if before is not None:
            query["before"] = str(before)
        if after is not None:
            query["after"] = str(after)
        url = f"{self.history_url}?{urllib.parse.urlencode([*self._selection_query, *query.items()])}"
        body = await asyncio.to_thread(self.get_json, url)
        page = parse_history(body)
        if self.thread_id is None:
            self._known(history_threads(body))
        return page

    def _known(self, threads: Sequence[str]) -> bool:
        """Add ``threads`` to :attr:`threads`; whether any was new."""
        known = tuple(dict.fromkeys([*self.threads, *threads]))
        changed, self.threads = known != self.threads, known
        return changed

    def get_json(self, url: str) -> dict[str, Any]:
        """GET one of the hub's JSON endpoints (with the token and TLS of its address); errors as LogctlError."""
        try:
            request = urllib.request.Request(url, headers=self.address.headers())
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT, context=self.address.ssl_context()) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as err:
            raise self._http_error(err) from None
        except (urllib.error.URLError, OSError) as exc:
            untrusted = untrusted_hub(exc, self.http_base, self.address.cafile)
            if untrusted is not None:
                raise untrusted from None
            reason = getattr(exc, "reason", exc)
            hint = plain_to_tls_hint(exc, self.address.secure)
            raise HubUnavailable(f"no logctl hub answers at {self.http_base}: {reason}{hint}") from None
        try:
            body = json.loads(raw)
        except ValueError:
            raise HubUnavailable(f"{self.http_base} answered, but not with logctl's JSON") from None
        if not isinstance(body, dict):
            raise HubUnavailable(f"{self.http_base} answered, but not with logctl's JSON")
        return body

    def _http_error(self, err: urllib.error.HTTPError) -> LogctlError:
        try:
            detail = json.loads(err.read())["error"]
            code, message = str(detail["code"]), str(detail["message"])
        except Exception:
            return HubUnavailable(f"{self.http_base} answered HTTP {err.code}; is it a logctl hub?")
        refused = refused_by_hub(err.code, json.dumps({"error": detail}), self.http_base, has_token=self.address.token is not None)
        if refused is not None:
            return refused
        if err.code == 503:
            return DatabaseUnavailable(f"the hub at {self.http_base} cannot read its database: {message}")
        return ProtocolError(code, f"the hub refused the request: {message}")

    async def initial(self, limit: int, since: dt.datetime | None = None) -> HistoryPage:
        """The latest ``limit`` records (only those at or after ``since``), paging back as needed.

        ``limit`` 0 returns no records, only the cursor to follow from.
        """
        first = await self.history(limit=min(max(limit, 1), PAGE_LIMIT))
        resume = first.resume
        records = list(first.records) if limit > 0 else []
        # with no records kept, paging back starts at the resume cursor itself
        before = first.before if limit > 0 else (resume if first.records else None)
        while len(records) < limit and before is not None and not _older_than(records, since):
            page = await self.history(limit=min(limit - len(records), PAGE_LIMIT), before=before)
            records[:0] = page.records
            before = page.before
        if len(records) > limit:
            before = records[-limit].cursor
            records = records[-limit:]
        if since is not None:
            kept = [r for r in records if r.created_at is None or r.created_at >= since]
            if len(kept) < len(records):
                before = kept[0].cursor if kept else resume
            records = kept
        return HistoryPage(tuple(records), resume, before)

    async def first_time(self) -> dt.datetime | None:
        """When the thread's (the selection's) first record was made (for relative times), or None if it has none."""
        page = await self.history(limit=1, after=ORIGIN)
        return page.records[0].created_at if page.records else None

    # -- live (WebSocket) -----------------------------------------------------------------

    async def follow(self, merge: StreamMerge, sink: Sink, *, rng: random.Random | None = None) -> None:
        """Follow the thread (the selection) forever from ``merge.cursor``, reconnecting with backoff.

        For a selection, ``sink`` also gets :class:`ThreadsKnown` whenever the hub names a thread
        it had not named before (at each subscribe, and when a thread matching the glob starts).

        Raises only for errors that a retry cannot fix (a refused subscribe), and re-raises
        whatever ``sink`` raises as it is: the sink's own errors (a closed stdout's
        ``BrokenPipeError``, an ``OSError``) are never taken for network failures.
        """
        try:
            await self._follow(merge, _GuardedSink(sink), rng or random.Random())
        except _SinkFailed as failed:
            raise failed.error from None

    async def _follow(self, merge: StreamMerge, sink: Sink, rng: random.Random) -> None:
        attempt = Attempt(RECONNECT)
        catching_up = False
        was_live = False
        while True:
            try:
                if catching_up:
                    sink(State("reconnecting", "catching up"))
                    await self._catch_up(merge, sink)
                async with connect(
                    self.ws_url, open_timeout=CONNECT_TIMEOUT, max_size=None, compression=None,
                    ssl=self.address.ssl_context(), additional_headers=self.address.headers(),
                    ping_interval=10, ping_timeout=10, close_timeout=2,
                ) as ws:
                    await ws.send(self._subscribe_frame(merge.cursor))
                    async for raw in ws:
                        event = subscriber_event(_decode(raw))
                        if isinstance(event, Subscribed):
                            if self.thread_id is None and (self._known(event.threads) or not was_live):
                                sink(ThreadsKnown(self.threads))
                            if catching_up:
                                sink(Shown([merge.end_catch_up(_now())]))
                                catching_up = False
                            attempt, was_live = attempt.reset(), True
                            sink(State("live"))
                        elif isinstance(event, LiveRecords):
                            self._records(event, merge, sink)
                        elif isinstance(event, ThreadStarted):
                            if self._known((event.thread_id,)):
                                sink(ThreadsKnown(self.threads))
                        elif isinstance(event, HubStatus):
                            sink(DbStatus(event.database_up, event.backlog))
                        elif isinstance(event, StreamError) and event.thread_left_out:
                            sink(Shown([_left_out(event, _now())]))
                        elif isinstance(event, StreamError):
                            self._error(event)
                    reason = _close_reason(ws.close_code, ws.close_reason or "")
            except InvalidStatus as exc:  # a refused token is final; any other status is retried
                refused = refused_by_hub(exc.response.status_code, bytes(exc.response.body), self.server, has_token=self.address.token is not None)
                if refused is not None:
                    raise refused from None
                reason = _describe(exc, self.server)
            except (ConnectionClosed, OSError, InvalidHandshake, InvalidURI, HubUnavailable, DatabaseUnavailable,
                    asyncio.TimeoutError, _NotJson) as exc:
                untrusted = untrusted_hub(exc, self.server, self.address.cafile)
                if untrusted is not None:  # a certificate no retry can fix: one line, like a refused token
                    raise untrusted from None
                reason = _describe(exc, self.server) + plain_to_tls_hint(exc, self.address.secure)
            except (LogctlError, _SinkFailed):
                raise
            except Exception as exc:
                # a frame this client cannot handle, or a bug: say what it was, then
                # reconnect and catch up as after any drop, rather than stop following
                reason = f"unexpected {type(exc).__name__} while following: {exc}"
            if not catching_up:
                merge.begin_catch_up()
                catching_up = True
            now = time.monotonic()
            attempt = attempt.failed(now, jitter=rng.random())
            kind_: StateKind = "reconnecting" if was_live and attempt.failures == 1 else "unreachable"
            sink(State(kind_, reason, attempt.retry_at(now)))
            await asyncio.sleep(attempt.delay)

    def _subscribe_frame(self, cursor: Cursor | None) -> str:
        if self.thread_id is not None:
            return subscribe_frame(self.thread_id, cursor)
        return selection_frame(SUB, self.selection, cursor)

    async def _catch_up(self, merge: StreamMerge, sink: Sink) -> None:
        """Read what was committed since the cursor over HTTP, in pages."""
        while True:
            page = await self.history(limit=PAGE_LIMIT, after=merge.cursor or ORIGIN)
            shown = merge.live(page.records)
            if shown:
                sink(Shown(shown))
            if page.resume is not None:
                merge.advance(page.resume)
            if len(page.records) < PAGE_LIMIT:
                return

    def _records(self, event: LiveRecords, merge: StreamMerge, sink: Sink) -> None:
        shown = merge.live(list(event.records), pending=event.pending)
        if shown:
            sink(Shown(shown))

    def _error(self, error: StreamError) -> None:
        if error.retryable:
            raise DatabaseUnavailable(f"the hub cannot serve the stream right now: {error.message}")
        raise ProtocolError(error.code, f"the hub refused the subscription: {error.message}")


def _left_out(error: StreamError, now: dt.datetime) -> Marker:
    """The warning line for a thread whose records the hub cannot read: following goes on without it."""
    rest = "; the other threads go on" if error.sub is not None else ""
    return Marker(f"warning: thread {error.thread_id!r}: {error.message}{rest}", now, level="WARN")


class _NotJson(Exception):
    """A frame that does not decode as JSON."""


def _decode(raw: str | bytes) -> Any:
    """A frame's JSON; only a real decode failure is :class:`_NotJson` (any other error is a bug, named as such)."""
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _NotJson(str(exc)) from None


class _SinkFailed(Exception):
    """The sink raised: carried past the reconnect loop's ``except`` untouched."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


@dataclasses.dataclass(frozen=True, slots=True)
class _GuardedSink:
    """Calls the sink; any exception it raises comes out as :class:`_SinkFailed`."""

    sink: Sink

    def __call__(self, event: Event) -> None:
        try:
            self.sink(event)
        except Exception as exc:
            raise _SinkFailed(exc) from exc


def _older_than(records: Sequence[LogRecord], since: dt.datetime | None) -> bool:
    """True when the oldest loaded record is already before ``since`` (no need to page back)."""
    if since is None or not records:
        return False
    first = records[0].created_at
    return first is not None and first < since


def _close_reason(code: int | None, reason: str) -> str:
    if code == 1013:
        return "the hub dropped a slow connection"
    if code in (1001, 1012):
        return "the hub is restarting"
    return f"connection closed ({code}{': ' + reason if reason else ''})"


def _describe(exc: BaseException, server: str) -> str:
    if isinstance(exc, ConnectionClosed):
        code = exc.rcvd.code if exc.rcvd is not None else None
        return _close_reason(code, exc.rcvd.reason if exc.rcvd is not None else "") if code else "connection lost"
    if isinstance(exc, ConnectionRefusedError):
        return f"no hub answers at {server} (connection refused)"
    if isinstance(exc, (asyncio.TimeoutError, socket.timeout)):
        return f"no answer from {server} within {CONNECT_TIMEOUT:.0f} s"
    if isinstance(exc, (HubUnavailable, DatabaseUnavailable)):
        return str(exc)
    if isinstance(exc, OSError):
        return f"cannot reach {server}: {exc.strerror or exc}"
    if isinstance(exc, _NotJson):
        return "the hub sent a frame that is not JSON"
    return f"{server}: {exc}"
