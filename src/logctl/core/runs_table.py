"""How ``logctl threads`` prints the thread list: a table like ``kubectl get pods``, or JSON Lines. Pure.

The caller passes ``now``, so a thread's LAST ACTIVITY age (``5s``, ``3m``, ``2h``, ``4d``)
can be tested without a clock.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from typing import Final

from logctl.core.protocol.runs import RunSummary
from logctl.core.records import assume_utc

__all__ = ["HEADERS", "format_age", "runs_json_lines", "runs_table"]

HEADERS: Final = ("THREAD", "LAST ACTIVITY", "RECORDS", "ERRORS", "WARNINGS")


def format_age(then: dt.datetime | None, now: dt.datetime) -> str:
    """How long ago ``then`` was, in its largest whole unit: ``5s``, ``3m``, ``2h``, ``4d``; ``-`` if unknown.

    A time in the future (a producer's clock ahead of this one) shows as ``0s``.
    """
    if then is None:
        return "-"
    seconds = max(0, int((assume_utc(now) - assume_utc(then)).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def runs_table(runs: Sequence[RunSummary], now: dt.datetime) -> list[str]:
    """The header and one line per thread, columns padded to their widest cell, separated by 3 spaces."""
    cells = [HEADERS] + [
        (run.thread_id, format_age(run.last_at, now), str(run.count),
         str(run.levels.get("ERROR", 0)), str(run.levels.get("WARN", 0)))
        for run in runs
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(HEADERS))]
    return ["   ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in cells]


def runs_json_lines(runs: Iterable[RunSummary]) -> list[str]:
    """One JSON object per thread, in the shape of ``GET /admin/runs``."""
    return [json.dumps(run.to_json(), ensure_ascii=False) for run in runs]
