"""``logctl send`` and the shipper's delivery guarantees, over real sockets and PostgreSQL."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from helpers import HubProcess, error_lines, examples, free_port, query, run_cli, wait_until
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg.conninfo import make_conninfo

from logctl.client.routing import choose_route
from logctl.client.send import read_batches
from logctl.client.shipper import Shipper
from logctl.config import DEFAULT_SERVER
from logctl.core.drafting import draft_record, record_size
from logctl.core.spool import Batch, SpoolLimits
from logctl.core.delivery import Frame, Reply
from logctl.core.records import LogRecord
from logctl.core.retry import RetryPolicy
from logctl.core.wording import plural
from logctl.errors import ConfigError
import datetime as dt
import io


def count(dsn: str, thread_id: str) -> tuple[int, int]:
    """Rows of a thread, and distinct (producer_id, seq) among them."""
    row = query(dsn, "SELECT count(*), count(DISTINCT (producer_id, seq)) FROM thread_logs WHERE thread_id = %s",
                (thread_id,))[0]
    return int(row[0]), int(row[1])  # type: ignore[call-overload]


def send_bytes(args: list[str], env: dict[str, str], data: bytes, timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "logctl", "send", *args], env=env, input=data,
                          capture_output=True, timeout=timeout)


class TcpProxy:
    """A real TCP relay to a local port whose connections can be cut, or whose replies held back."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.sockets: list[socket.socket] = []
        self.hold_replies = threading.Event()  # set: swallow what the server sends back
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self.lock:
                self.sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, reply: bool) -> None:
        try:
            while data := src.recv(65536):
                if not (reply and self.hold_replies.is_set()):
                    dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        """Break every open connection, as a network failure would."""
        with self.lock:
            sockets, self.sockets = self.sockets, []
        for s in sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self) -> None:
        self.listener.close()
        self.cut()


@pytest.fixture
def proxy(hub: HubProcess) -> Iterator[TcpProxy]:
    p = TcpProxy(hub.port)
    yield p
    p.close()


def shipper_to(url_or_dsn: str, *, hub: bool, batch: int = 500) -> Shipper:
    route = choose_route(url_or_dsn if hub else None, None if hub else url_or_dsn, fallback="hub")
    limits = SpoolLimits(capacity=100_000, batch_records=batch, policy="block")
    return Shipper(route.transport(uuid.uuid4().hex), limits, retry=RetryPolicy(base=0.05, cap=0.2, spread=0.5)).start()


def put_lines(shipper: Shipper, thread_id: str, n: int) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    for i in range(n):
        r = draft_record(f"m{i}", thread_id, "INFO", now)
        assert shipper.put(r, record_size(r))


# -- logctl send -----------------------------------------------------------------------


def test_send_stdin_through_a_hub(dsn: str, cli_env: dict[str, str], hub: HubProcess) -> None:
    """`seq 1 20000 | logctl send t1` exits 0 with exactly 20,000 rows committed, in order."""
    data = "".join(f"{i}\n" for i in range(1, 20001))
    result = run_cli(["send", "t1", "--server", hub.url], cli_env, input=data)
    assert result.returncode == 0, result.stderr
    assert "20000 records committed" in result.stderr
    assert count(dsn, "t1") == (20000, 20000)
    ordered = query(dsn, "SELECT message FROM thread_logs WHERE thread_id = 't1' ORDER BY seq")
    assert [r[0] for r in ordered] == [str(i) for i in range(1, 20001)]


def test_send_one_message_with_level_via_env(dsn: str, cli_env: dict[str, str], hub: HubProcess) -> None:
    """`logctl send T MESSAGE --level warning` with LOGCTL_SERVER set writes one WARN row."""
    result = run_cli(["send", "t2", "hello there", "--level", "warning"], {**cli_env, "LOGCTL_SERVER": hub.url})
    assert result.returncode == 0, result.stderr
    assert query(dsn, "SELECT thread_id, message, level FROM thread_logs") == [("t2", "hello there", "WARN")]


def test_send_to_the_url_the_hub_announces(dsn: str, cli_env: dict[str, str], hub: HubProcess) -> None:
    """The hub's announced URL, ws://host:port/ws, works as --server as well as ws://host:port."""
    result = run_cli(["send", "t3", "hello", "--server", f"{hub.url}/ws"], cli_env)
    assert result.returncode == 0, result.stderr
    assert query(dsn, "SELECT thread_id, message FROM thread_logs") == [("t3", "hello")]


