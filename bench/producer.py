"""One producer process for the harness: publish frames to a hub and time their acks.

Run by the harness, not by hand:

    python -m bench.producer URL --mode flood --records N [--frame 1000] [--window 8]
    python -m bench.producer URL --mode paced --rate 1000 --seconds 10 [--frame 100]

It connects, prints ``ready``, waits for a line on stdin (the harness's "go", so that all
producers start together), sends, and prints one JSON line: records acked, the wall-clock
(``time.time()``) of the first send and of the last ack, and the ack latencies in ms of
paced frames (from the frame's send to its ack, which the hub sends after COMMIT).

Frames are encoded before "go", so the producer costs little CPU while measured: the hub
and PostgreSQL are what is measured, not the client library (``bench_send.py`` measures that).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid

from websockets.sync.client import connect


def frames(producer: str, thread_id: str, n: int, size: int) -> list[str]:
    out = []
    for start in range(0, n, size):
        recs = [{"seq": i, "thread_id": thread_id, "message": f"step {i}: processed batch {i % 1000} of orders"}
                for i in range(start, min(n, start + size))]
        out.append(json.dumps({"type": "publish", "producer": producer, "ref": start, "records": recs}))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--mode", choices=("flood", "paced"), default="flood")
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--frame", type=int, default=1000)
    parser.add_argument("--window", type=int, default=8)
    parser.add_argument("--thread", default="bench")
    args = parser.parse_args()
    producer = str(uuid.uuid4())
    n = args.records if args.mode == "flood" else int(args.rate * args.seconds)
    size = args.frame
    encoded = frames(producer, args.thread, n, size)
    sent_at: dict[int, float] = {}
    latencies: list[float] = []
    with connect(args.url.rstrip("/") + "/ws", max_size=None, open_timeout=30) as ws:
        print("ready", flush=True)
        sys.stdin.readline()
        acked = sent = 0
        t0 = time.time()
        interval = size / args.rate
        last_ack = t0
        while acked < len(encoded):
            if args.mode == "flood":
                while sent < len(encoded) and sent - acked < args.window:
                    ws.send(encoded[sent])
                    sent += 1
                timeout: float | None = 60
            else:
                due = t0 + sent * interval
                now = time.time()
                while sent < len(encoded) and now >= due:
                    sent_at[sent * size] = time.time()
                    ws.send(encoded[sent])
                    sent += 1
                    due = t0 + sent * interval
                timeout = max(0.0005, due - time.time()) if sent < len(encoded) else 60
            try:
                frame = json.loads(ws.recv(timeout=timeout))
            except TimeoutError:
                if sent >= len(encoded):
                    raise
                continue
            if frame["type"] == "ack":
                acked += 1
                last_ack = time.time()
                ref = frame.get("ref")
                if ref in sent_at:
                    latencies.append((last_ack - sent_at.pop(ref)) * 1000)
            elif frame["type"] == "error":
                raise RuntimeError(frame)
    print(json.dumps({"records": n, "start": t0, "end": last_ack, "latencies": latencies}), flush=True)


if __name__ == "__main__":
    main()
