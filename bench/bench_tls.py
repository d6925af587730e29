"""What TLS costs: the same hub with and without ``--certfile``, side by side, as ratios.

Run:  .venv/bin/python bench/bench_tls.py [--records 200000] [--requests 200] [--rounds 3]
      [--database-url postgresql://postgres@127.0.0.1:5432/test]

Two hubs on one throwaway schema, one plain (ws://, http://) and one serving TLS with a
certificate from a CA made here by trustme (the test extra); clients verify it against that
CA. Rounds alternate between the two hubs, and each figure is the best round:

- ingest: one WebSocket producer publishing frames of 1,000 records with up to 8 in flight
  (as the producer API does), records/s, acked after commit;
- history: a fresh connection per ``GET /admin/runs/<thread>/logs?limit=100`` (the hub
  closes each HTTP connection, so every request pays a TCP and, with TLS, a TLS handshake), ms;
- handshake: open and close a WebSocket, ms.

Wall times swing with the machine's load; the hub's own CPU time (``/proc/PID/stat``, Linux)
per record ingested and per WebSocket opened does much less, so both are shown.

Nothing here is asserted anywhere.
"""

from __future__ import annotations

import json
import os
import ssl
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import trustme
from websockets.sync.client import connect

from common import Hub, arguments, schema

FRAME = 1000
WINDOW = 8


def hub_cpu(hub: Hub) -> float:
    """CPU seconds (user + system) the hub process has used so far (Linux: /proc/PID/stat)."""
    fields = Path(f"/proc/{hub.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ingest(url: str, context: ssl.SSLContext | None, n: int, producer: str) -> float:
    """Records per second for ``n`` records in frames of FRAME, WINDOW frames in flight, until the last ack."""
    start = time.perf_counter()
    with connect(url + "/ws", ssl=context, max_size=None, compression=None) as ws:
        sent = acked = 0
        ref = 0
        while acked < n:
            while sent < n and sent - acked < WINDOW * FRAME:
                batch = [{"seq": sent + i, "thread_id": "bench-tls", "message": f"record {sent + i}"} for i in range(min(FRAME, n - sent))]
                ref += 1
                ws.send(json.dumps({"type": "publish", "producer": producer, "ref": ref, "records": batch}))
                sent += len(batch)
            reply = json.loads(ws.recv(timeout=60))
            if reply.get("type") == "ack":
                acked = reply["upto"] + 1
    return n / (time.perf_counter() - start)


def history(http: str, context: ssl.SSLContext | None, requests: int) -> float:
    """Milliseconds per history GET, each on a new connection."""
    start = time.perf_counter()
    for _ in range(requests):
        with urllib.request.urlopen(f"{http}/admin/runs/bench-tls/logs?limit=100", timeout=30, context=context) as resp:
            resp.read()
    return (time.perf_counter() - start) / requests * 1e3


def handshake(url: str, context: ssl.SSLContext | None, requests: int) -> float:
    """Milliseconds per WebSocket open and close."""
    start = time.perf_counter()
    for _ in range(requests):
        with connect(url + "/ws", ssl=context, compression=None, open_timeout=60):
            pass
    return (time.perf_counter() - start) / requests * 1e3


def main() -> None:
    parser = arguments(__doc__)
    parser.set_defaults(records=200_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    client = ssl.create_default_context()
    ca.configure_trust(client)
    with tempfile.TemporaryDirectory() as tmp, schema(args.database_url) as dsn:
        cert, key = Path(tmp) / "hub.pem", Path(tmp) / "hub.key"
        cert.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
        leaf.private_key_pem.write_to_path(str(key))
        with Hub(dsn) as plain, Hub(dsn, None, "--certfile", str(cert), "--keyfile", str(key)) as tls:
            hubs: dict[str, tuple[Hub, ssl.SSLContext | None]] = {"plain": (plain, None), "tls": (tls, client)}
            best: dict[tuple[str, str], float] = {}

            def keep(what: str, name: str, value: float, better: Callable[[float, float], float]) -> None:
                best[what, name] = better(best.get((what, name), value), value)

            for r in range(args.rounds):
                for name, (hub, context) in hubs.items():
                    cpu = hub_cpu(hub)
                    keep("ingest", name, ingest(hub.url, context, args.records, f"bench-{name}-{r}"), max)
                    keep("ingest cpu", name, (hub_cpu(hub) - cpu) / args.records * 1e6, min)
                    keep("history", name, history(hub.http, context, args.requests), min)
                    cpu = hub_cpu(hub)
                    keep("handshake", name, handshake(hub.url, context, args.requests), min)
                    keep("open cpu", name, (hub_cpu(hub) - cpu) / args.requests * 1e3, min)
                    print(f"round {r + 1} {name}: " + ", ".join(f"{w} {best[w, name]:,.2f}" for w in ("ingest", "ingest cpu", "history", "handshake", "open cpu")),
                          file=sys.stderr)
    print(f"{'':10} {'ws/http':>12} {'wss/https':>12} {'TLS/plain':>10}")
    for what, unit in (("ingest", "records/s (wall)"), ("ingest cpu", "hub CPU µs/record"), ("history", "ms/request (wall)"),
                       ("handshake", "ms/open (wall)"), ("open cpu", "hub CPU ms/open")):
        p, t = best[what, "plain"], best[what, "tls"]
        print(f"{what:10} {p:12,.2f} {t:12,.2f} {t / p:10.2f}   {unit}")


if __name__ == "__main__":
    main()
