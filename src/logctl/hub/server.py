"""The hub's network edge: WebSocket ingest and subscriptions, and the GET routes.

The protocol decisions live in ``logctl.core.protocol`` and ``logctl.core.routes``; this
module moves bytes between sockets, the writer thread and the feed. It uses websockets'
public surface only: ``Server.connections``, ``ServerConnection.respond()`` for the HTTP
routes, and ``Server.close(close_connections=False)`` to stop listening.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from typing import Final

from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.http11 import Request, Response

from logctl.config import DEFAULT_HOST, DEFAULT_PORT
from logctl.core import routes
from logctl.core.cursor import ORIGIN, Cursor
from logctl.core.metrics import HubMetrics, health_writes, render_prometheus
from logctl.core.protocol import (
    DEFAULT_MAX_ERRORS_PER_FRAME,
    DEFAULT_MAX_RECORDS_PER_FRAME,
    Ping,
    Publish,
    RecordError,
    SelectionSubscribe,
    SelectionUnsubscribe,
    Subscribe,
    Unsubscribe,
    encode,
    encoded_history_body,
    error_frame,
    parse_frame,
    publish_error_frames,
    status_frame,
    validate_publish,
)
from logctl.core.records import DEFAULT_MAX_MESSAGE_BYTES, Row
from logctl.core.fanout import MAX_OUTGOING_BYTES, MAX_SUBSCRIPTIONS, ConnId, FanOut
from logctl.core.selection import MAX_MATCH_THREADS, MAX_SELECTION_THREADS, too_many_matches, too_many_threads
from logctl.errors import ConfigError, DatabaseError, InvalidRecord, ProtocolError
from logctl.hub.access import AccessGate
from logctl.hub.tls import server_context
from logctl.hub.replies import json_reply as _json_reply, login_reply, refusal_reply as _refusal_reply, text_reply as _text_reply
from logctl.hub.feed import Feed, Outlet
from logctl.hub.web import load_web_files, with_security_headers
from logctl.hub.writer import Failure, GroupWriter
from logctl.core.protocol.runs import runs_body
from logctl.store import LogStore
from logctl.store.runs import list_runs
from logctl.store.selection import TooManyMatches, selection_history_json, selection_threads
from logctl.hub.summary import SummaryFolder

__all__ = ["Hub", "HubConfig", "run_hub"]

logger = logging.getLogger("logctl.hub.server")

#: Frames websockets may hold read but not yet handled, per connection, before it stops
#: reading the socket. With the frame limit this bounds a connection's unparsed input to
#: about (MAX_QUEUED_FRAMES + 2) x max_frame_bytes (the queue, the frame being handled, the
#: frame being read).
MAX_QUEUED_FRAMES: Final = 2
MIB: Final = 1024 * 1024
#: Seconds a client has to finish the TLS handshake (the WebSocket handshake's own timeout is websockets' 10 s).
TLS_HANDSHAKE_TIMEOUT: Final = 10.0


def frame_limit(max_message_bytes: int) -> int:
    """The default frame limit: room for one record of the largest message, JSON-escaped, and at least 8 MiB.

    A record's message of ``max_message_bytes`` UTF-8 bytes is at most six times as long
    as JSON text (control characters become ``\\u00XX``), plus its other fields.
    """
    return max(8 * MIB, 6 * max_message_bytes + 64 * 1024)


@dataclasses.dataclass(frozen=True, slots=True)
class HubConfig:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    #: The WebSocket frame limit (websockets' ``max_size``); None: :func:`frame_limit` of the message limit.
    max_frame_bytes: int | None = None
    max_backlog: int = 1_000_000
    max_records_per_frame: int = DEFAULT_MAX_RECORDS_PER_FRAME
    max_errors_per_frame: int = DEFAULT_MAX_ERRORS_PER_FRAME
    #: /healthz answers 503 once the oldest accepted record has waited this long (seconds) to be written.
    max_write_wait: float = 30.0
    drain_timeout: float = 10.0
    #: Unsent bytes a connection may have (and live rows held for one catching-up subscriber).
    max_outgoing_bytes: int = MAX_OUTGOING_BYTES
    max_subscriptions: int = MAX_SUBSCRIPTIONS
    #: Thread ids one selection may name, and threads its glob may match (docs/protocol.md, "Selections").
    max_selection_threads: int = MAX_SELECTION_THREADS
    max_match_threads: int = MAX_MATCH_THREADS
    #: Access (docs/security.md): the tokens file, extra allowed origins, an open /metrics, no auth off loopback.
    tokens_file: str | None = None
    allow_origins: tuple[str, ...] = ()
    metrics_open: bool = False
    insecure_no_auth: bool = False
    #: TLS (``wss://`` and ``https://`` on the one port): a PEM certificate chain and its key (None: in ``certfile``).
    certfile: str | None = None
    keyfile: str | None = None

    #: Seconds between background folds of the thread summary's deltas (hub/summary.py); 0: never.
    summary_fold_interval: float = 1.0

    @property
    def secure(self) -> bool:
        return self.certfile is not None


class Hub:
    """Ingest, persist, broadcast and serve history for one process."""

    def __init__(self, store: LogStore, config: HubConfig) -> None:
        self.store = store
        self.config = config
        self.metrics = HubMetrics()
        self.loop = asyncio.get_running_loop()
        self.feed = Feed(store, self.loop, self.metrics, FanOut(
            max_outgoing_bytes=config.max_outgoing_bytes, max_hold_bytes=config.max_outgoing_bytes,
            max_subscriptions=config.max_subscriptions,
        ), max_match_threads=config.max_match_threads)
        self.writer = GroupWriter(
            store, self.loop, self.metrics,
            max_backlog=config.max_backlog, on_down=self._database_down, on_up=self._database_up,
            on_commit=self.feed.wake,  # our own commits need no NOTIFY round trip
        )
        self.stopping = False
        self.server: Server | None = None
        #: Close tasks in flight, kept so that they are not garbage-collected midway.
        self._closing: set[asyncio.Future[None]] = set()
        self._conn_of: dict[ServerConnection, ConnId] = {}
        self.gate = AccessGate(
            self.metrics, host=config.host, tokens_file=config.tokens_file, allow_origins=config.allow_origins,
            metrics_open=config.metrics_open, insecure_no_auth=config.insecure_no_auth,
        )
        #: What each WebSocket connection was granted at its handshake.
        self._grants: dict[ServerConnection, routes.Upgrade] = {}
        #: Connections being closed as slow: sent nothing more.
        self._slow: set[ServerConnection] = set()
        #: The web viewer's files, read from the package once.
        self.web = load_web_files()
        self.ssl = server_context(config.certfile, config.keyfile)
        self.summary = SummaryFolder(store, config.summary_fold_interval)

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def connections(self) -> set[ServerConnection]:
        """Open WebSocket connections (websockets' own ``Server.connections``)."""
        return self.server.connections if self.server is not None else set()

    async def start(self) -> tuple[str, int]:
        """Bind (failing with :class:`ConfigError` naming the address), start the writer and feed, then listen."""
        address = f"{self.config.host}:{self.config.port}"
        try:
            self.server = await serve(
                self._handle, self.config.host, self.config.port,
                process_request=self._process_request,
                process_response=self._process_response,
                max_size=self.config.max_frame_bytes or frame_limit(self.config.max_message_bytes),
                max_queue=MAX_QUEUED_FRAMES,
                compression=None,
                logger=logging.getLogger("logctl.hub.websockets"),
                start_serving=False,
                ssl=self.ssl,
                # a TLS handshake that does not finish in time is dropped (asyncio's default waits 60 s)
                ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT if self.ssl is not None else None,
            )
        except OverflowError as exc:  # a port outside 0-65535
            raise ConfigError(f"cannot listen on {address}: {exc}") from None
        except OSError as exc:  # in use, not an address of this machine, no such host...
            raise ConfigError(f"cannot listen on {address}: {exc.strerror or exc}") from None
        self.writer.start()
        self.feed.start()
        if self.config.summary_fold_interval > 0:
            self.summary.start()
        await self.server.start_serving()
        sock = next(iter(self.server.sockets))
        host, port = sock.getsockname()[:2]
        return str(host), int(port)

    async def stop(self) -> bool:
        """Stop taking input, write and ack what was accepted, close connections."""
        self.stopping = True
        if self.server is not None:
            # Stop listening (new handshakes get 503); open connections stay, to get their acks.
            self.server.close(close_connections=False)
        held = self.writer.backlog
        flushed = await asyncio.to_thread(self.writer.stop, self.config.drain_timeout)
        await asyncio.sleep(0)  # let the last acks go out
        if flushed:
            if held:
                logger.warning("stopped: wrote and acked the %d records held at shutdown", held)
        else:
            logger.error(
                "stopped with %d of the %d records held at shutdown unwritten: they were not acked,"
                " so their producers still hold them and will send them again",
                self.writer.backlog, held,
            )
        await self.feed.stop()
        await self.summary.stop()
        if self.server is not None:
            closing = [ws.close(CloseCode.GOING_AWAY) for ws in self.server.connections]
            await asyncio.gather(*closing, return_exceptions=True)
            await self.server.wait_closed()
        self.gate.close()
        return flushed

    # -- writer callbacks (on the loop) -------------------------------------------------

    def _database_down(self, records: list[Row]) -> None:
        self.feed.broadcast_pending(records)
        self._send_all(status_frame(False, self.writer.backlog))

    def _database_up(self) -> None:
        self._send_all(status_frame(True, self.writer.backlog))

    async def ingest(self, records: list[Row], done: Callable[[list[Failure]], None] = lambda _f: None) -> None:
        """Queue valid records (store rows) for writing; ``done(failures)`` runs once they are committed.

        Waits while the backlog is full (``--max-backlog``, counted per record). While the
        database is down the records also go at once to local subscribers, marked pending
        (docs/protocol.md).
        """
        self.metrics.records_in += len(records)
        if records and not self.writer.database_up:
            self.feed.broadcast_pending(records)
        if self.writer.backlog + len(records) > self.writer.max_backlog:
            self.metrics.limit_backlog += 1
        await self.writer.put(records, done)

    # -- WebSocket -----------------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        conn = self.feed.connect(self._outlet(ws))
        self._conn_of[ws] = conn
        try:
            async for data in ws:
                self.metrics.frames_in += 1
                try:
                    frame = parse_frame(data)
                    if not self._allowed(ws, frame):
                        continue
                    if isinstance(frame, Publish):
                        await self._publish(ws, frame)
                    elif isinstance(frame, Subscribe):
                        await self._subscribe(ws, conn, frame)
                    elif isinstance(frame, Unsubscribe):
                        self.feed.unsubscribe(conn, frame.thread_id)
                        self._send(ws, encode({"type": "unsubscribed", "thread_id": frame.thread_id}))
                    elif isinstance(frame, SelectionSubscribe):
                        await self._subscribe_selection(ws, conn, frame)
                    elif isinstance(frame, SelectionUnsubscribe):
                        self.feed.unsubscribe_selection(conn, frame.sub)
                        self._send(ws, encode({"type": "unsubscribed", "sub": frame.sub}))
                    elif isinstance(frame, Ping):
                        self._send(ws, encode({"type": "pong", "ref": frame.ref}))
                except ProtocolError as exc:
                    self.metrics.frame_errors += 1
                    self._send(ws, error_frame(exc.code, str(exc)))
                except DatabaseError as exc:
                    self.metrics.frame_errors += 1
                    logger.warning("a frame failed on the database: %s", exc)  # details stay in the hub's log
                    self._send(ws, error_frame(_database_code(exc), exc.public_message))
                except ConnectionClosed:
                    raise
                except Exception:  # one frame's bug must not close the connection or reach others
                    self.metrics.frame_errors += 1
                    self.metrics.internal_errors += 1
                    logger.exception("unexpected error handling a frame from %s", ws.remote_address)
                    self._send(ws, error_frame("internal_error", "the hub failed to handle this frame; it was not taken"))
        except ConnectionClosed as exc:
            if exc.sent is not None and exc.sent.code == CloseCode.MESSAGE_TOO_BIG:
                self.metrics.limit_frame_bytes += 1
        finally:
            self.feed.disconnect(conn)
            self._conn_of.pop(ws, None)
            self._slow.discard(ws)
            self._grants.pop(ws, None)

    def _allowed(self, ws: ServerConnection, frame: object) -> bool:
        """Whether this connection's token may send ``frame``; if not, answer ``forbidden`` (the connection stays open)."""
        why = self.gate.frame_refusal(self._grants.get(ws, routes.Upgrade()), frame, ws.remote_address)
        if why is not None:
            self.metrics.frame_errors += 1
            extra: dict[str, object] = {"ref": frame.ref, "producer": frame.producer} if isinstance(frame, Publish) else {}
            if isinstance(frame, SelectionSubscribe):  # a selection's errors carry its sub (docs/protocol.md)
                extra["sub"] = frame.sub
            self._send(ws, error_frame("forbidden", why, **extra))
        return why is None

    async def _publish(self, ws: ServerConnection, frame: Publish) -> None:
        if self.stopping:
            self._send(ws, error_frame("shutting_down", "the hub is shutting down; records not taken", ref=frame.ref))
            return
        limit = self.config.max_errors_per_frame
        try:
            records, errors, upto = validate_publish(
                frame, now=dt.datetime.now(dt.timezone.utc), max_message_bytes=self.config.max_message_bytes,
                max_records=self.config.max_records_per_frame,
            )
        except ProtocolError as exc:  # too_many_records: the frame is refused as a whole
            self.metrics.frame_errors += 1
            self.metrics.limit_records_per_frame += 1
            self.metrics.records_rejected += len(frame.records)
            self._send(ws, error_frame(exc.code, str(exc), ref=frame.ref, producer=frame.producer))
            return
        if len(errors) > limit:
            self.metrics.limit_errors_per_frame += 1
        for text in publish_error_frames(frame, errors, limit):
            self._send(ws, text)
        self.metrics.records_rejected += len(errors)
        bad_indices = [e.index for e in errors]

        def done(failures: list[Failure]) -> None:
            if failures:  # rows the database refused: tell the sender which, within the same error budget
                refused = [
                    RecordError(_frame_index(f.position, bad_indices), records[f.position][5],
                                InvalidRecord(f.code, f.reason))
                    for f in failures
                ]
                for text in publish_error_frames(frame, refused, max(0, limit - len(errors))):
                    self._send(ws, text)
            self._send(ws, encode({"type": "ack", "ref": frame.ref, "producer": frame.producer, "upto": upto,
                              "accepted": len(records) - len(failures), "rejected": len(errors) + len(failures)}))

        # Backpressure: while the backlog is full this waits, and this socket is not read.
        await self.ingest(records, done)

    # -- every frame to a client goes out through _send -----------------------------------

    def _send(self, ws: ServerConnection, text: str) -> None:
        """Queue a frame without awaiting; past ``max_outgoing_bytes`` unsent, close the connection as slow instead.

        Every frame to a client (records, acks, pongs, errors, status) goes through here, so
        a client that does not read costs the hub at most that many bytes.
        """
        if ws in self._slow:
            return
        if ws.transport.get_write_buffer_size() + len(text) > self.config.max_outgoing_bytes:
            self.metrics.limit_outgoing_bytes += 1
            self.metrics.slow_subscribers_closed += 1
            self._close_slow(ws)
            return
        broadcast([ws], text)

    def _send_all(self, text: str) -> None:
        for ws in list(self.connections):
            self._send(ws, text)

    def _close_slow(self, ws: ServerConnection) -> None:
        """Close ``ws`` (1013) once, keeping the close task; it resumes from its last cursor."""
        if ws in self._slow:
            return
        self._slow.add(ws)
        conn = self._conn_of.get(ws)
        if conn is not None:
            self.feed.fanout.closed_slow(conn)
        task = asyncio.ensure_future(ws.close(1013, "too slow: more than the hub's outgoing limit unsent; reconnect with your last cursor"))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def _outlet(self, ws: ServerConnection) -> Outlet:
        """How the feed sends to, paces and closes one connection."""
        return Outlet(
            send=lambda text: self._send(ws, text),
            send_paced=ws.send,
            buffered=ws.transport.get_write_buffer_size,
            close_slow=lambda: self._close_slow(ws),
        )

    async def _subscribe(self, ws: ServerConnection, conn: ConnId, frame: Subscribe) -> None:
        try:
            self.feed.fanout.check_subscribe(conn, frame.thread_id)
        except ProtocolError:
            self.metrics.limit_subscriptions += 1
            raise
        # "subscribed" must precede the first records frame, so it goes out first.
        self._send(ws, encode({"type": "subscribed", "thread_id": frame.thread_id,
                          "cursor": None if frame.now else str(frame.cursor or ORIGIN)}))
        await self.feed.subscribe(conn, frame.thread_id, None if frame.now else frame.cursor or ORIGIN)

    async def _subscribe_selection(self, ws: ServerConnection, conn: ConnId, frame: SelectionSubscribe) -> None:
        """Check the selection's limits, resolve its threads, answer ``subscribed``, then catch it up and follow it."""
        name, selection = frame.sub, frame.selection
        try:
            refused = too_many_threads(selection, self.config.max_selection_threads)
            if refused is not None:
                self.metrics.limit_selection_threads += 1
                raise refused
            try:
                self.feed.fanout.check_subscribe_selection(conn, name)
            except ProtocolError:
                self.metrics.limit_subscriptions += 1
                raise
            try:
                threads, xmin = await asyncio.to_thread(
                    selection_threads, self.store, selection, max_matches=self.config.max_match_threads
                )
                horizon = Cursor.horizon(xmin)
                cursor = horizon if frame.now else frame.cursor or ORIGIN
                self._send(ws, encode({"type": "subscribed", "sub": name, "threads": list(threads),
                                       "cursor": None if frame.now else str(cursor)}))
                await self.feed.subscribe_selection(conn, name, selection, cursor, threads, horizon)
            except TooManyMatches:
                self.metrics.limit_match_threads += 1
                raise too_many_matches(selection.match or "", self.config.max_match_threads) from None
        except ProtocolError as exc:
            self.metrics.frame_errors += 1
            self._send(ws, error_frame(exc.code, str(exc), sub=name))
        except DatabaseError as exc:
            self.metrics.frame_errors += 1
            logger.warning("a selection's subscribe failed on the database: %s", exc)  # details stay in the hub's log
            self._send(ws, error_frame(_database_code(exc), exc.public_message, sub=name))

    # -- HTTP ------------------------------------------------------------------------------

    async def _process_request(self, ws: ServerConnection, request: Request) -> Response | None:
        """Answer plain HTTP (the routes of ``logctl.core.routes``), or None to go on with the WebSocket handshake."""
        tls = ws.transport.get_extra_info("ssl_object") is not None
        decision = routes.route(routes.HttpRequest(request.method, request.path, tuple(request.headers.raw_items()), tls), self.gate.access)
        if isinstance(decision, routes.Upgrade):
            self._grants[ws] = decision
            return None
        if isinstance(decision, routes.Refusal):
            if decision.reason is not None:
                self.gate.refused(  # the path without its query, which may hold a token (?token=)
                    decision.reason, ws.remote_address, f"{request.method[:16]} {request.path.partition('?')[0][:100]!r}", decision.token_name,
                )
            response = _refusal_reply(ws, decision)
        elif isinstance(decision, routes.Login):
            response = login_reply(ws, decision)
        elif isinstance(decision, routes.Metrics):
            body = render_prometheus(
                self.metrics, backlog=self.writer.backlog, subscribers=self.feed.subscriber_count,
                connections=len(self.connections), database_up=self.writer.database_up,
                writer_alive=self.writer.alive, oldest_unwritten_seconds=self.writer.oldest_wait(time.monotonic()),
            )
            response = _text_reply(ws, 200, body, "text/plain; version=0.0.4")
        elif isinstance(decision, routes.Health):
            response = await self._health(ws)
        elif isinstance(decision, routes.Runs):
            response = await self._runs(ws, decision)
        elif isinstance(decision, routes.Page):
            response = self.web.reply_page(ws, decision.name, decision.depth, request.headers)
        elif isinstance(decision, routes.Static):
            response = self.web.reply(ws, decision.name, request.headers)
        elif isinstance(decision, routes.SelectionHistory):
            response = await self._selection_history(ws, decision)
        else:
            response = await self._history(ws, decision)
        hosts = request.headers.get_all("Host")
        response = with_security_headers(response, hosts[0] if len(hosts) == 1 else None)
        if request.method == "HEAD":  # the same headers (Content-Length included), no body
            response = dataclasses.replace(response, body=b"")
        return response

    def _process_response(self, ws: ServerConnection, request: Request, response: Response) -> None:
        """Forget the grant of a handshake that failed after routing (e.g. no Sec-WebSocket-Key): ``_handle`` never runs for it."""
        if response.status_code != 101:
            self._grants.pop(ws, None)

    async def _health(self, ws: ServerConnection) -> Response:
        try:
            horizon, oldest = await asyncio.wait_for(asyncio.to_thread(self.store.horizon_status), timeout=3)
            database = "up"
        except (DatabaseError, asyncio.TimeoutError):
            horizon, oldest, database = None, None, "down"
        waited = self.writer.oldest_wait(time.monotonic())
        writes = health_writes(
            writer_alive=self.writer.alive, database_up=self.writer.database_up,
            oldest_wait=waited, max_wait=self.config.max_write_wait,
        )
        ok = database == "up" and writes == "up"
        return _json_reply(ws, 200 if ok else 503, {
            "status": "ok" if ok else "degraded",
            "database": database,
            "writes": writes,
            "oldest_unwritten_seconds": round(waited, 3),
            "backlog": self.writer.backlog,
            "subscribers": self.feed.subscriber_count,
            "connections": len(self.connections),
            "horizon": horizon,
            "oldest_write_transaction_seconds": None if oldest is None else round(oldest, 3),
        })

    async def _history(self, ws: ServerConnection, req: routes.History) -> Response:
        try:
            page = await asyncio.to_thread(
                self.store.history_json, req.thread_id, limit=req.limit, before=req.before, after=req.after
            )
        except DatabaseError as exc:
            logger.warning("history of thread %r failed: %s", req.thread_id, exc)  # details stay in the hub's log
            return _refusal_reply(ws, routes.Refusal(503 if exc.unavailable else 500, _database_code(exc), exc.public_message))
        return _text_reply(ws, 200, encoded_history_body(page), "application/json")

    async def _selection_history(self, ws: ServerConnection, req: routes.SelectionHistory) -> Response:
        selection = req.selection
        refused = too_many_threads(selection, self.config.max_selection_threads)
        if refused is not None:
            self.metrics.limit_selection_threads += 1
            return _refusal_reply(ws, routes.Refusal(400, refused.code, str(refused)))
        try:
            got = await asyncio.to_thread(
                selection_history_json, self.store, selection, limit=req.limit, before=req.before, after=req.after,
                max_matches=self.config.max_match_threads,
            )
        except TooManyMatches:
            self.metrics.limit_match_threads += 1
            error = too_many_matches(selection.match or "", self.config.max_match_threads)
            return _refusal_reply(ws, routes.Refusal(400, error.code, str(error)))
        except DatabaseError as exc:
            logger.warning("history of selection %r failed: %s", selection.label()[:200], exc)  # details stay in the hub's log
            return _refusal_reply(ws, routes.Refusal(503 if exc.unavailable else 500, _database_code(exc), exc.public_message))
        return _text_reply(ws, 200, encoded_history_body(got.page, threads=got.threads), "application/json")

    async def _runs(self, ws: ServerConnection, req: routes.Runs) -> Response:
        since = req.since
        if isinstance(since, dt.timedelta):
            since = dt.datetime.now(dt.timezone.utc) - since
        try:
            page = await asyncio.to_thread(list_runs, self.store, limit=req.limit, since=since, like=req.like, before=req.before)
        except DatabaseError as exc:
            logger.warning("the thread list failed: %s", exc)  # details stay in the hub's log
            return _refusal_reply(ws, routes.Refusal(503 if exc.unavailable else 500, _database_code(exc), exc.public_message))
        return _json_reply(ws, 200, runs_body(page))


def _frame_index(position: int, rejected: list[int]) -> int:
    """The index in the publish frame of its ``position``-th valid record, given the sorted indices of the rejected ones."""
    index = position
    for bad in rejected:
        if bad > index:
            break
        index += 1
    return index


def _database_code(exc: DatabaseError) -> str:
    """The wire code of a database failure: the database is down or set up wrong, or this request failed."""
    return "database_unavailable" if exc.unavailable else "database_error"


async def run_hub(
    store: LogStore,
    config: HubConfig,
    *,
    announce: Callable[[str, int], None],
    extra: Callable[[Hub], Awaitable[None]] | None = None,
) -> bool:
    """Serve until SIGINT/SIGTERM, then drain. Return whether everything accepted was written."""
    hub = Hub(store, config)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):  # before the ready line: a SIGTERM right after it drains too
        hub.loop.add_signal_handler(sig, stop.set)
    hub.loop.add_signal_handler(signal.SIGHUP, lambda: hub.gate.reload(force=True))
    host, port = await hub.start()
    announce(host, port)
    side = asyncio.ensure_future(extra(hub)) if extra is not None else None
    watch = hub.gate.start(host, port)
    await stop.wait()
    watch.cancel()
    if side is not None:
        side.cancel()
    return await hub.stop()
