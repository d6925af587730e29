"""The hub against real PostgreSQL and real WebSocket clients."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.parse
from typing import Any

import psycopg
import pytest
from websockets.sync.client import connect

from helpers import HubProcess, collect, get_json, publish, recv_json, recv_until, run_cli, wait_for_horizon, wait_until, ws
from logctl.store import LogStore


@pytest.mark.both_layouts
def test_publish_is_acked_after_commit_and_history_has_the_seed_shape(hub: HubProcess, store: LogStore) -> None:
    """An ack arrives once rows are in PostgreSQL; the history API returns the seed's JSON, latest N oldest first."""
    with ws(hub) as c:
        publish(c, [{"seq": i, "thread_id": "t1", "message": f"line {i}", "level": "warning" if i == 3 else "INFO"} for i in range(1, 6)], producer="p", ref=7)
        ack = recv_until(c, "ack")
    assert ack == {"type": "ack", "ref": 7, "producer": "p", "upto": 5, "accepted": 5, "rejected": 0}
    assert store.count("t1") == 5
    wait_for_horizon(store.dsn)  # history shows rows once no older transaction can still commit
    status, body = get_json(f"{hub.http}/admin/runs/t1/logs?limit=3")
    assert status == 200 and isinstance(body, dict)
    assert body["count"] == 3
    assert [r["message"] for r in body["logs"]] == ["line 3", "line 4", "line 5"]
    first = body["logs"][0]
    assert {"id", "thread_id", "message", "created_at", "level"} <= first.keys()
    assert first["level"] == "WARN" and first["thread_id"] == "t1" and first["created_at"].endswith("Z")
    assert isinstance(first["id"], int)


def test_history_paging_with_before_cursor(hub: HubProcess, store: LogStore) -> None:
    """``before=`` pages back through older rows with no overlap."""
    with ws(hub) as c:
        publish(c, [{"thread_id": "pg", "message": str(i)} for i in range(25)])
        recv_until(c, "ack")
    wait_for_horizon(store.dsn)
    _, page1 = get_json(f"{hub.http}/admin/runs/pg/logs?limit=10")
    assert isinstance(page1, dict)
    _, page2 = get_json(f"{hub.http}/admin/runs/pg/logs?limit=10&before={page1['before']}")
    assert isinstance(page2, dict)
    assert [r["message"] for r in page2["logs"]] + [r["message"] for r in page1["logs"]] == [str(i) for i in range(5, 25)]


@pytest.mark.both_layouts
def test_subscribe_reconnect_with_cursor_has_no_gap_and_no_duplicate(hub: HubProcess, store: LogStore) -> None:
    """A subscriber that disconnects mid-stream and resumes from its last cursor sees every row once, in order."""
    total = 3000
    done = threading.Event()

    def produce() -> None:
        with ws(hub) as p:
            for start in range(0, total, 100):
                publish(p, [{"seq": i, "thread_id": "rc", "message": f"m{i}"} for i in range(start, start + 100)], producer="prod")
                time.sleep(0.005)
            while recv_until(p, "ack")["upto"] != total - 1:
                pass
        done.set()

    producer = threading.Thread(target=produce)
    producer.start()
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    for round_ in range(6):
        with ws(hub) as c:
            c.send(json.dumps({"type": "subscribe", "thread_id": "rc", "cursor": cursor}))
            assert recv_json(c)["type"] == "subscribed"
            deadline = time.monotonic() + (0.15 if round_ < 5 else 20)
            while time.monotonic() < deadline and len(seen) < total:
                try:
                    frame = recv_json(c, max(0.01, deadline - time.monotonic()))
                except TimeoutError:
                    break
                if frame["type"] == "records":
                    seen.extend(frame["records"])
                    cursor = frame["records"][-1]["cursor"]
    producer.join(30)
    assert done.is_set()
    assert [r["message"] for r in seen] == [f"m{i}" for i in range(total)]
    db = [r.id for r in store.history("rc", limit=total).records]
    assert [r["id"] for r in seen] == db


