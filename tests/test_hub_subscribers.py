"""Fault isolation at the hub's subscriber edge (issue 7): one subscriber's input or thread stops no one else."""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from helpers import HubProcess, get_json, publish, query, recv_json, recv_until, sql_insert, wait_until, ws

#: A canary must get its live record within this many seconds (a bound, not a speed test).
BOUND = 10.0


def canary(hub: HubProcess, thread: str = "canary") -> float:
    """A subscriber on its own thread gets a record published now, live, within BOUND; the seconds it took."""
    with ws(hub) as sub, ws(hub) as pub:
        sub.send(json.dumps({"type": "subscribe", "thread_id": thread, "cursor": "now"}))
        recv_until(sub, "subscribed", BOUND)
        start = time.monotonic()
        publish(pub, [{"thread_id": thread, "message": "still alive"}], ref="canary")
        assert recv_until(pub, "ack", BOUND)["accepted"] == 1
        frame = recv_until(sub, "records", BOUND)
        assert frame["records"][-1]["message"] == "still alive"
        return time.monotonic() - start


def health(hub: HubProcess) -> tuple[int, dict[str, object]]:
    status, body = get_json(f"{hub.http}/healthz")
    assert isinstance(body, dict)
    return status, body


def metric(hub: HubProcess, name: str) -> int:
    with urllib.request.urlopen(f"{hub.http}/metrics", timeout=5) as resp:
        for line in resp.read().decode().splitlines():
            if line.startswith(f"logctl_{name} "):
                return int(float(line.split()[1]))
    raise AssertionError(f"no metric logctl_{name}")


