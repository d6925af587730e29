"""Fault isolation at the hub's ingest edge (issue 7): one client's input affects only its own frame."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading
from typing import Any

import psycopg

from helpers import HubProcess, get_json, publish, recv_json, recv_until, wait_until, ws
from logctl.core.metrics import HubMetrics
from logctl.core.records import Row
from logctl.hub.writer import Failure, GroupWriter
from logctl.store import LogStore

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)


def canary(hub: HubProcess, thread: str = "canary", timeout: float = 10) -> None:
    """A publisher on its own connection gets its ack, and a subscriber its live record, within ``timeout``."""
    with ws(hub) as sub, ws(hub) as pub:
        sub.send(json.dumps({"type": "subscribe", "thread_id": thread, "cursor": "now"}))
        recv_until(sub, "subscribed", timeout)
        publish(pub, [{"thread_id": thread, "message": "still alive"}], ref="canary")
        assert recv_until(pub, "ack", timeout)["accepted"] == 1
        frame = recv_until(sub, "records", timeout)
        assert frame["records"][-1]["message"] == "still alive"


def healthy(hub: HubProcess) -> bool:
    status, body = get_json(f"{hub.http}/healthz")
    return status == 200 and isinstance(body, dict) and body["writes"] == "up"


def test_lone_surrogates_in_thread_id_and_producer_are_refused_and_writes_go_on(hub: HubProcess, store: LogStore) -> None:
    """A thread_id or producer holding a lone surrogate gets invalid_utf8; the writer lives, later records are acked."""
    with ws(hub) as c:
        c.send('{"type":"publish","producer":"p","ref":1,"records":[{"seq":1,"thread_id":"x\\ud800","message":"m"},'
               '{"seq":2,"thread_id":"ok","message":"fine"}]}')
        error = recv_json(c)
        assert (error["type"], error["code"], error["seq"], error["index"]) == ("error", "invalid_utf8", 1, 0)
        assert "thread_id" in error["message"]
        assert recv_until(c, "ack") == {"type": "ack", "ref": 1, "producer": "p", "upto": 2, "accepted": 1, "rejected": 1}
        c.send('{"type":"publish","producer":"p\\udfff","ref":2,"records":[{"seq":3,"thread_id":"ok","message":"m"}]}')
        error = recv_json(c)
        assert (error["code"], "producer" in error["message"]) == ("invalid_utf8", True)
        for field, value in (("level", "INF\\ud800"), ("created_at", "2026-01-01\\ud800"), ("message", "m\\ud800")):
            c.send('{"type":"publish","records":[{"thread_id":"ok","message":"m","%s":"%s"}]}' % (field, value) if field != "message"
                   else '{"type":"publish","records":[{"thread_id":"ok","message":"%s"}]}' % value)
            error = recv_json(c)
            assert (error["code"], field in error["message"]) == ("invalid_utf8", True), error
            recv_until(c, "ack")
        c.send('{"type":"subscribe","thread_id":"t","cursor":"1-\\ud800"}')
        assert recv_json(c)["code"] == "bad_cursor"
    canary(hub)
    assert healthy(hub)
    assert store.count("ok") == 1


def test_a_row_the_database_refuses_is_isolated_and_the_rest_of_its_batch_is_written(hub: HubProcess, dsn: str, store: LogStore) -> None:
    """A row failing a constraint gets rejected_by_database; every other row of the batch is committed and acked."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("ALTER TABLE thread_logs ADD CONSTRAINT no_poison CHECK (message <> 'poison')")
    records = [{"seq": i, "thread_id": "iso", "message": "poison" if i == 37 else f"m{i}"} for i in range(100)]
    with ws(hub) as c:
        publish(c, records, producer="p", ref=5)
        error = recv_json(c)
        assert (error["code"], error["seq"], error["index"], error["ref"]) == ("rejected_by_database", 37, 37, 5)
        assert "no_poison" in error["message"] and "postgresql://" not in error["message"]
        assert recv_until(c, "ack") == {"type": "ack", "ref": 5, "producer": "p", "upto": 99, "accepted": 99, "rejected": 1}
    assert store.count("iso") == 99
    canary(hub)
    assert healthy(hub)
    _, text = get_metrics(hub)
    assert "logctl_records_write_rejected_total 1" in text


