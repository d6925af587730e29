"""Records per second per level over a sliding window: the data behind the viewer's sparklines."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable

from logctl.core.records import LEVELS, LogRecord, assume_utc

__all__ = ["ActivityCounter"]


@dataclasses.dataclass(slots=True)
class ActivityCounter:
    """Records per second per level over the last ``window`` seconds, for a sparkline."""

    window: int = 60
    _buckets: dict[str, dict[int, int]] = dataclasses.field(default_factory=lambda: {lv: {} for lv in LEVELS})
    _latest: int = 0

    def add(self, records: Iterable[LogRecord], now: dt.datetime) -> None:
        """Count records at their ``created_at`` (or ``now``); older than the window are ignored."""
        current = int(assume_utc(now).timestamp())
        self._latest = max(self._latest, current)
        floor = self._latest - self.window
        for record in records:
            at = int(assume_utc(record.created_at).timestamp()) if record.created_at else current
            at = min(at, current)
            if at <= floor:
                continue
            bucket = self._buckets.setdefault(record.level, {})
            bucket[at] = bucket.get(at, 0) + 1

    def series(self, now: dt.datetime) -> dict[str, list[int]]:
        """Per level, ``window`` counts, oldest first, ending at ``now``; old buckets are forgotten."""
        current = int(assume_utc(now).timestamp())
        self._latest = max(self._latest, current)
        first = current - self.window + 1
        out: dict[str, list[int]] = {}
        for level, bucket in self._buckets.items():
            for stale in [t for t in bucket if t < first]:
                del bucket[stale]
            out[level] = [bucket.get(t, 0) for t in range(first, current + 1)]
        return out

    def total(self, now: dt.datetime) -> int:
        """Records counted within the window."""
        return sum(sum(v) for v in self.series(now).values())
