"""Which access refusals the hub logs: a few lines per peer per interval, then one summary.

Every refusal is counted in ``/metrics`` by the hub whatever this decides; this only keeps a
flood of bad tokens from flooding the hub's log. Per peer (an address, whatever its port), a
window opens at the first refusal: its first ``lines`` refusals are logged, the rest are
counted, and once ``interval`` seconds have passed the count comes out as one
:class:`Suppressed` summary, from :meth:`RefusalLog.refused` (the peer's next refusal) or
:meth:`RefusalLog.due` (a periodic sweep), whichever comes first. At most ``max_peers`` peers
are tracked at once; refusals from others share one window under :data:`OTHER_PEERS`.

Pure: the caller passes ``now`` (any monotonic clock, in seconds).
"""

from __future__ import annotations

import dataclasses
from typing import Final

__all__ = ["DEFAULT_INTERVAL", "DEFAULT_LINES", "DEFAULT_MAX_PEERS", "OTHER_PEERS", "RefusalLog", "Suppressed", "Verdict"]

DEFAULT_LINES: Final = 10
DEFAULT_INTERVAL: Final = 60.0
DEFAULT_MAX_PEERS: Final = 1024
#: The shared window of peers beyond ``max_peers``.
OTHER_PEERS: Final = "other peers"


@dataclasses.dataclass(frozen=True, slots=True)
class Suppressed:
    """``count`` refusals from ``peer`` that were not logged, in a window of ``seconds``."""

    peer: str
    count: int
    seconds: float


@dataclasses.dataclass(frozen=True, slots=True)
class Verdict:
    """What to log for one refusal: first ``summary`` (the peer's window that just ended, if it
    suppressed any), then the refusal's own line if ``log``."""

    log: bool
    summary: Suppressed | None = None


@dataclasses.dataclass(slots=True)
class _Window:
    start: float
    logged: int = 0
    suppressed: int = 0


class RefusalLog:
    """Per-peer log budgets for refusals; see the module docstring."""

    def __init__(self, *, lines: int = DEFAULT_LINES, interval: float = DEFAULT_INTERVAL, max_peers: int = DEFAULT_MAX_PEERS) -> None:
        if lines < 0 or interval <= 0 or max_peers < 1:
            raise ValueError(f"RefusalLog needs lines >= 0, interval > 0 and max_peers >= 1, not {lines}, {interval}, {max_peers}")
        self.lines, self.interval, self.max_peers = lines, interval, max_peers
        self._windows: dict[str, _Window] = {}

    @property
    def peers(self) -> int:
        """Peers with an open window (memory is bounded by ``max_peers`` + 1)."""
        return len(self._windows)

    def refused(self, peer: str, now: float) -> Verdict:
        """A refusal from ``peer`` at ``now``: whether to log its line, and a summary to log first."""
        if peer not in self._windows and len(self._windows) >= self.max_peers:
            peer = OTHER_PEERS
        summary = None
        window = self._windows.get(peer)
        if window is not None and now - window.start >= self.interval:
            summary, window = self._summary(peer, window, now), None
        if window is None:
            window = self._windows[peer] = _Window(now)
        if window.logged < self.lines:
            window.logged += 1
            return Verdict(True, summary)
        window.suppressed += 1
        return Verdict(False, summary)

    def due(self, now: float) -> list[Suppressed]:
        """The summaries of every window that has ended by ``now`` (each once); ended windows are forgotten."""
        ended = [peer for peer, window in self._windows.items() if now - window.start >= self.interval]
        summaries = [self._summary(peer, self._windows[peer], now) for peer in ended]
        for peer in ended:
            del self._windows[peer]
        return [s for s in summaries if s is not None]

    def close(self, now: float) -> list[Suppressed]:
        """The summaries of every open window, ended or not (the hub is stopping); all are forgotten."""
        summaries = [self._summary(peer, window, now) for peer, window in self._windows.items()]
        self._windows.clear()
        return [s for s in summaries if s is not None]

    def _summary(self, peer: str, window: _Window, now: float) -> Suppressed | None:
        if not window.suppressed:
            return None
        return Suppressed(peer, window.suppressed, max(0.0, now - window.start))