def get_metrics(hub: HubProcess) -> tuple[int, str]:
    import urllib.request

    with urllib.request.urlopen(f"{hub.http}/metrics", timeout=10) as resp:
        return resp.status, resp.read().decode()


def test_the_writer_survives_any_exception_and_completes_every_job(store: LogStore) -> None:
    """A row that raises outside the database layer is failed alone; a raising completion does not stop the next one."""

    async def main() -> tuple[list[Failure], list[str], bool]:
        loop = asyncio.get_running_loop()
        writer = GroupWriter(store, loop, HubMetrics())
        writer.start()
        calls: list[str] = []
        first: asyncio.Future[list[Failure]] = loop.create_future()
        good: Row = ("w", "fine", "INFO", NOW, None, None)
        bad: Row = ("w\ud800", "unencodable", "INFO", NOW, None, None)  # past validation, as a bug would let it

        def boom(_failures: list[Failure]) -> None:
            calls.append("boom")
            raise RuntimeError("a completion that fails")

        await writer.put([good, bad, good], first.set_result)
        await writer.put([good], boom)
        last: asyncio.Future[list[Failure]] = loop.create_future()
        await writer.put([good], last.set_result)
        failures = await asyncio.wait_for(first, 10)
        assert await asyncio.wait_for(last, 10) == []
        alive = writer.alive
        await asyncio.to_thread(writer.stop, 5)
        return failures, calls, alive

    failures, calls, alive = asyncio.run(main())
    assert [f.position for f in failures] == [1] and "UnicodeEncodeError" in failures[0].reason
    assert calls == ["boom"] and alive
    assert store.count("w") == 4


def test_a_lone_surrogate_in_ref_costs_no_other_producer_its_acks(hub: HubProcess) -> None:
    """Frames whose ref holds a lone surrogate are refused; an honest producer meanwhile gets all 300 acks."""
    stop = threading.Event()

    def attack() -> None:
        with ws(hub) as a:
            while not stop.is_set():
                a.send('{"type":"publish","ref":"r\\ud800","records":[{"thread_id":"a","message":"m"}]}')
                a.send('{"type":"ping","ref":["\\ud800"]}')
                assert recv_json(a)["code"] == "invalid_utf8"
                assert recv_json(a)["code"] == "invalid_utf8"

    attacker = threading.Thread(target=attack)
    attacker.start()
    try:
        acks = 0
        with ws(hub) as c:
            for i in range(300):
                publish(c, [{"seq": i, "thread_id": "honest", "message": f"m{i}"}], producer="honest", ref=i)
            while acks < 300:
                frame = recv_json(c)
                assert frame["type"] == "ack", frame
                assert frame["ref"] == acks
                acks += 1
    finally:
        stop.set()
        attacker.join(10)
    assert not attacker.is_alive()


def test_deeply_nested_json_gets_an_error_frame_and_the_connection_stays(hub: HubProcess) -> None:
    """A frame nested 100,000 deep is bad_json; the same connection then answers a ping."""
    with ws(hub) as c:
        c.send("[" * 100_000 + "]" * 100_000)
        assert recv_json(c)["code"] == "bad_json"
        c.send('{"type":"publish","records":[{"thread_id":"n","message":"m"}],"ref":' + "9" * 5000 + "}")
        assert recv_json(c)["code"] == "bad_json"
        c.send(json.dumps({"type": "ping", "ref": 2}))
        assert recv_json(c) == {"type": "pong", "ref": 2}