def test_send_straight_to_the_database(dsn: str, cli_env: dict[str, str]) -> None:
    """`logctl send --database-url` writes stdin's lines without a hub, blank lines included."""
    result = run_cli(["send", "db-t", "--database-url", dsn], cli_env, input="a\n\nc\r\nlast-without-newline")
    assert result.returncode == 0, result.stderr
    got = query(dsn, "SELECT message FROM thread_logs WHERE thread_id = 'db-t' ORDER BY seq")
    assert [r[0] for r in got] == ["a", "", "c", "last-without-newline"]


def test_send_replaces_invalid_utf8(dsn: str, cli_env: dict[str, str]) -> None:
    """Bytes that are not UTF-8 become U+FFFD; the line is still sent."""
    result = send_bytes(["bytes", "--database-url", dsn], cli_env, b"ok\n\xff\xfe bad\ncaf\xc3\xa9\n")
    assert result.returncode == 0, result.stderr
    got = query(dsn, "SELECT message FROM thread_logs ORDER BY seq")
    assert [r[0] for r in got] == ["ok", "\ufffd\ufffd bad", "café"]


def test_send_fails_clearly_when_no_hub_answers(cli_env: dict[str, str]) -> None:
    """With no hub at the URL, send gives up after --timeout without progress and exits 4."""
    url = f"ws://127.0.0.1:{free_port()}"
    started = time.monotonic()
    result = run_cli(["send", "t", "--server", url, "--timeout", "1"], cli_env, input="a\nb\n")
    assert result.returncode == 4
    assert error_lines(result.stderr) == [
        f"logctl: error: 2 of 2 records were not committed after 1s without progress: "
        f"no logctl hub answers at {url}: [Errno 111] Connection refused"
    ]
    assert time.monotonic() - started < 15


def test_send_reports_records_the_hub_rejects(dsn: str, cli_env: dict[str, str]) -> None:
    """A record over the hub's size limit is reported and makes send exit 1; the others are committed."""
    hub = HubProcess(dsn, cli_env, "--max-message-bytes", "100")
    try:
        result = run_cli(["send", "rj", "--server", hub.url], cli_env, input=f"small\n{'x' * 200}\nsmall again\n")
    finally:
        hub.kill()
    assert result.returncode == 1
    assert "message_too_large" in result.stderr
    assert error_lines(result.stderr)[-1].startswith("logctl: error: 1 of 3 records was rejected by the logctl hub")
    got = query(dsn, "SELECT message FROM thread_logs ORDER BY seq")
    assert [r[0] for r in got] == ["small", "small again"]


def test_send_refuses_a_bad_level_or_two_targets(cli_env: dict[str, str]) -> None:
    """An unknown level, or both --server and --database-url, fail before anything is sent."""
    result = run_cli(["send", "t", "x", "--level", "LOUD", "--server", "ws://127.0.0.1:1"], cli_env)
    assert result.returncode == 1 and "unknown level 'LOUD'" in result.stderr
    result = run_cli(["send", "t", "x", "--server", "ws://h:1", "--database-url", "postgresql://x"], cli_env)
    assert result.returncode == 2 and "not both" in result.stderr


def test_send_with_a_message_and_lines_on_stdin_is_an_error(dsn: str, cli_env: dict[str, str], hub: HubProcess) -> None:
    """`echo x | logctl send T MESSAGE` exits 2 and sends nothing, rather than ignoring stdin."""
    result = run_cli(["send", "both", "the message", "--server", hub.url], cli_env, input="piped 1\npiped 2\n")
    assert result.returncode == 2, result.stderr
    assert "give MESSAGE or lines on stdin, not both" in result.stderr
    assert query(dsn, "SELECT count(*) FROM thread_logs") == [(0,)]


def test_send_with_a_message_and_an_empty_stdin_sends_the_message(dsn: str, cli_env: dict[str, str], hub: HubProcess) -> None:
    """An empty pipe on stdin (cron's, `</dev/null`-like) is no conflict: MESSAGE is sent, one record, said in the singular."""
    result = run_cli(["send", "cron", "heartbeat", "--server", hub.url], cli_env, input="")
    assert result.returncode == 0, result.stderr
    assert "logctl: 1 record committed to thread 'cron'" in result.stderr
    assert query(dsn, "SELECT message FROM thread_logs") == [("heartbeat",)]


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf"])
def test_send_refuses_a_timeout_that_is_not_a_positive_number(cli_env: dict[str, str], value: str) -> None:
    """--timeout 0, negative, nan or inf is a usage error (exit 2) that names the option, before any connection."""
    result = run_cli(["send", "t", "x", "--server", "ws://127.0.0.1:1", f"--timeout={value}"], cli_env)
    assert result.returncode == 2, result.stderr
    assert "--timeout" in result.stderr and "positive number of seconds" in result.stderr


