"""Replaying a spool directory: ship what dead producers left, as they would have, then delete it.

An *orphan* is a producer whose segments are in the directory and whose lock
(:func:`~logctl.client.disk_spool.claim`) can be taken: its process is gone. Its records
go out under its own ``producer_id`` and ``seq``, through the same
:class:`~logctl.client.shipper.Shipper` as live records, so a record that was already
committed is skipped by the table's unique key: exactly once. A live owner's segments
are never touched. ``logctl spool replay`` and every producer that starts with a spool
directory call :func:`replay_directory`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Final

from logctl.client.disk_spool import claim, lock_path, read_segments, release, segment_paths
from logctl.client.routing import Route
from logctl.client.shipper import Shipper
from logctl.core.drafting import record_size
from logctl.core.retry import RetryPolicy
from logctl.core.segments import Decoded, runs, summarise
from logctl.core.spool import SpoolLimits

__all__ = ["ProducerSpool", "ReplayResult", "replay_directory", "spool_status"]

logger = logging.getLogger("logctl.client.replay")

REPLAY_LIMITS: Final = SpoolLimits(capacity=200_000, batch_records=2000, policy="block")
#: Retries as ``logctl send``'s: at most a second apart.
REPLAY_RETRY: Final = RetryPolicy(base=0.05, cap=1.0, spread=0.5)
#: Records handed to the shipper at a time (and between two progress reports).
CHUNK: Final = 2000

Progress = Callable[[str, int, int], None]


@dataclasses.dataclass(frozen=True, slots=True)
class ProducerSpool:
    """One producer's segments in a spool directory."""

    producer_id: str
    live: bool
    segments: int
    records: int
    damaged_segments: int
    damaged_bytes: int
    nbytes: int


@dataclasses.dataclass(frozen=True, slots=True)
class ReplayResult:
    """What a replay found and did."""

    producers: int
    records: int
    committed: int
    rejected: int
    damaged_segments: int
    damaged_bytes: int
    live: int
    left: int

    @property
    def complete(self) -> bool:
        return self.left == 0


def _is_live(directory: Path, producer_id: str) -> bool:
    fd = claim(directory, producer_id)
    if fd is None:
        return True
    release(fd)
    return False


def spool_status(directory: Path) -> list[ProducerSpool]:
    """Every producer with segments in ``directory``: live or not, and what its segments hold."""
    out = []
    for producer_id, paths in segment_paths(directory).items():
        decoded = read_segments(paths)
        records, damaged, damaged_bytes = summarise(decoded)
        live = _is_live(directory, producer_id)
        if not live and not paths[0].exists():
            continue  # replayed and removed while we looked
        nbytes = sum(p.stat().st_size for p in paths if p.exists())
        out.append(ProducerSpool(producer_id, live, len(paths), records, damaged, damaged_bytes, nbytes))
    return out


def replay_directory(
    directory: Path,
    route: Route,
    *,
    timeout: float,
    skip: Collection[str] = (),
    progress: Progress | None = None,
) -> ReplayResult:
    """Ship every orphan's records to ``route`` and delete its files once all are committed.

    ``timeout`` is how long one orphan's replay may go without progress before it is
    left for later (its files stay). Damaged tails are skipped and counted. Producers in
    ``skip`` (the caller's own) and live ones are left alone.
    """
    totals = dict(producers=0, records=0, committed=0, rejected=0, damaged_segments=0, damaged_bytes=0, live=0, left=0)
    for producer_id, paths in segment_paths(directory).items():
        if producer_id in skip:
            continue
        fd = claim(directory, producer_id)
        if fd is None:
            totals["live"] += 1
            continue
        try:
            paths = segment_paths(directory).get(producer_id, [])  # as they are now that we hold the lock
            decoded = read_segments(paths)
            records, damaged, damaged_bytes = summarise(decoded)
            totals["producers"] += 1
            totals["records"] += records
            totals["damaged_segments"] += damaged
            totals["damaged_bytes"] += damaged_bytes
            if damaged:
                logger.warning("logctl: spool %s: %s damaged segment tail(s), %s bytes skipped (torn write or corruption)",
                               producer_id, damaged, damaged_bytes)
            committed, rejected, left = _replay_one(producer_id, decoded, route, timeout, progress)
            totals["committed"] += committed
            totals["rejected"] += rejected
            totals["left"] += left
            if not left:
                for path in paths:
                    path.unlink(missing_ok=True)
                lock_path(directory, producer_id).unlink(missing_ok=True)
        finally:
            release(fd)
    return ReplayResult(**totals)


def _replay_one(producer_id: str, decoded: Sequence[Decoded], route: Route, timeout: float,
                progress: Progress | None) -> tuple[int, int, int]:
    """Ship one orphan's records, a run of consecutive seqs at a time; ``(committed, rejected, left)``."""
    committed = rejected = left = 0
    all_runs = runs(r for d in decoded for r in d.records)
    total = sum(len(run) for run in all_runs)
    done = 0
    for number, run in enumerate(all_runs):
        shipper = Shipper(route.transport(producer_id), REPLAY_LIMITS, name="logctl-replay",
                          retry=REPLAY_RETRY, first_seq=run[0].seq, warn_refused=False).start()
        try:
            for start in range(0, len(run), CHUNK):
                chunk = [s.record for s in run[start:start + CHUNK]]
                taken = shipper.put_many(chunk, [record_size(r) for r in chunk], timeout=timeout)
                done += taken
                if progress is not None:
                    progress(producer_id, done, total)
                if taken < len(chunk):
                    break
            shipper.drain(timeout)
        finally:
            shipper.close(0)
        if shipper.refused is not None:  # nothing was stored; the segments stay for a replay with a right token
            raise shipper.refused
        stats = shipper.stats()
        committed += stats.committed
        rejected += stats.rejected
        left += len(run) - stats.committed - stats.rejected
        if left:
            logger.warning("logctl: spool %s: %s records not committed (%s); kept for a later replay",
                           producer_id, left, stats.last_error or "no progress")
            left += sum(len(r) for r in all_runs[number + 1:])
            break
    return committed, rejected, left
