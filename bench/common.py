"""What the benchmarks share: the default server, a throwaway schema, a `logctl serve`
subprocess and the raw COPY that every figure is measured against."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from types import TracebackType

import psycopg
from psycopg.conninfo import make_conninfo
from websockets.sync.client import ClientConnection

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/test"


def arguments(doc: str | None, *, full_doc: bool = False) -> argparse.ArgumentParser:
    """A parser with the options every bench takes: ``--records`` and ``--database-url``
    (default: ``LOGCTL_TEST_DATABASE_URL``, else :data:`DEFAULT_DSN`)."""
    text = doc or ""
    parser = argparse.ArgumentParser(
        description=text if full_doc else text.splitlines()[0] if text else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--database-url", default=os.environ.get("LOGCTL_TEST_DATABASE_URL") or DEFAULT_DSN)
    return parser


@contextmanager
def schema(server: str) -> Iterator[str]:
    """A DSN for a new schema on ``server`` with logctl's migrations applied; dropped afterwards."""
    name = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    dsn = make_conninfo(server, options=f"-c search_path={name}")
    try:
        subprocess.run([sys.executable, "-m", "logctl", "apply-schema", "--database-url", dsn], check=True, capture_output=True)
        yield dsn
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {name} CASCADE")


class Hub:
    """`logctl serve` on a free port over ``dsn`` (with ``extra`` options); ``url`` is its base URL
    (``ws://host:port``, or ``wss://`` with ``--certfile``), ``http`` its HTTP base."""

    def __init__(self, dsn: str, env: Mapping[str, str] | None = None, *extra: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "logctl", "serve", "--port", "0", "--database-url", dsn, *extra],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # "logctl hub: ws://127.0.0.1:PORT/ws  web: http://…"
        self.port = int(line.split()[2].rsplit(":", 1)[1].split("/")[0])
        secure = line.startswith("logctl hub: wss://")
        self.url = f"{'wss' if secure else 'ws'}://127.0.0.1:{self.port}"
        self.http = f"{'https' if secure else 'http'}://127.0.0.1:{self.port}"

    def close(self) -> None:
        """Stop the hub: SIGTERM, and SIGKILL if it has not exited 30 s later (seen after a 5 M-row prune,
        with the hub folding its deltas); the measurements are taken by then."""
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(30)

    def __enter__(self) -> Hub:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()


def copy_in(conn: psycopg.Connection[tuple[object, ...]], n: int) -> None:
    """Raw COPY of ``n`` rows into thread_logs from one client, committed: the ceiling."""
    with conn.cursor() as cur, cur.copy("COPY thread_logs (thread_id, message, level, created_at) FROM STDIN") as copy:
        for i in range(n):
            copy.write_row(("copy", f"message {i}", "INFO", "2026-11-30T00:00:00Z"))
    conn.commit()


def raw_copy(dsn: str, n: int) -> float:
    """Records per second of :func:`copy_in`."""
    with psycopg.connect(dsn) as conn:
        t0 = time.perf_counter()
        copy_in(conn, n)
        return n / (time.perf_counter() - t0)


def pump(ws: ClientConnection, frames: list[str], until: Callable[[int, int], bool], *, window: int = 8,
         timeout: float = 120) -> tuple[int, int]:
    """Send ``frames`` in order, ``window`` in flight, reading acks, while ``until(sent, acked)`` is false; (sent, acked)."""
    sent = acked = 0
    while not until(sent, acked):
        while sent - acked < window and sent < len(frames):
            ws.send(frames[sent])
            sent += 1
        frame = json.loads(ws.recv(timeout=timeout))
        if frame["type"] == "ack":
            acked += 1
        elif frame["type"] == "error":
            raise RuntimeError(frame)
    return sent, acked
