"""The library call behind ``logctl send``: ship lines, and return only once all are committed."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import os
import select
import stat
import uuid
from collections.abc import Iterable, Iterator, Sequence
from typing import BinaryIO

from logctl.client.disk_spool import DiskSpool, SpoolSettings
from logctl.client.routing import Route
from logctl.client.shipper import Shipper
from logctl.core.drafting import RECORD_OVERHEAD, clean_message, json_size
from logctl.core.spool import SpoolLimits
from logctl.core.records import LogRecord, normalise_level, validate_thread_id
from logctl.core.retry import RetryPolicy
from logctl.core.wording import plural
from logctl.errors import InvalidRecord

__all__ = ["SendResult", "check_timeout", "read_batches", "send_batches", "stdin_has_data"]

#: Records per frame for ``send``: big frames, several in flight.
SEND_LIMITS = SpoolLimits(capacity=200_000, batch_records=2000, policy="block")

#: ``send`` is interactive: its reconnects wait at most a second.
SEND_RETRY = RetryPolicy(base=0.05, cap=1.0, spread=0.5)

#: Bytes asked of stdin per read; a read returns at once with whatever has arrived.
READ_SIZE = 64 * 1024


@dataclasses.dataclass(frozen=True, slots=True)
class SendResult:
    """How many records were read and committed, and where to."""

    read: int
    committed: int
    target: str


def check_timeout(seconds: float) -> float:
    """``seconds`` if it is a positive, finite number of seconds; ValueError otherwise."""
    if not (math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"the timeout must be a positive number of seconds, not {seconds:g}")
    return seconds


def stdin_has_data(stream: object) -> bool:
    """Whether ``stream`` (stdin) holds lines that ``send MESSAGE`` would leave unread.

    True for a non-empty regular file, and for a pipe or socket with data (or nothing but
    end-of-file: False) ready now; False for a terminal, ``/dev/null``, a closed
    descriptor, or a pipe whose writer has written nothing yet.
    """
    try:
        fd = stream.fileno()  # type: ignore[attr-defined]
        mode = os.fstat(fd).st_mode
    except (AttributeError, OSError, ValueError):  # no stdin at all, or a closed one
        return False
    if stat.S_ISREG(mode):
        try:
            return os.lseek(fd, 0, os.SEEK_CUR) < os.fstat(fd).st_size
        except OSError:
            return False
    if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
        return False
    ready, _, _ = select.select([fd], [], [], 0)
    if not ready:
        return False
    try:  # readable: data, or only end-of-file (an empty pipe, e.g. cron's): tell which
        return len(os.read(fd, 1)) > 0
    except OSError:
        return False


def read_batches(stream: BinaryIO, read_size: int = READ_SIZE) -> Iterator[list[str]]:
    """The complete lines of a byte stream, a list per read, as they arrive.

    Each line is without its ``\\n`` or ``\\r\\n`` (a last line without ``\\n`` is kept as
    is); invalid UTF-8 becomes U+FFFD. A read returns whatever has arrived (``read1``),
    so a slow pipe's lines go out as soon as they are complete.
    """
    read = getattr(stream, "read1", stream.read)
    partial: list[bytes] = []  # the start of a line still waiting for its \n
    while data := read(read_size):
        cut = data.rfind(b"\n") + 1
        if not cut:
            partial.append(data)
            continue
        if partial:
            partial.append(data[:cut])
            head, partial = b"".join(partial), []
        else:
            head = data[:cut]
        if cut < len(data):
            partial.append(data[cut:])
        # "\n" is ASCII, so decoding before splitting gives each line what decoding it alone would.
        lines = head.decode("utf-8", "replace").split("\n")
        lines.pop()  # the empty string after the last \n
        yield [line[:-1] if line.endswith("\r") else line for line in lines]
    if partial:
        yield [b"".join(partial).decode("utf-8", "replace")]


def send_batches(
    batches: Iterable[Sequence[str]],
    *,
    thread_id: str,
    level: str,
    route: Route,
    timeout: float,
    limits: SpoolLimits = SEND_LIMITS,
    spool: SpoolSettings | None = None,
) -> SendResult:
    """Ship every line as one record and wait until all are committed.

    The lines of one batch (one read of stdin, see :func:`read_batches`) arrived together
    and share one ``created_at``, taken when the batch is. Raises
    :class:`~logctl.errors.HubUnavailable` (or :class:`DatabaseUnavailable`) when nothing
    is acknowledged for ``timeout`` seconds, and :class:`InvalidRecord` when the
    destination rejected some records (the rest are committed). With ``spool``, each
    read is appended to the disk spool before it is taken, and what stopped producers
    left there is replayed first.
    """
    thread_id, level = validate_thread_id(thread_id), normalise_level(level)
    producer_id = uuid.uuid4().hex
    transport = route.transport(producer_id)
    journal = DiskSpool(spool, producer_id) if spool is not None else None
    if spool is not None:
        from logctl.client.replay import replay_directory

        replay_directory(spool.directory, route, timeout=timeout, skip={producer_id})
    shipper = Shipper(transport, limits, name="logctl-send", retry=SEND_RETRY, journal=journal, warn_refused=False).start()
    read = 0
    now, utc, put_many, overhead = dt.datetime.now, dt.timezone.utc, shipper.put_many, RECORD_OVERHEAD + json_size(thread_id)
    try:
        for lines in batches:  # the hot loop: the checks of draft_record() were done once, above
            at = now(utc)
            records = [LogRecord(thread_id, clean_message(line), level, at) for line in lines]
            taken = put_many(records, [json_size(r.message) + overhead for r in records], timeout=timeout)
            read += len(records)
            if taken < len(records):  # no room for ``timeout`` seconds: the rest of this read is not taken
                raise _stalled(route, shipper, read, timeout)
        if shipper.drain(timeout):
            raise _stalled(route, shipper, read, timeout)
    finally:
        shipper.close(0)
        if journal is not None:
            journal.close()
    if shipper.refused is not None:
        raise shipper.refused
    stats = shipper.stats()
    if stats.rejected:
        raise InvalidRecord(
            "rejected", f"{stats.rejected} of {plural(read, 'record')} {'was' if stats.rejected == 1 else 'were'} "
            f"rejected by {route.describe()} (see above); {stats.committed} committed"
        )
    return SendResult(read, stats.committed, route.describe())


def _stalled(route: Route, shipper: Shipper, read: int, timeout: float) -> Exception:
    if shipper.refused is not None:  # the hub refused the token: no timeout was waited for
        return shipper.refused
    stats = shipper.stats()
    why = stats.last_error or f"{route.describe()} acknowledged nothing"
    left = read - stats.committed - stats.rejected
    return route.unavailable(
        f"{left} of {plural(read, 'record')} {'was' if left == 1 else 'were'} not committed after {timeout:g}s "
        f"without progress: {why}"
    )