@pytest.mark.both_layouts
def test_late_committing_row_is_not_skipped(hub: HubProcess, dsn: str) -> None:
    """Two plain-SQL writers committing out of id order both reach a subscriber, the earlier transaction first."""
    with ws(hub) as c:
        c.send(json.dumps({"type": "subscribe", "thread_id": "ooo", "cursor": "now"}))
        recv_until(c, "subscribed")
        a = psycopg.connect(dsn)
        b = psycopg.connect(dsn)
        try:
            a.execute("INSERT INTO thread_logs (thread_id, message) VALUES ('ooo', 'A: lower id, commits last')")
            b.execute("INSERT INTO thread_logs (thread_id, message) VALUES ('ooo', 'B: higher id, commits first')")
            b.commit()
            time.sleep(0.5)  # B is committed, but A is in flight: B must not be sent yet
            with pytest.raises(TimeoutError):
                recv_until(c, "records", timeout=0.5)
            a.commit()
        finally:
            a.close()
            b.close()
        got = collect(c, 2)
    assert [r["message"] for r in got] == ["A: lower id, commits last", "B: higher id, commits first"]
    assert got[0]["id"] < got[1]["id"]
    # Resuming from A's cursor yields exactly B: the cursor skipped nothing.
    with ws(hub) as c:
        c.send(json.dumps({"type": "subscribe", "thread_id": "ooo", "cursor": got[0]["cursor"]}))
        assert [r["message"] for r in collect(c, 1)] == ["B: higher id, commits first"]


@pytest.mark.both_layouts
def test_plain_sql_inserts_reach_subscribers(hub: HubProcess, dsn: str) -> None:
    """Rows another program INSERTs straight into thread_logs stream live."""
    with ws(hub) as c:
        c.send(json.dumps({"type": "subscribe", "thread_id": "sql"}))
        recv_until(c, "subscribed")
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("INSERT INTO thread_logs (thread_id, message, level) VALUES ('sql', 'from psql', 'ERROR')")
        (rec,) = collect(c, 1)
    assert rec["message"] == "from psql" and rec["level"] == "ERROR" and rec["created_at"]


@pytest.mark.both_layouts
def test_two_hubs_share_one_database(dsn: str, cli_env: dict[str, str]) -> None:
    """A record sent to one hub reaches a subscriber of another hub on the same database."""
    one, two = HubProcess(dsn, cli_env), HubProcess(dsn, cli_env)
    try:
        with ws(two) as sub, ws(one) as pub:
            sub.send(json.dumps({"type": "subscribe", "thread_id": "x"}))
            recv_until(sub, "subscribed")
            publish(pub, [{"thread_id": "x", "message": "via hub one"}])
            recv_until(pub, "ack")
            (rec,) = collect(sub, 1)
        assert rec["message"] == "via hub one"
    finally:
        one.kill()
        two.kill()


@pytest.mark.both_layouts
def test_resent_records_make_no_duplicate_rows(hub: HubProcess, store: LogStore) -> None:
    """Sending the same (producer, seq) again, on a new connection, is acked and stored once."""
    records = [{"seq": i, "thread_id": "dup", "message": f"r{i}"} for i in range(10)]
    for _ in range(3):
        with ws(hub) as c:
            publish(c, records, producer="same")
            assert recv_until(c, "ack")["upto"] == 9
    assert store.count("dup") == 10