def rss_mib(hub: HubProcess) -> float:
    """The hub process's resident memory in MiB (Linux)."""
    assert hub.proc is not None
    for line in Path(f"/proc/{hub.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def still_open(c: ClientConnection) -> None:
    """The connection still answers a ping frame."""
    c.send(json.dumps({"type": "ping", "ref": "alive?"}))
    assert recv_until(c, "pong")["ref"] == "alive?"


# -- cursors --------------------------------------------------------------------------


@pytest.mark.parametrize("cursor", ["1-99999999999999999999", "99999999999999999999-1", "1-9223372036854775808"])
def test_an_oversized_cursor_is_refused_and_live_delivery_goes_on_for_everyone(hub: HubProcess, cursor: str) -> None:
    """A cursor part at or over 2^63 gets bad_cursor; it never reaches the shared feed query, so the others stay live."""
    with ws(hub) as c:
        c.send(json.dumps({"type": "subscribe", "thread_id": "big", "cursor": cursor}))
        err = recv_json(c)
        assert (err["type"], err["code"]) == ("error", "bad_cursor")
        still_open(c)
        assert canary(hub) < BOUND


def test_non_ascii_digits_in_a_cursor_get_bad_cursor_over_ws_and_400_over_http(hub: HubProcess) -> None:
    """'²-1' passes str.isdigit(); it must be a precise error, not a 1011 close or a 500."""
    with ws(hub) as c:
        c.send(json.dumps({"type": "subscribe", "thread_id": "t", "cursor": "²-1"}))
        err = recv_json(c)
        assert (err["type"], err["code"]) == ("error", "bad_cursor")
        still_open(c)
    status, body = get_json(f"{hub.http}/admin/runs/t/logs?after=%C2%B2-1")
    assert status == 400
    assert isinstance(body, dict) and body["error"]["code"] == "bad_cursor"


# -- a thread whose rows cannot be read ----------------------------------------------------


def poison(dsn: str, thread: str) -> None:
    """Store a row that cannot be read back (created_at beyond Python's datetime once in UTC).

    Any CHECK constraint that now forbids it is dropped first: this is the table of a
    database that took such a row before that constraint existed.
    """
    for (name,) in query(dsn, "SELECT conname FROM pg_constraint WHERE conrelid = 'thread_logs'::regclass AND contype = 'c'"):
        query(dsn, f'ALTER TABLE thread_logs DROP CONSTRAINT "{name}"')
    query(dsn, "INSERT INTO thread_logs (thread_id, message, created_at) VALUES (%s, 'poison', '9999-12-31T23:59:59-14:00')", (thread,))


def test_a_thread_whose_rows_cannot_be_read_is_reported_and_other_threads_stay_live(hub: HubProcess, dsn: str) -> None:
    """The shared feed read fails on one thread's row: that thread's subscribers get thread_unreadable, the rest go on."""
    with ws(hub) as victim, ws(hub) as bystander:
        victim.send(json.dumps({"type": "subscribe", "thread_id": "poisoned", "cursor": "now"}))
        recv_until(victim, "subscribed")
        bystander.send(json.dumps({"type": "subscribe", "thread_id": "fine", "cursor": "now"}))
        recv_until(bystander, "subscribed")
        poison(dsn, "poisoned")
        err = recv_until(victim, "error", BOUND)
        assert (err["code"], err["thread_id"]) == ("thread_unreadable", "poisoned")
        assert "postgres" not in err["message"] and "@" not in err["message"]
        # Other threads, old subscribers and new ones alike, still get their rows live.
        sql_insert(dsn, [("fine", "after the poison", None)])
        assert recv_until(bystander, "records", BOUND)["records"][-1]["message"] == "after the poison"
        assert canary(hub) < BOUND
        assert metric(hub, "threads_unreadable_total") == 1
        status, body = health(hub)
        assert status == 200 and body["writes"] == "up"  # the database and writes are fine: truthful
        # A subscriber who comes while the thread is unreadable is told too, once caught up.
        with ws(hub) as latecomer:
            latecomer.send(json.dumps({"type": "subscribe", "thread_id": "poisoned", "cursor": "now"}))
            recv_until(latecomer, "subscribed")
            late = recv_until(latecomer, "error", BOUND)
            assert (late["code"], late["thread_id"]) == ("thread_unreadable", "poisoned")
        # Once the row is gone, the thread is read again and its subscriber goes on.
        query(dsn, "DELETE FROM thread_logs WHERE message = 'poison'")
        sql_insert(dsn, [("poisoned", "healed", None)])
        assert recv_until(victim, "records", BOUND)["records"][-1]["message"] == "healed"


# -- limits ------------------------------------------------------------------------------


def test_subscriptions_per_connection_are_capped_with_a_precise_error(dsn: str, cli_env: dict[str, str]) -> None:
    """Past --max-subscriptions one connection gets too_many_subscriptions (counted); it stays open and may resubscribe."""
    hub = HubProcess(dsn, cli_env, "--max-subscriptions", "3")
    try:
        with ws(hub) as c:
            for t in ("a", "b", "c"):
                c.send(json.dumps({"type": "subscribe", "thread_id": t, "cursor": "now"}))
                recv_until(c, "subscribed")
            c.send(json.dumps({"type": "subscribe", "thread_id": "d", "cursor": "now"}))
            err = recv_json(c)
            assert (err["type"], err["code"]) == ("error", "too_many_subscriptions")
            c.send(json.dumps({"type": "subscribe", "thread_id": "a", "cursor": "now"}))
            assert recv_json(c)["type"] == "subscribed"
            c.send(json.dumps({"type": "unsubscribe", "thread_id": "b"}))
            recv_until(c, "unsubscribed")
            c.send(json.dumps({"type": "subscribe", "thread_id": "d", "cursor": "now"}))
            assert recv_json(c)["type"] == "subscribed"
            assert metric(hub, "limit_subscriptions_total") == 1
            # "subscribed" goes out before a "now" subscription has read the horizon and registered
            wait_until(lambda: metric(hub, "subscribers") == 3, timeout=10)
            assert canary(hub) < BOUND
    finally:
        hub.kill()


def test_a_client_that_never_reads_its_pongs_is_closed_at_the_outgoing_limit(hub: HubProcess) -> None:
    """Pings with big refs to a connection that never reads: closed as slow near 32 MiB unsent, not a hub that grows."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    sock.connect(("127.0.0.1", hub.port))
    before = rss_mib(hub)
    ref = "x" * (4 * 1024 * 1024)
    with connect(hub.url + "/ws", sock=sock, max_size=None, max_queue=1, close_timeout=1) as attacker:
        attacker.send(json.dumps({"type": "subscribe", "thread_id": "quiet", "cursor": "now"}))
        sent = 0
        try:
            for _ in range(40):  # 160 MiB of pongs asked for
                attacker.send(json.dumps({"type": "ping", "ref": ref}))
                sent += 1
        except ConnectionClosed:
            pass
        wait_until(lambda: metric(hub, "limit_outgoing_bytes_total") >= 1, timeout=BOUND)
        grown = rss_mib(hub) - before
        assert canary(hub) < BOUND
        status, body = health(hub)
        assert status == 200 and body["writes"] == "up"
    assert grown < 120, f"the hub grew by {grown:.0f} MiB for one client that does not read"