def test_counts_are_worded_in_the_singular_for_one() -> None:
    """plural() says "1 record" and "2 records", and takes an irregular plural."""
    assert plural(1, "record") == "1 record"
    assert plural(0, "record") == "0 records"
    assert plural(2, "log record") == "2 log records"
    assert plural(1, "entry", "entries") == "1 entry" and plural(3, "entry", "entries") == "3 entries"


def test_routing_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    """Options beat LOGCTL_SERVER, which beats DATABASE_URL; the fallback is the default hub or embedded."""
    assert str(choose_route(None, None, fallback="hub").server) == DEFAULT_SERVER
    assert choose_route(None, None, fallback="embedded").database is not None
    monkeypatch.setenv("DATABASE_URL", "postgresql://env/db")
    assert choose_route(None, None, fallback="hub").reason == "DATABASE_URL"
    monkeypatch.setenv("LOGCTL_SERVER", "ws://env:1")
    assert str(choose_route(None, None, fallback="embedded").server) == "ws://env:1"
    assert choose_route(None, "postgresql://opt/db", fallback="hub").reason == "--database-url"
    assert str(choose_route("ws://opt:2/", None, fallback="hub").server) == "ws://opt:2"
    with pytest.raises(ConfigError):
        choose_route("ftp://nope", None, fallback="hub")


# -- delivery guarantees ---------------------------------------------------------------


def test_unacked_records_are_resent_without_duplicate_rows(dsn: str, proxy: TcpProxy) -> None:
    """Records committed but never acked (acks lost with the connection) are resent on reconnect and stored exactly once."""
    shipper = shipper_to(f"ws://127.0.0.1:{proxy.port}", hub=True)
    try:
        put_lines(shipper, "first", 1)
        assert shipper.flush(10) == 0  # connected
        proxy.hold_replies.set()  # 3,000 records fit in the window of 8 frames of 500
        put_lines(shipper, "resend", 3000)
        wait_until(lambda: count(dsn, "resend")[0] == 3000, timeout=20)
        assert shipper.stats().committed == 1  # the hub committed them all; no ack got through
        proxy.hold_replies.clear()
        proxy.cut()
        assert shipper.flush(20) == 0
        stats = shipper.stats()
    finally:
        shipper.close(0)
    assert stats.resent >= 3000 and stats.reconnects >= 1 and stats.committed == 3001
    assert count(dsn, "resend") == (3000, 3000)


def test_connections_cut_mid_stream_lose_and_double_nothing(dsn: str, proxy: TcpProxy) -> None:
    """Cutting the connection again and again while 30,000 records stream leaves exactly 30,000 rows."""
    shipper = shipper_to(f"ws://127.0.0.1:{proxy.port}", hub=True)
    try:
        for _ in range(6):  # each cut lands after some of its chunk committed: a live connection to cut
            before = shipper.stats().committed
            put_lines(shipper, "cuts", 5_000)
            wait_until(lambda: shipper.stats().committed > before, timeout=60)
            proxy.cut()
        assert shipper.flush(30) == 0
        stats = shipper.stats()
    finally:
        shipper.close(0)
    assert stats.reconnects >= 1 and stats.committed == 30_000
    assert count(dsn, "cuts") == (30_000, 30_000)


def test_hub_killed_and_restarted(dsn: str, cli_env: dict[str, str]) -> None:
    """A hub killed with SIGKILL mid-stream and started again on its port gets everything, once."""
    hub = HubProcess(dsn, cli_env, port=free_port())
    shipper = shipper_to(hub.url, hub=True)
    try:
        put_lines(shipper, "first", 1)
        assert shipper.flush(10) == 0  # connected, so that the kill cuts a live connection
        put_lines(shipper, "killed", 10_000)
        hub.kill()
        put_lines(shipper, "killed-after", 1_000)
        time.sleep(0.3)
        hub.start()
        assert shipper.flush(30) == 0
        assert shipper.stats().reconnects >= 1
    finally:
        shipper.close(0)
        hub.kill()
    assert count(dsn, "killed") == (10_000, 10_000)
    assert count(dsn, "killed-after") == (1_000, 1_000)


def test_database_connection_killed_mid_stream(dsn: str) -> None:
    """The direct path reconnects after its backend is terminated and writes each record once."""
    app = f"logctl-test-{uuid.uuid4().hex[:8]}"
    shipper = shipper_to(make_conninfo(dsn, application_name=app), hub=False, batch=200)
    try:
        feeder = threading.Thread(target=put_lines, args=(shipper, "pgkill", 20_000))
        feeder.start()
        killed = 0
        for _ in range(4):
            time.sleep(0.05)
            killed += len(query(dsn, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                                (app,)))
        feeder.join()
        assert shipper.flush(30) == 0
        stats = shipper.stats()
    finally:
        shipper.close(0)
    assert killed >= 1 and stats.reconnects >= 1
    assert count(dsn, "pgkill") == (20_000, 20_000)


