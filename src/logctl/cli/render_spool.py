"""Text that ``logctl spool status|replay`` prints."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import typer

from logctl.client.replay import ProducerSpool, ReplayResult
from logctl.core.wording import plural

__all__ = ["render_replay_result", "render_spool_status", "replay_progress"]


def render_spool_status(producers: Sequence[ProducerSpool]) -> str:
    """One line per producer with segments, then a total of what a replay would ship."""
    if not producers:
        return "nothing is waiting in this spool directory"
    lines = [f"{'producer':<32}  {'state':<7}  {'segments':>8}  {'records':>9}  {'bytes':>11}  damaged"]
    for p in producers:
        damage = f"{p.damaged_segments} tail(s), {p.damaged_bytes} bytes" if p.damaged_segments else "-"
        lines.append(f"{p.producer_id:<32}  {'live' if p.live else 'stopped':<7}  {p.segments:>8}  "
                     f"{p.records:>9}  {p.nbytes:>11}  {damage}")
    stopped = [p for p in producers if not p.live]
    lines.append(f"{plural(sum(p.records for p in stopped), 'record')} of {len(stopped)} stopped producer(s) wait for a replay; "
                 f"{sum(p.records for p in producers if p.live)} are held by {len(producers) - len(stopped)} live one(s)")
    return "\n".join(lines)


def render_replay_result(result: ReplayResult) -> str:
    """What a replay did, in one line."""
    text = (f"replayed {plural(result.records, 'record')} of {result.producers} stopped producer(s): "
            f"{result.committed} committed (records stored before are not stored twice)")
    if result.rejected:
        text += f", {result.rejected} rejected"
    if result.damaged_segments:
        text += f"; skipped {result.damaged_segments} damaged segment tail(s), {result.damaged_bytes} bytes"
    if result.live:
        text += f"; left {result.live} live producer(s) alone"
    if result.left:
        text += f"; {result.left} not committed"
    return text


def replay_progress(every: float = 1.0, clock: Callable[[], float] = time.monotonic) -> Callable[[str, int, int], None]:
    """A progress callback that says on stderr how far a replay is, at most every ``every`` seconds."""
    last = [clock()]

    def report(producer_id: str, done: int, total: int) -> None:
        now = clock()
        if done < total and now - last[0] < every:
            return
        last[0] = now
        typer.echo(f"logctl: replay: producer {producer_id[:8]}…: {done} of {plural(total, 'record')} sent", err=True)

    return report
