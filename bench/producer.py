"""One producer process for the harness: publish frames to a hub and time their acks.

Run by the harness, not by hand:

    python -m bench.producer URL --mode flood --records N [--frame 1000] [--window 8]
    python -m bench.producer URL --mode paced --rate 1000 --seconds 10 [--frame 100]
    python -m bench.producer URL --mode stream [--frame 1000] [--window 8]

It connects, prints ``ready``, waits for a line on stdin (the harness's "go", so that all
producers start together), sends, and prints one JSON line: records acked, the wall-clock
(``time.time()``) of the first send and of the last ack, and the ack latencies in ms of
paced frames (from the frame's send to its ack, which the hub sends after COMMIT).

Frames are encoded before "go", so the producer costs little CPU while measured: the hub
and PostgreSQL are what is measured, not the client library (``bench_send.py`` measures that).

``--mode stream`` floods without end instead, until a second line on stdin: its frames are
made as they go from a template (about 0.3 ms a frame of 1,000, the same in every window it is
measured over), and it prints ``{"t": time.time(), "records": acked so far}`` about four times
a second, so that the harness reads the rate of any window of one uninterrupted flood
(:class:`bench.scenario_tables.IngestStream`), then a last line with ``"done": true``.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import uuid

from websockets.sync.client import ClientConnection, connect


def frames(producer: str, thread_id: str, n: int, size: int) -> list[str]:
    out = []
    for start in range(0, n, size):
        recs = [{"seq": i, "thread_id": thread_id, "message": f"step {i}: processed batch {i % 1000} of orders"}
                for i in range(start, min(n, start + size))]
        out.append(json.dumps({"type": "publish", "producer": producer, "ref": start, "records": recs}))
    return out


def stream(ws: ClientConnection, producer: str, thread_id: str, size: int, window: int) -> None:
    """``--mode stream``: flood until a line on stdin, ``window`` frames in flight; print acked records as they grow."""
    stop = threading.Event()

    def wait_for_stop() -> None:
        sys.stdin.readline()
        stop.set()

    threading.Thread(target=wait_for_stop, daemon=True).start()
    head = '{"type":"publish","producer":' + json.dumps(producer) + ',"ref":%d,"records":['
    record = '{"seq":%d,"thread_id":' + json.dumps(thread_id) + ',"message":"step %d: processed batch %d of orders"}'
    sent = acked = 0
    last = 0.0
    while not stop.is_set() or acked < sent:
        while not stop.is_set() and sent - acked < window:
            start = sent * size
            ws.send(head % start + ",".join(record % (i, i, i % 1000) for i in range(start, start + size)) + "]}")
            sent += 1
        frame = json.loads(ws.recv(timeout=120))
        if frame["type"] == "ack":
            acked += 1
            now = time.time()
            if now - last >= 0.25:
                print(json.dumps({"t": now, "records": acked * size}), flush=True)
                last = now
        elif frame["type"] == "error":
            raise RuntimeError(frame)
    print(json.dumps({"t": time.time(), "records": acked * size, "done": True}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--mode", choices=("flood", "paced", "stream"), default="flood")
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--frame", type=int, default=1000)
    parser.add_argument("--window", type=int, default=8)
    parser.add_argument("--thread", default="bench")
    args = parser.parse_args()
    producer = str(uuid.uuid4())
    if args.mode == "stream":
        with connect(args.url.rstrip("/") + "/ws", max_size=None, open_timeout=30) as ws:
            print("ready", flush=True)
            sys.stdin.readline()
            stream(ws, producer, args.thread, args.frame, args.window)
        return
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
