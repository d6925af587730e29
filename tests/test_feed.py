"""The hub in process (logctl.hub.feed, logctl.hub.server) against a real database: what survives errors and failed handshakes."""

from __future__ import annotations

import asyncio
import json

from logctl.core.fanout import FanOut
from logctl.core.metrics import HubMetrics
from logctl.hub.feed import Feed, Outlet
from logctl.store import LogStore
from helpers import records


def test_an_error_while_fanning_out_does_not_end_the_feed(store: LogStore) -> None:
    """A send that raises is logged and counted; the feed goes on delivering later rows to every subscriber."""

    async def main() -> list[str]:
        metrics = HubMetrics()
        feed = Feed(store, asyncio.get_running_loop(), metrics, FanOut())
        got: list[str] = []
        failures = [RuntimeError("a bug in one send")]

        def bad_send(text: str) -> None:
            if failures:
                raise failures.pop()

        async def paced(text: str) -> None:
            pass

        feed.start()
        try:
            for send in (bad_send, got.append):
                conn = feed.connect(Outlet(send=send, send_paced=paced, buffered=lambda: 0, close_slow=lambda: None))
                await feed.subscribe(conn, "t", None)
            await asyncio.to_thread(store.insert, records("t", 1, start=0))
            for _ in range(600):  # up to 30 s: the row must first fall below the xmin horizon
                feed.wake()
                if metrics.internal_errors:
                    break
                await asyncio.sleep(0.05)
            assert metrics.internal_errors == 1
            await asyncio.to_thread(store.insert, records("t", 1, start=1))
            for _ in range(600):  # up to 30 s: the row must first fall below the xmin horizon
                feed.wake()
                if any('"m1"' in text for text in got):
                    break
                await asyncio.sleep(0.05)
            return got
        finally:
            await feed.stop()

    got = asyncio.run(main())
    messages = [r["message"] for text in got for r in json.loads(text)["records"]]
    assert messages[-1] == "m1"


def test_a_handshake_that_fails_after_routing_leaves_no_grant_behind(store: LogStore) -> None:
    """An upgrade request that websockets refuses after the route allowed it (no Sec-WebSocket-Key) keeps no grant."""
    from logctl.hub.server import Hub, HubConfig

    async def main() -> tuple[list[bytes], int]:
        hub = Hub(store, HubConfig(host="127.0.0.1", port=0))
        host, port = await hub.start()
        try:
            statuses = []
            for _ in range(3):
                reader, writer = await asyncio.open_connection(host, port)
                writer.write(f"GET / HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                             "Connection: Upgrade\r\n\r\n".encode())
                statuses.append((await asyncio.wait_for(reader.readline(), 10)).split()[1])
                writer.close()
                await writer.wait_closed()
            return statuses, len(hub._grants)
        finally:
            await hub.stop()

    statuses, grants = asyncio.run(main())
    assert statuses == [b"400"] * 3
    assert grants == 0
