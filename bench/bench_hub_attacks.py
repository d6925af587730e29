"""What one hostile connection costs the hub: RSS, event-loop stall, canary latency.

Run:  .venv/bin/python bench/bench_hub_attacks.py [--database-url URL]
      PYTHONPATH=/path/to/other/checkout/src .venv/bin/python bench/bench_hub_attacks.py   (to compare)

Attacks, each against a fresh `logctl serve`:
  million    one 1.9 MiB publish frame of 1,000,000 invalid records ``[1,1,1,…]``
  queue      frames as large as the hub takes (default limit, or 60 MiB on hubs without one),
             sent back to back, 16 of them, by a client that reads nothing
While the attacker sends, a canary pings on its own connection every 5 ms (the longest wait
for a pong is the event-loop stall), publishes one record (time to its ack) and subscribes
(time to that record, live). The hub's RSS is read from /proc before and at the end, and its
peak (VmHWM). Figures are printed, nothing is asserted.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

from websockets.sync.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Hub, arguments, schema  # noqa: E402


def _status(pid: int, key: str) -> float:
    """A /proc/PID/status field in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _canary(url: str, stop: threading.Event, out: dict[str, float]) -> None:
    """Ping every 5 ms and record the longest round trip (inf: no pong within 60 s)."""
    worst = 0.0
    with connect(url + "/ws", max_size=None, ping_interval=None) as c:
        while not stop.is_set():
            t0 = time.perf_counter()
            c.send('{"type":"ping","ref":1}')
            try:
                while json.loads(c.recv(timeout=60))["type"] != "pong":
                    pass
            except TimeoutError:
                worst = float("inf")
                break
            worst = max(worst, time.perf_counter() - t0)
            time.sleep(0.005)
    out["stall_s"] = worst


def _publish_and_live(url: str, out: dict[str, float]) -> None:
    """Time one record's ack and its live delivery (inf: not within 60 s)."""
    out["ack_s"] = out["live_s"] = float("inf")
    try:
        _timed_publish(url, out)
    except TimeoutError:
        pass


def _timed_publish(url: str, out: dict[str, float]) -> None:
    with connect(url + "/ws", max_size=None, ping_interval=None) as sub, connect(url + "/ws", max_size=None, ping_interval=None) as pub:
        sub.send(json.dumps({"type": "subscribe", "thread_id": "canary", "cursor": "now"}))
        while json.loads(sub.recv(timeout=60))["type"] != "subscribed":
            pass
        t0 = time.perf_counter()
        pub.send(json.dumps({"type": "publish", "records": [{"thread_id": "canary", "message": "alive"}]}))
        while json.loads(pub.recv(timeout=60))["type"] != "ack":
            pass
        out["ack_s"] = time.perf_counter() - t0
        while json.loads(sub.recv(timeout=60))["type"] != "records":
            pass
        out["live_s"] = time.perf_counter() - t0


def attack(dsn: str, name: str, frames: list[str], settle: float) -> dict[str, float]:
    with Hub(dsn) as hub:
        pid = hub.proc.pid
        time.sleep(0.5)
        out: dict[str, float] = {"rss_before_mib": _status(pid, "VmRSS")}
        stop = threading.Event()
        pinger = threading.Thread(target=_canary, args=(hub.url, stop, out))
        pinger.start()
        time.sleep(0.2)
        attacker = connect(hub.url + "/ws", max_size=None, max_queue=1, ping_interval=None)
        sender = threading.Thread(target=lambda: [attacker.send(f) for f in frames])
        sender.start()
        time.sleep(0.05)
        _publish_and_live(hub.url, out)  # during the attack
        sender.join(60)
        time.sleep(settle)
        out["rss_after_mib"] = _status(pid, "VmRSS")
        out["rss_peak_mib"] = _status(pid, "VmHWM")
        stop.set()
        pinger.join(90)
        hub.proc.kill()  # no drain: the attacker's connection may never close cleanly
    print(f"{name:8s} " + "  ".join(f"{k}={v:.3f}" if k.endswith("_s") else f"{k}={v:.0f}" for k, v in out.items()), flush=True)
    return out


def main() -> None:
    args = arguments(__doc__).parse_args()
    million = '{"type":"publish","records":[' + ",".join(["1"] * 1_000_000) + "]}"
    try:
        from logctl.hub.server import frame_limit  # a hub with a frame limit sized to the message limit

        size = frame_limit(1024 * 1024) - 1024
    except ImportError:
        size = 60 * 1024 * 1024
    big = '{"type":"nope","pad":"' + "x" * size + '"}'
    with schema(args.database_url) as dsn:
        attack(dsn, "million", [million], settle=3.0)
        attack(dsn, "queue", [big] * 16, settle=3.0)


if __name__ == "__main__":
    main()
