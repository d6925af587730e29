"""Many subscribers in one process, for the live-latency scenario (run by the harness).

    python -m bench.subscribers URL --subscribers 100 --threads 100 --seconds 5

Opens ``--subscribers`` WebSocket connections, each subscribed (cursor "now") to thread
``live-<k % threads>``, prints ``ready`` once every one has its ``subscribed`` reply, then
records, for each record received, now minus the wall-clock time the publisher put in its
message (``"<time.time()>"``), until it has as many as the number the publisher writes on
stdin when it is done, or none has come for ``--idle`` seconds (records held back by the xmin
horizon arrive late, never early). Prints one JSON line: the delays in ms and the count.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

from websockets.asyncio.client import connect


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--subscribers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--idle", type=float, default=20.0)
    args = parser.parse_args()
    delays: list[float] = []
    last = [time.monotonic()]
    conns = []
    for k in range(args.subscribers):
        ws = await connect(args.url.rstrip("/") + "/ws", max_size=None, open_timeout=60)
        await ws.send(json.dumps({"type": "subscribe", "thread_id": f"live-{k % args.threads}", "cursor": "now"}))
        conns.append(ws)
    for ws in conns:
        while json.loads(await ws.recv())["type"] != "subscribed":
            pass

    async def receive(ws: object) -> None:
        async for raw in ws:  # type: ignore[attr-defined]
            now = time.time()
            frame = json.loads(raw)
            if frame.get("type") == "records":
                for r in frame["records"]:
                    delays.append((now - float(r["message"])) * 1000)
                last[0] = time.monotonic()

    tasks = [asyncio.create_task(receive(ws)) for ws in conns]
    print("ready", flush=True)
    expected = int(await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline) or 0)
    last[0] = time.monotonic()
    while len(delays) < expected and time.monotonic() - last[0] < args.idle:
        await asyncio.sleep(0.05)
    for t in tasks:
        t.cancel()
    for ws in conns:
        await ws.close()  # type: ignore[attr-defined]
    print(json.dumps({"count": len(delays), "delays": delays}), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