def test_bad_frames_get_precise_errors_and_the_connection_stays_open(hub: HubProcess, store: LogStore) -> None:
    """Malformed frames and bad records each get an error frame; good records in the same frame are stored."""
    cases = [
        ("{not json", "bad_json"),
        ("[1, 2]", "bad_frame"),
        ('{"records": []}', "bad_frame"),
        ('{"type": "shout"}', "unknown_type"),
        ('{"type": "publish", "records": [], "extra": 1}', "unknown_field"),
        ('{"type": "subscribe", "thread_id": "t", "cursor": "12"}', "bad_cursor"),
        ('{"type": "subscribe"}', "missing_thread_id"),
    ]
    with ws(hub) as c:
        for text, code in cases:
            c.send(text)
            frame = recv_json(c)
            assert frame["type"] == "error" and frame["code"] == code, (text, frame)
            assert frame["message"]
        c.send(b"\xff\xfe not utf-8")
        assert recv_json(c)["code"] == "invalid_utf8"
        big = "x" * (1024 * 1024 + 1)
        publish(c, [
            {"seq": 1, "thread_id": "ok", "message": "fine"},
            {"seq": 2, "thread_id": "ok", "message": "nul\x00inside"},
            {"seq": 3, "thread_id": "ok", "message": big},
            {"seq": 4, "thread_id": "ok", "message": "m", "level": "LOUD"},
            {"seq": 5, "message": "no thread"},
            {"seq": 6, "thread_id": "ok", "message": "m", "colour": "red"},
            {"seq": 7, "thread_id": "x" * 300, "message": "m"},
            {"seq": 8, "thread_id": "ok", "message": "also fine", "level": "critical"},
        ], producer="bad")
        errors = {}
        while True:
            frame = recv_json(c)
            if frame["type"] == "ack":
                break
            errors[frame["seq"]] = frame["code"]
        assert errors == {3: "message_too_large", 4: "unknown_level", 5: "missing_thread_id", 6: "unknown_field", 7: "bad_thread_id"}
        assert frame["accepted"] == 3 and frame["rejected"] == 5 and frame["upto"] == 8
        c.send(json.dumps({"type": "ping", "ref": 1}))
        assert recv_json(c) == {"type": "pong", "ref": 1}
    wait_for_horizon(store.dsn)
    rows = store.history("ok").records
    assert [(r.message, r.level) for r in rows] == [("fine", "INFO"), ("nul\\x00inside", "INFO"), ("also fine", "ERROR")]


def test_invalid_utf8_text_frame_closes_only_that_connection(hub: HubProcess) -> None:
    """A text frame with invalid UTF-8 breaks WebSocket itself: that connection closes 1007, the hub stays up."""
    with ws(hub) as c:
        c.send(b"\xff\xfe", text=True)
        with pytest.raises(Exception):
            c.recv(timeout=5)
        assert c.close_code == 1007
    with ws(hub) as c:
        c.send(json.dumps({"type": "ping"}))
        assert recv_json(c)["type"] == "pong"


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("limit=abc", 400, "bad_limit"),
        ("limit=-1", 400, "bad_limit"),
        ("limit=0", 400, "bad_limit"),
        (f"limit={10**9}", 400, "bad_limit"),
        ("limit=5&limit=6", 400, "bad_query"),
        ("lmit=5", 400, "unknown_parameter"),
        ("before=zzz", 400, "bad_cursor"),
        ("before=1-1&after=1-1", 400, "bad_query"),
    ],
)
def test_bad_history_queries_get_a_json_400(hub: HubProcess, query: str, status: int, code: str) -> None:
    """Each bad query parameter is refused with a precise JSON error."""
    got, body = get_json(f"{hub.http}/admin/runs/t1/logs?{query}")
    assert got == status and isinstance(body, dict)
    assert body["error"]["code"] == code and body["error"]["message"]


def test_unknown_paths_get_404_and_hostile_thread_ids_are_literal(hub: HubProcess, store: LogStore) -> None:
    """Unknown paths are a JSON 404; a hostile thread id in the path is just a thread id."""
    status, body = get_json(f"{hub.http}/admin/runs/t1/secrets")
    assert status == 404 and isinstance(body, dict) and body["error"]["code"] == "not_found"
    hostile = "'; DROP TABLE thread_logs; --"
    with ws(hub) as c:
        publish(c, [{"thread_id": hostile, "message": "still here"}])
        recv_until(c, "ack")
    wait_for_horizon(store.dsn)
    status, body = get_json(f"{hub.http}/admin/runs/{urllib.parse.quote(hostile, safe='')}/logs")
    assert status == 200 and isinstance(body, dict)
    assert [(r["thread_id"], r["message"]) for r in body["logs"]] == [(hostile, "still here")]
    assert store.count() == 1


