"""The disk spool's files (logctl.client.disk_spool): its background syncer."""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

import pytest

from logctl.client.disk_spool import DiskSpool, SpoolSettings
from logctl.core.records import LogRecord


def test_a_failed_sync_round_does_not_end_the_spool_syncer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An OSError while the "interval" syncer gathers descriptors (EMFILE on dup) is logged; the syncer goes on."""
    real_dup = os.dup
    calls: list[int] = []

    def failing_dup(fd: int) -> int:
        calls.append(fd)
        if len(calls) == 1:
            raise OSError(errno.EMFILE, "Too many open files")
        return real_dup(fd)

    monkeypatch.setattr(os, "dup", failing_dup)
    spool = DiskSpool(SpoolSettings(tmp_path, interval=0.01), "p1")
    try:
        spool.append(0, LogRecord("t", "m0"))
        deadline = time.monotonic() + 10
        while not calls and time.monotonic() < deadline:
            time.sleep(0.01)
        spool.append(1, LogRecord("t", "m1"))
        while len(calls) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(calls) >= 2 and spool._syncer is not None and spool._syncer.is_alive()
    finally:
        spool.close()