def test_a_frame_of_a_million_records_is_refused_whole_with_one_error(hub: HubProcess) -> None:
    """1,000,000 records in one frame get one too_many_records error (not a million); others are served meanwhile."""
    frame = '{"type":"publish","producer":"p","ref":9,"records":[' + ",".join(["1"] * 1_000_000) + "]}"
    with ws(hub) as c:
        c.send(frame)
        canary(hub)
        error = recv_json(c)
        assert (error["code"], error["ref"], error["producer"]) == ("too_many_records", 9, "p")
        c.send(json.dumps({"type": "ping", "ref": 1}))
        assert recv_json(c) == {"type": "pong", "ref": 1}  # and nothing else came before it
    assert healthy(hub)
    _, text = get_metrics(hub)
    assert "logctl_limit_records_per_frame_total 1" in text


def test_error_frames_per_publish_are_capped_with_one_summary(hub: HubProcess) -> None:
    """5,000 bad records give 100 error frames, one too_many_errors summary counting the other 4,900, then the ack."""
    with ws(hub) as c:
        publish(c, [1] * 4999 + [{"seq": 0, "thread_id": "ok", "message": "m"}] + [2], producer="p", ref=3)
        frames: list[dict[str, Any]] = []
        while not frames or frames[-1]["type"] != "ack":
            frames.append(recv_json(c))
    errors, summary, ack = frames[:100], frames[100], frames[101]
    assert len(frames) == 102
    assert [e["index"] for e in errors] == list(range(100)) and {e["code"] for e in errors} == {"bad_record"}
    assert (summary["code"], summary["count"], summary["index"], summary["ref"]) == ("too_many_errors", 4900, 100, 3)
    assert (ack["accepted"], ack["rejected"]) == (1, 5000)


def test_a_negative_seq_is_not_taken_as_the_ack_upto(hub: HubProcess) -> None:
    """The ack after a frame whose only record has seq -1 says upto null, not -1."""
    with ws(hub) as c:
        publish(c, [{"seq": -1, "thread_id": "n", "message": "m"}], producer="p")
        assert recv_json(c)["code"] == "bad_seq"
        assert recv_until(c, "ack")["upto"] is None


def _locked(dsn: str) -> psycopg.Connection[Any]:
    """A connection holding an exclusive lock on thread_logs (until it is closed): writes wait."""
    conn = psycopg.connect(dsn)
    conn.execute("LOCK TABLE thread_logs IN ACCESS EXCLUSIVE MODE")
    return conn


def test_healthz_says_503_while_records_wait_too_long_and_the_backlog_is_bounded_per_record(dsn: str, cli_env: dict[str, str], store: LogStore) -> None:
    """With writes blocked, /healthz turns 503 "stalled" after --max-write-wait, and one big frame never pushes the backlog past --max-backlog."""
    hub = HubProcess(dsn, cli_env, "--max-write-wait", "0.5", "--max-backlog", "100")
    try:
        assert healthy(hub)
        lock = _locked(dsn)
        try:
            with ws(hub) as c:
                publish(c, [{"seq": i, "thread_id": "b", "message": f"m{i}"} for i in range(500)], producer="p", ref=1)
                wait_until(lambda: get_json(f"{hub.http}/healthz")[0] == 503, timeout=10)
                status, body = get_json(f"{hub.http}/healthz")
                assert isinstance(body, dict) and body["writes"] == "stalled" and body["oldest_unwritten_seconds"] > 0.5
                assert 0 < body["backlog"] <= 100
                lock.rollback()
                lock.close()
                assert recv_until(c, "ack", timeout=20)["accepted"] == 500
            wait_until(lambda: healthy(hub), timeout=10)
        finally:
            lock.close()
        assert store.count("b") == 500
        _, text = get_metrics(hub)
        assert "logctl_limit_backlog_total 1" in text
    finally:
        hub.kill()


