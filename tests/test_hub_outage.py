"""The hub's promise that no acked record is lost: database restarts and a killed hub."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import psycopg
import pytest
from websockets.exceptions import WebSocketException
from websockets.sync.client import connect

from helpers import HubProcess, run_cli, wait_until, wire_records


def test_database_restart_mid_stream_loses_nothing(restartable_db: tuple[str, dict[str, str]]) -> None:
    """With PostgreSQL stopped and restarted mid-stream, every record is stored once, acked, and streamed once; live records keep flowing during the outage."""
    dsn, env = restartable_db
    hub = HubProcess(dsn, env)
    total, per_frame = 2000, 20
    acked: list[int] = []
    pending_seen: list[int] = []
    committed: list[dict[str, Any]] = []
    try:
        with connect(hub.url + "/ws") as sub, connect(hub.url + "/ws") as pub:
            sub.send(json.dumps({"type": "subscribe", "thread_id": "dbr"}))
            assert json.loads(sub.recv(timeout=10))["type"] == "subscribed"
            stop_reading = threading.Event()

            def read_subscription() -> None:
                while not stop_reading.is_set() and len(committed) < total:
                    try:
                        frame = json.loads(sub.recv(timeout=0.2))
                    except TimeoutError:
                        continue
                    if frame["type"] != "records":
                        continue
                    if frame.get("pending"):
                        pending_seen.extend(r["seq"] for r in frame["records"])
                    else:
                        committed.extend(frame["records"])

            def read_acks() -> None:
                while not acked or acked[-1] < total - 1:
                    frame = json.loads(pub.recv(timeout=60))
                    if frame["type"] == "ack":
                        acked.append(frame["upto"])

            readers = [threading.Thread(target=read_subscription, daemon=True), threading.Thread(target=read_acks, daemon=True)]
            for t in readers:
                t.start()
            for start in range(0, total, per_frame):
                if start == total // 4:
                    wait_until(lambda: len(acked) > 5)
                    assert run_cli(["db-stop"], env).returncode == 0
                if start == total // 2:
                    assert run_cli(["db-url"], env).returncode == 0  # starts it again
                records = wire_records("dbr", start, start + per_frame)
                pub.send(json.dumps({"type": "publish", "producer": "outage", "records": records}))
                time.sleep(0.01)
            readers[1].join(60)
            assert acked and acked[-1] == total - 1
            wait_until(lambda: len(committed) >= total, timeout=30)
            stop_reading.set()
            readers[0].join(5)
        with psycopg.connect(dsn) as conn:
            seqs = [r[0] for r in conn.execute("SELECT seq FROM thread_logs WHERE thread_id = 'dbr' ORDER BY seq")]
        assert seqs == list(range(total))
        assert [r["seq"] for r in committed] == list(range(total))
        assert pending_seen, "no live (pending) records were broadcast while the database was down"
    finally:
        hub.kill()


@pytest.mark.both_layouts
def test_killed_hub_loses_no_acked_record_and_resends_make_no_duplicates(dsn: str, cli_env: dict[str, str]) -> None:
    """SIGKILL the hub mid-stream: a producer that resends its unacked records to the restarted hub ends with every record stored exactly once."""
    hub = HubProcess(dsn, cli_env)
    total, per_frame = 3000, 50
    unacked: dict[int, dict[str, Any]] = {}
    next_seq = 0
    killed = False
    try:
        deadline = time.monotonic() + 90  # each reconnect is retried, but not forever
        while next_seq < total or unacked:
            assert time.monotonic() < deadline, f"{len(unacked)} records still unacked after 90 s of reconnects"
            try:
                with connect(hub.url + "/ws") as pub:
                    if unacked:  # resend everything not yet acked, in order
                        pub.send(json.dumps({"type": "publish", "producer": "k", "records": [unacked[s] for s in sorted(unacked)]}))
                    while (next_seq < total or unacked) and time.monotonic() < deadline:
                        if next_seq < total:
                            batch = wire_records("kill", next_seq, min(total, next_seq + per_frame))
                            unacked.update((r["seq"], r) for r in batch)
                            next_seq += len(batch)
                            pub.send(json.dumps({"type": "publish", "producer": "k", "records": batch}))
                        if next_seq >= total // 2 and not killed:
                            killed = True
                            hub.kill()
                            hub.start()  # same port
                        try:
                            frame = json.loads(pub.recv(timeout=0.05 if next_seq < total else 10))
                        except TimeoutError:
                            continue
                        if frame["type"] == "ack":
                            for s in [s for s in unacked if s <= frame["upto"]]:
                                del unacked[s]
            except (OSError, WebSocketException):
                time.sleep(0.1)  # the hub went away: reconnect and resend
    finally:
        hub.kill()
    assert killed
    with psycopg.connect(dsn) as conn:
        seqs = [r[0] for r in conn.execute("SELECT seq FROM thread_logs WHERE thread_id = 'kill' ORDER BY seq")]
    assert seqs == list(range(total))
