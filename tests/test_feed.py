"""The hub's feed (logctl.hub.feed) against a real database, with outlets of its own."""

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
            for _ in range(200):  # up to 10 s
                feed.wake()
                if metrics.internal_errors:
                    break
                await asyncio.sleep(0.05)
            assert metrics.internal_errors == 1
            await asyncio.to_thread(store.insert, records("t", 1, start=1))
            for _ in range(200):  # up to 10 s
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
