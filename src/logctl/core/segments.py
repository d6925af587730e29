"""The disk spool's segment format and bookkeeping. Pure: bytes in, records and decisions out.

A producer with a spool directory appends every record to a *segment* file before the
logging call returns, and deletes (or truncates) a segment once every record in it is
acknowledged. After a crash another process reads the segments and ships the records
again, with their original ``producer_id`` and ``seq``; the table's unique key makes that
harmless. See docs/producers.md, "The disk spool".

A segment is a header and a run of framed records::

    header   b"LGSPOOL1"  u8 len  producer_id (ASCII)
    record   u32 len  u32 crc32(payload)  payload          (big-endian)
    payload  u64 seq  i64 created_at (µs since the epoch, UTC)  u8 len  level
             u16 len  thread_id (UTF-8)  message (UTF-8, the rest)

A crash in the middle of a write leaves a torn tail; a disk can flip bits. :func:`decode`
stops at the first frame whose length or checksum is wrong and returns the records
before it with the number of bytes it could not read, so a damaged segment still gives
up its valid prefix and never raises.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import struct
import zlib
from collections.abc import Iterable, Sequence
from typing import Final

from logctl.core.records import LogRecord

__all__ = [
    "HEADER_MAGIC",
    "MAX_FRAME_BYTES",
    "Decoded",
    "SegmentLedger",
    "SpooledRecord",
    "decode",
    "encode_header",
    "encode_record",
    "parse_segment_name",
    "runs",
    "segment_name",
    "summarise",
]

HEADER_MAGIC: Final = b"LGSPOOL1"
#: A frame longer than this is damage, not a record (a message is at most 1 MiB of UTF-8).
MAX_FRAME_BYTES: Final = 8 * 1024 * 1024

_FRAME: Final = struct.Struct(">II")
_FIXED: Final = struct.Struct(">QqB")
_TID_LEN: Final = struct.Struct(">H")
_MIN_PAYLOAD: Final = _FIXED.size + _TID_LEN.size
_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_NAME: Final = re.compile(r"^([0-9a-f]{1,64})\.([0-9]{8})\.seg$")


@dataclasses.dataclass(frozen=True, slots=True)
class SpooledRecord:
    """A record read back from a segment, with the ``seq`` it was first given."""

    seq: int
    record: LogRecord


@dataclasses.dataclass(frozen=True, slots=True)
class Decoded:
    """What a segment holds: its producer, its valid records, and the bytes past them that are damaged."""

    producer_id: str | None
    records: tuple[SpooledRecord, ...]
    damaged_bytes: int

    @property
    def damaged(self) -> bool:
        return self.damaged_bytes > 0


def encode_header(producer_id: str) -> bytes:
    """The first bytes of a segment of ``producer_id``."""
    raw = producer_id.encode("ascii")
    return HEADER_MAGIC + bytes([len(raw)]) + raw


def _micros(at: dt.datetime | None) -> int:
    if at is None:
        return 0
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.timezone.utc)
    delta = at - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


_SEQ_TIME: Final = struct.Struct(">Qq")
#: The encoded ``level, thread_id`` part of a payload, by (level, thread id): they repeat.
_LABELS: dict[tuple[str, str], bytes] = {}


def _labels(level: str, thread_id: str) -> bytes:
    raw = _LABELS.get((level, thread_id))
    if raw is None:
        lvl, tid = level.encode("ascii"), thread_id.encode("utf-8")
        raw = bytes([len(lvl)]) + lvl + _TID_LEN.pack(len(tid)) + tid
        if len(_LABELS) >= 1024:
            _LABELS.clear()
        _LABELS[(level, thread_id)] = raw
    return raw


def encode_record(seq: int, record: LogRecord) -> bytes:
    """One framed record: length, crc32 and payload."""
    payload = b"".join((
        _SEQ_TIME.pack(seq, _micros(record.created_at)),
        _labels(record.level, record.thread_id),
        record.message.encode("utf-8"),
    ))
    return _FRAME.pack(len(payload), zlib.crc32(payload)) + payload


def _decode_payload(payload: bytes) -> SpooledRecord | None:
    if len(payload) < _MIN_PAYLOAD:
        return None
    seq, micros, level_len = _FIXED.unpack_from(payload)
    at = _FIXED.size + level_len
    if at + _TID_LEN.size > len(payload):
        return None
    (tid_len,) = _TID_LEN.unpack_from(payload, at)
    start = at + _TID_LEN.size
    if start + tid_len > len(payload):
        return None
    try:
        level = payload[_FIXED.size:at].decode("ascii")
        tid = payload[start:start + tid_len].decode("utf-8")
        message = payload[start + tid_len:].decode("utf-8")
    except UnicodeDecodeError:
        return None
    created_at = _EPOCH + dt.timedelta(microseconds=micros) if micros else None
    return SpooledRecord(seq, LogRecord(tid, message, level, created_at))


def decode(data: bytes) -> Decoded:
    """The valid records of a segment's bytes and the count of bytes after them that are damaged.

    Reading stops at the first frame that is cut short, too long, or fails its checksum:
    everything from there on counts as damaged. A missing or bad header damages it all.
    """
    if len(data) < len(HEADER_MAGIC) + 1 or not data.startswith(HEADER_MAGIC):
        return Decoded(None, (), len(data))
    id_len = data[len(HEADER_MAGIC)]
    pos = len(HEADER_MAGIC) + 1 + id_len
    if pos > len(data):
        return Decoded(None, (), len(data))
    try:
        producer_id: str | None = data[len(HEADER_MAGIC) + 1:pos].decode("ascii")
    except UnicodeDecodeError:
        return Decoded(None, (), len(data))
    out: list[SpooledRecord] = []
    end = len(data)
    while pos + _FRAME.size <= end:
        length, crc = _FRAME.unpack_from(data, pos)
        start = pos + _FRAME.size
        if length > MAX_FRAME_BYTES or start + length > end:
            break
        payload = data[start:start + length]
        if zlib.crc32(payload) != crc:
            break
        spooled = _decode_payload(payload)
        if spooled is None:
            break
        out.append(spooled)
        pos = start + length
    return Decoded(producer_id, tuple(out), end - pos)


def segment_name(producer_id: str, index: int) -> str:
    """The file name of ``producer_id``'s segment number ``index``."""
    return f"{producer_id}.{index:08d}.seg"