def lines_one_by_one(data: bytes) -> list[str]:
    """Lines as a line-by-line reader makes them: the oracle for read_batches."""
    out = []
    for raw in io.BytesIO(data):
        if raw.endswith(b"\n"):
            raw = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1]
        out.append(raw.decode("utf-8", "replace"))
    return out


@settings(max_examples=examples(500), deadline=None)
@given(data=st.lists(st.sampled_from([b"a", b"\n", b"\r", b"\r\n", b"\xff", b"\xe2\x82", b"\xac", "é🚀".encode(), b"\x00"]),
                     max_size=40).map(b"".join),
       read_size=st.integers(1, 8))
def test_read_batches_makes_the_lines_a_line_by_line_reader_makes(data: bytes, read_size: int) -> None:
    """Whatever the reads cut (mid-line, mid-UTF-8 sequence, between \\r and \\n), the lines are the same."""
    stream = io.BufferedReader(io.BytesIO(data), buffer_size=read_size)
    batches = list(read_batches(stream, read_size))
    assert all(batches)
    assert [line for batch in batches for line in batch] == lines_one_by_one(data)


class Unanswered:
    """A transport that takes frames and never acknowledges them."""

    window = 8
    producer_id = "unanswered"

    def describe(self) -> str:
        return "nowhere"

    def open(self) -> None:
        pass

    def send(self, frame: Frame[LogRecord]) -> None:
        pass

    def poll(self, timeout: float) -> list[Reply]:
        return []

    def close(self) -> None:
        pass


def test_put_many_blocks_for_room_then_stops_and_counts_the_rest_as_dropped() -> None:
    """Under "block", put_many takes records until the spool is full; after the timeout the rest are dropped, counted."""
    shipper = Shipper(Unanswered(), SpoolLimits(capacity=3, policy="block"))
    records = [LogRecord("t", f"m{i}") for i in range(5)]
    assert shipper.put_many(records, [10] * 5, timeout=0.05) == 3
    stats = shipper.stats()
    assert (stats.accepted, stats.pending, stats.dropped) == (3, 3, 2)
    shipper.close(0)


# -- frames the hub takes: encoded size, rejection counts ------------------------------


def test_records_of_control_characters_are_cut_into_frames_the_hub_takes(dsn: str, hub: HubProcess) -> None:
    """4 MB of control characters (24 MB as JSON escapes) reach a default hub in frames under its limit: all committed once, no reconnect."""
    shipper = Shipper(choose_route(hub.url, None, fallback="hub").transport(uuid.uuid4().hex), SpoolLimits(policy="block"),
                      retry=RetryPolicy(base=0.05, cap=0.2, spread=0.5)).start()
    now = dt.datetime.now(dt.timezone.utc)
    records = [draft_record("\x01\x1f" * 50_000 + f" {i}", "ctl", "INFO", now) for i in range(40)]
    try:
        assert shipper.put_many(records, [record_size(r) for r in records], timeout=5) == 40
        assert shipper.flush(30) == 0
        stats = shipper.stats()
    finally:
        shipper.close(0)
    assert (stats.committed, stats.rejected, stats.reconnects) == (40, 0, 0)
    assert count(dsn, "ctl") == (40, 40)
    stored = query(dsn, "SELECT message FROM thread_logs WHERE thread_id = 'ctl' ORDER BY seq")
    assert [r[0] for r in stored] == [r.message for r in records]


def test_too_many_errors_in_one_frame_are_all_counted_as_rejected(dsn: str, cli_env: dict[str, str]) -> None:
    """300 records the hub rejects in one frame (100 error frames, then one summary) count as 300 rejected; the 50 valid ones are committed."""
    hub = HubProcess(dsn, cli_env, "--max-message-bytes", "100")
    shipper = Shipper(choose_route(hub.url, None, fallback="hub").transport(uuid.uuid4().hex), SpoolLimits(policy="block"),
                      retry=RetryPolicy(base=0.05, cap=0.2, spread=0.5)).start()
    now = dt.datetime.now(dt.timezone.utc)
    records = [draft_record("x" * 200 if i % 7 else f"ok {i}", "many-bad", "INFO", now) for i in range(350)]
    try:
        assert shipper.put_many(records, [record_size(r) for r in records], timeout=5) == 350
        assert shipper.flush(30) == 0
        stats = shipper.stats()
    finally:
        shipper.close(0)
        hub.kill()
    assert (stats.accepted, stats.rejected, stats.committed) == (350, 300, 50)
    assert count(dsn, "many-bad") == (50, 50)
