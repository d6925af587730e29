"""``logctl serve --demo``: synthetic workflow threads, so a newcomer sees real traffic."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import uuid
from typing import Final

from logctl.core.records import Row
from logctl.hub.server import Hub

__all__ = ["DEMO_THREADS", "run_demo"]

DEMO_THREADS: Final = ("demo-build", "demo-etl", "demo-agent")

_STEPS: Final = {
    "demo-build": ["resolving dependencies", "compiling module {n}", "linking", "running unit tests ({n} passed)", "uploading artifact"],
    "demo-etl": ["extracting batch {n} from orders", "transforming {n} rows", "loading into warehouse", "vacuuming staging table"],
    "demo-agent": ["[API] Start requested for thread=demo-agent", "calling tool search(query={n})", "model replied in {n} ms", "planning next step"],
}

_TRACEBACK: Final = """Traceback (most recent call last):
  File "worker.py", line 42, in run_step
    result = step.execute(ctx)
  File "steps.py", line 17, in execute
    raise TimeoutError(f"upstream did not answer within {n} s")
TimeoutError: upstream did not answer within {n} s"""


async def run_demo(hub: Hub, *, rate: float = 5.0, seed: int | None = None) -> None:
    """Emit about ``rate`` records per second per thread until cancelled."""
    rng = random.Random(seed)
    producer = f"demo-{uuid.uuid4()}"
    seq = 0
    while True:
        batch: list[Row] = []
        for thread in DEMO_THREADS:
            roll = rng.random()
            level = "ERROR" if roll < 0.03 else "WARN" if roll < 0.1 else "DEBUG" if roll < 0.3 else "INFO"
            n = rng.randint(1, 999)
            message = _TRACEBACK.format(n=n) if level == "ERROR" else rng.choice(_STEPS[thread]).format(n=n)
            seq += 1
            batch.append((thread, message, level, dt.datetime.now(dt.timezone.utc), producer, seq))
        await hub.ingest(batch)
        await asyncio.sleep(1.0 / rate)