def parse_segment_name(name: str) -> tuple[str, int] | None:
    """``(producer_id, index)`` of a segment's file name; None for any other file."""
    match = _NAME.match(name)
    return (match.group(1), int(match.group(2))) if match else None


def runs(records: Iterable[SpooledRecord]) -> list[list[SpooledRecord]]:
    """Records in ``seq`` order, duplicates removed, cut where the numbering has a gap."""
    by_seq = {r.seq: r for r in records}
    out: list[list[SpooledRecord]] = []
    for seq in sorted(by_seq):
        if out and out[-1][-1].seq == seq - 1:
            out[-1].append(by_seq[seq])
        else:
            out.append([by_seq[seq]])
    return out


@dataclasses.dataclass(slots=True)
class _Segment:
    index: int
    first_seq: int
    last_seq: int
    nbytes: int


class SegmentLedger:
    """Which segments a live producer has, what each holds, and what to do on appends and acks.

    The writer asks :meth:`append` where a record goes (the current segment, or a new one
    once it holds ``segment_bytes``), and :meth:`ack` which segments are done: closed
    segments whose records are all acknowledged are deleted; the current one is truncated
    back to its header. ``nbytes`` is what the segments hold on disk, for the size cap.
    """

    def __init__(self, header_bytes: int, *, segment_bytes: int = 4 * 1024 * 1024, max_bytes: int = 256 * 1024 * 1024) -> None:
        self.header_bytes = header_bytes
        self.segment_bytes = segment_bytes
        self.max_bytes = max_bytes
        self._closed: list[_Segment] = []
        self._current: _Segment | None = None
        self._next_index = 0
        self.nbytes = 0

    @property
    def current_index(self) -> int | None:
        return self._current.index if self._current is not None else None

    @property
    def segments(self) -> int:
        return len(self._closed) + (self._current is not None)

    def has_room(self, size: int) -> bool:
        """Whether ``size`` more bytes fit under the cap (an empty spool takes any one record)."""
        return self.nbytes + size <= self.max_bytes or self.nbytes <= self.header_bytes * self.segments

    def append(self, first_seq: int, seqs: int, nbytes: int) -> tuple[int | None, int]:
        """Account for ``seqs`` records of ``nbytes`` from ``first_seq`` on.

        Returns ``(closed, index)``: the segment to close first (None if the current one
        goes on), and the segment the bytes go to (new when it differs from the last).
        """
        closed: int | None = None
        cur = self._current
        if cur is not None and cur.nbytes + nbytes > self.segment_bytes and cur.nbytes > self.header_bytes:
            self._closed.append(cur)
            closed, cur = cur.index, None
        if cur is None:
            cur = self._current = _Segment(self._next_index, first_seq, first_seq - 1, self.header_bytes)
            self._next_index += 1
            self.nbytes += self.header_bytes
        if cur.nbytes == self.header_bytes:
            cur.first_seq = first_seq
        cur.last_seq = first_seq + seqs - 1
        cur.nbytes += nbytes
        self.nbytes += nbytes
        return closed, cur.index

    def ack(self, upto: int) -> tuple[list[int], bool]:
        """Every ``seq <= upto`` is acknowledged: the closed segments to delete, and whether to truncate the current one."""
        delete = [s.index for s in self._closed if s.last_seq <= upto]
        if delete:
            self._closed = [s for s in self._closed if s.last_seq > upto]
            self.nbytes = sum(s.nbytes for s in self._closed) + (self._current.nbytes if self._current else 0)
        cur = self._current
        truncate = cur is not None and cur.nbytes > self.header_bytes and cur.last_seq <= upto
        if truncate:
            assert cur is not None
            self.nbytes -= cur.nbytes - self.header_bytes
            cur.nbytes = self.header_bytes
        return delete, truncate


def summarise(decoded: Sequence[Decoded]) -> tuple[int, int, int]:
    """``(records, damaged segments, damaged bytes)`` over the decoded segments of one producer."""
    return (
        len({r.seq for d in decoded for r in d.records}),
        sum(1 for d in decoded if d.damaged),
        sum(d.damaged_bytes for d in decoded),
    )