def test_healthz_and_metrics(hub: HubProcess) -> None:
    """/healthz reports the database and backlog; /metrics is Prometheus text with the hub's counters."""
    import urllib.request

    with ws(hub) as c:
        publish(c, [{"thread_id": "m", "message": "x"}] * 3)
        recv_until(c, "ack")
    status, body = get_json(f"{hub.http}/healthz")
    assert status == 200 and isinstance(body, dict) and body["database"] == "up" and body["backlog"] == 0
    assert isinstance(body["horizon"], int) and "oldest_write_transaction_seconds" in body
    with urllib.request.urlopen(f"{hub.http}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    assert "logctl_records_committed_total 3" in text
    assert "# TYPE logctl_batch_size histogram" in text


def test_sigterm_drains_acks_and_exits_zero(hub: HubProcess, store: LogStore) -> None:
    """On SIGTERM the hub writes and acks what it accepted, then exits 0."""
    with ws(hub) as c:
        publish(c, [{"seq": i, "thread_id": "bye", "message": str(i)} for i in range(2000)], producer="p")
        recv_until(c, "ack")
        assert hub.stop() == 0
    assert store.count("bye") == 2000


def test_no_migrate_refuses_an_old_schema(fresh_dsn: str, cli_env: dict[str, str]) -> None:
    """serve --no-migrate on an unmigrated database names the command to run and exits non-zero."""
    result = run_cli(["serve", "--no-migrate", "--port", "0", "--database-url", fresh_dsn], cli_env, timeout=30)
    assert result.returncode != 0
    assert "logctl apply-schema" in result.stderr and "Traceback" not in result.stderr


def test_serve_migrates_a_fresh_schema_and_announces_itself(fresh_dsn: str, cli_env: dict[str, str]) -> None:
    """serve applies pending migrations at startup and prints one line with its URLs and database."""
    hub = HubProcess(fresh_dsn, cli_env)
    try:
        status, body = get_json(f"{hub.http}/admin/runs/none/logs")
        assert status == 200 and body == {"logs": [], "count": 0, "cursor": body["cursor"], "before": None}  # type: ignore[index]
    finally:
        hub.kill()


def test_demo_threads_produce_traffic(dsn: str, cli_env: dict[str, str], store: LogStore) -> None:
    """serve --demo writes records to the demo threads."""
    hub = HubProcess(dsn, cli_env, "--demo")
    try:
        wait_until(lambda: store.count("demo-build") >= 3, timeout=10)
    finally:
        hub.kill()


def test_second_subscriber_catches_up_from_its_cursor_while_records_stream(hub: HubProcess, store: LogStore, dsn: str) -> None:
    """A slow subscriber joining a thread that has a live subscriber gets its long history, then the rows committed meanwhile, each once and in order."""
    history, live = 10_000, 1000
    pad = "." * 1000  # about 10 MB of history: more than the hub's socket buffer and the small one below hold
    with ws(hub) as first, ws(hub) as pub:
        for start in range(0, history, 2000):
            publish(pub, [{"seq": i, "thread_id": "cu", "message": f"m{i} {pad}"} for i in range(start, start + 2000)], producer="cu")
            recv_until(pub, "ack")
        # "now" starts at the horizon: rows above it (held back by a long transaction elsewhere
        # on the server) would still arrive live, so let the history fall below it first.
        wait_for_horizon(dsn, timeout=60)
        first.send(json.dumps({"type": "subscribe", "thread_id": "cu", "cursor": "now"}))
        recv_until(first, "subscribed")
        # The second reads nothing for now, through a small receive buffer: its catch-up
        # stalls while live rows arrive, so those wait in its backlog and follow the history.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.connect(("127.0.0.1", hub.port))
        with connect(hub.url + "/ws", sock=sock, max_size=None, max_queue=1) as second:
            second.send(json.dumps({"type": "subscribe", "thread_id": "cu"}))
            time.sleep(1.0)
            publish(pub, [{"seq": i, "thread_id": "cu", "message": f"m{i} {pad}"} for i in range(history, history + live)], producer="cu")
            recv_until(pub, "ack")
            assert [r["seq"] for r in collect(first, live)] == list(range(history, history + live))
            assert recv_json(second)["type"] == "subscribed"
            got = collect(second, history + live, timeout=60)
    assert [r["message"] for r in got] == [f"m{i} {pad}" for i in range(history + live)]