def test_sigterm_with_records_held_says_what_became_of_them(dsn: str, cli_env: dict[str, str]) -> None:
    """A hub stopped while it cannot write says how many records it held unwritten (not acked) and exits 1."""
    hub = HubProcess(dsn, cli_env)
    lock = _locked(dsn)
    try:
        with ws(hub) as c:
            publish(c, [{"seq": i, "thread_id": "held", "message": f"m{i}"} for i in range(7)], producer="p")
            wait_until(lambda: get_json(f"{hub.http}/healthz")[1]["backlog"] == 7, timeout=10)  # type: ignore[index]
            assert hub.stop(timeout=40) == 1
        err = hub.stderr()
        assert "logctl.hub.server: stopped with 7 of the 7 records held at shutdown unwritten" in err and "not acked" in err, err
        assert "logctl: logctl." not in err  # one prefix: logging is configured once, by the CLI
    finally:
        lock.close()
        hub.close()



def _raw_http(hub: HubProcess, method: str, path: str) -> bytes:
    """Send one HTTP/1.1 request with a raw socket and return the whole answer."""
    import socket

    with socket.create_connection(("127.0.0.1", hub.port), timeout=10) as sock:
        sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n".encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_other_methods_get_405_and_head_gets_headers_without_a_body(hub: HubProcess) -> None:
    """POST/PUT/DELETE/OPTIONS get 405 with Allow: GET, HEAD and no logs; HEAD gets GET's headers and no body."""
    for method in ("POST", "PUT", "DELETE", "OPTIONS"):
        answer = _raw_http(hub, method, "/admin/runs/t/logs")
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 405"), answer[:200]
        assert b"\r\nAllow: GET, HEAD" in head and b'"logs"' not in body
    head, _, body = _raw_http(hub, "HEAD", "/admin/runs/t/logs").partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and body == b""
    get_head, _, get_body = _raw_http(hub, "GET", "/admin/runs/t/logs").partition(b"\r\n\r\n")
    assert f"Content-Length: {len(get_body)}".encode() in head and b"application/json" in head


def test_serve_names_the_address_it_cannot_bind_and_exits_non_zero(hub: HubProcess, dsn: str, cli_env: dict[str, str]) -> None:
    """A port in use, --port 99999 and an address not of this machine each give one error line, no traceback."""
    from helpers import error_lines, run_cli

    for host, port in (("127.0.0.1", str(hub.port)), ("127.0.0.1", "99999"), ("192.0.2.1", "0")):
        insecure = ["--insecure-no-auth"] if host == "192.0.2.1" else []  # else refused first, for want of tokens
        result = run_cli(["serve", "--host", host, "--port", port, "--database-url", dsn, *insecure], cli_env, timeout=60)
        assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
        (line,) = error_lines(result.stderr)
        assert f"cannot listen on {host}:{port}" in line


def test_sigterm_right_after_the_ready_line_still_drains(dsn: str, cli_env: dict[str, str]) -> None:
    """SIGTERM sent the moment the ready line is read ends the hub cleanly (exit 0), every time."""
    for _ in range(5):
        hub = HubProcess(dsn, cli_env)
        assert hub.stop() == 0


def test_a_frame_over_the_frame_limit_closes_only_its_connection(hub: HubProcess) -> None:
    """A 9 MiB frame (the limit is 8 MiB) closes its connection with 1009, is counted, and others go on."""
    with ws(hub) as c:
        c.send(json.dumps({"type": "ping", "ref": "x" * (9 * 1024 * 1024)}))
        try:
            c.recv(timeout=10)
        except Exception:
            pass
        assert c.close_code == 1009
    canary(hub)
    assert healthy(hub)
    _, text = get_metrics(hub)
    assert "logctl_limit_frame_bytes_total 1" in text


def test_healthz_and_metrics_count_open_websocket_connections(hub: HubProcess) -> None:
    """/healthz and /metrics count the open WebSocket connections (websockets' Server.connections), and forget closed ones."""
    with ws(hub), ws(hub):
        wait_until(lambda: get_json(f"{hub.http}/healthz")[1]["connections"] == 2, timeout=10)  # type: ignore[index]
        assert "logctl_connections 2" in get_metrics(hub)[1]
    wait_until(lambda: get_json(f"{hub.http}/healthz")[1]["connections"] == 0, timeout=10)  # type: ignore[index]
