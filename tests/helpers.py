"""Helpers shared by tests: run the CLI for real, wait for conditions."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Sequence


def run_cli(args: Sequence[str], env: dict[str, str], *, input: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``python -m logctl ARGS`` and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "logctl", *args],
        env=env, input=input, capture_output=True, text=True, timeout=timeout,
    )


def wait_until(condition: Callable[[], bool], timeout: float = 10.0, interval: float = 0.02) -> None:
    """Poll ``condition`` until it is true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")
