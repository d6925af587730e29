"""The library call behind ``logctl send``: ship lines, and return only once all are committed."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from logctl.client.routing import Route
from logctl.client.shipper import Shipper
from logctl.core.batching import RECORD_OVERHEAD, SpoolLimits, clean_message
from logctl.core.records import LogRecord, normalise_level, validate_thread_id
from logctl.errors import InvalidRecord

__all__ = ["SendResult", "read_lines", "send_lines"]

#: Records per frame for ``send``: big frames, several in flight.
SEND_LIMITS = SpoolLimits(capacity=200_000, batch_records=2000, policy="block")


@dataclasses.dataclass(frozen=True, slots=True)
class SendResult:
    """How many records were read and committed, and where to."""

    read: int
    committed: int
    target: str


def read_lines(stream: BinaryIO) -> Iterator[str]:
    """Lines of a byte stream without their line ending; invalid UTF-8 becomes U+FFFD."""
    for raw in stream:
        if raw.endswith(b"\n"):
            raw = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1]
        yield raw.decode("utf-8", "replace")


def send_lines(
    lines: Iterable[str],
    *,
    thread_id: str,
    level: str,
    route: Route,
    timeout: float,
    limits: SpoolLimits = SEND_LIMITS,
) -> SendResult:
    """Ship every line as one record and wait until all are committed.

    Raises :class:`~logctl.errors.HubUnavailable` (or :class:`DatabaseUnavailable`) when
    nothing is acknowledged for ``timeout`` seconds, and :class:`InvalidRecord` when the
    destination rejected some records (the rest are committed).
    """
    thread_id, level = validate_thread_id(thread_id), normalise_level(level)
    shipper = Shipper(route.transport(uuid.uuid4().hex), limits, name="logctl-send", max_backoff=1.0).start()
    read = 0
    now, utc, put, overhead = dt.datetime.now, dt.timezone.utc, shipper.put, RECORD_OVERHEAD + len(thread_id)
    try:
        for line in lines:  # the hot loop: the checks of draft_record() were done once, above
            message = clean_message(line)
            if not put(LogRecord(thread_id, message, level, now(utc)), len(message) + overhead, timeout=timeout):
                raise _stalled(route, shipper, read + 1, timeout)
            read += 1
        if shipper.drain(timeout):
            raise _stalled(route, shipper, read, timeout)
    finally:
        shipper.close(0)
    stats = shipper.stats()
    if stats.rejected:
        raise InvalidRecord(
            "rejected", f"{stats.rejected} of {read} records were rejected by {route.describe()} (see above); "
            f"{stats.committed} committed"
        )
    return SendResult(read, stats.committed, route.describe())


def _stalled(route: Route, shipper: Shipper, read: int, timeout: float) -> Exception:
    stats = shipper.stats()
    why = stats.last_error or f"{route.describe()} acknowledged nothing"
    return route.unavailable(
        f"{read - stats.committed - stats.rejected} of {read} records were not committed after {timeout:g}s "
        f"without progress: {why}"
    )
