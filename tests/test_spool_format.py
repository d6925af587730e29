"""The disk spool's pure parts (logctl.core.segments): the segment format and the segment ledger."""

from __future__ import annotations

import datetime as dt
import zlib

from hypothesis import given
from hypothesis import strategies as st

from logctl.core.records import LogRecord
from logctl.core.segments import (
    SegmentLedger,
    SpooledRecord,
    decode,
    encode_header,
    encode_record,
    parse_segment_name,
    runs,
    segment_name,
)

PRODUCER = "0123456789abcdef0123456789abcdef"

texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=200)
records = st.builds(
    LogRecord,
    thread_id=texts.filter(bool).map(lambda t: t[:256]),
    message=texts,
    level=st.sampled_from(["DEBUG", "INFO", "WARN", "ERROR"]),
    created_at=st.datetimes(
        min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(2200, 1, 1), timezones=st.just(dt.timezone.utc)
    ),
)


def segment(recs: list[LogRecord], first_seq: int = 0) -> tuple[bytes, list[int]]:
    """A segment's bytes and the offset where each record's frame ends."""
    data = bytearray(encode_header(PRODUCER))
    ends = []
    for seq, r in enumerate(recs, first_seq):
        data += encode_record(seq, r)
        ends.append(len(data))
    return bytes(data), ends


@given(st.lists(records, max_size=20), st.integers(0, 2**40))
def test_a_segment_decodes_to_the_records_written_with_their_seqs(recs: list[LogRecord], first_seq: int) -> None:
    """Encoding records and decoding the segment gives the same records, seqs and producer, no damage."""
    data, _ = segment(recs, first_seq)
    decoded = decode(data)
    assert decoded.producer_id == PRODUCER
    assert decoded.damaged_bytes == 0
    assert [s.seq for s in decoded.records] == list(range(first_seq, first_seq + len(recs)))
    assert [s.record for s in decoded.records] == recs


@given(st.lists(records, min_size=1, max_size=10), st.data())
def test_any_truncation_yields_the_whole_records_before_it_and_counts_the_rest(recs: list[LogRecord], data: st.DataObject) -> None:
    """A segment cut at any byte gives every record that ends before the cut, and the bytes after them as damage."""
    raw, ends = segment(recs)
    cut = data.draw(st.integers(0, len(raw)))
    decoded = decode(raw[:cut])
    whole = [i for i, end in enumerate(ends) if end <= cut]
    assert [s.record for s in decoded.records] == [recs[i] for i in whole]
    header = len(encode_header(PRODUCER))
    kept = ends[whole[-1]] if whole else min(cut, header) if cut >= header else 0
    assert decoded.damaged_bytes == cut - kept


@given(st.lists(records, min_size=2, max_size=10), st.data())
def test_a_flipped_byte_stops_decoding_at_the_damaged_record(recs: list[LogRecord], data: st.DataObject) -> None:
    """A bit flipped inside a record's frame is caught by the checksum: the records before it survive, never an error."""
    raw, ends = segment(recs)
    header = len(encode_header(PRODUCER))
    at = data.draw(st.integers(header, len(raw) - 1))
    broken = bytearray(raw)
    broken[at] ^= 0x40
    decoded = decode(bytes(broken))
    intact = [i for i, end in enumerate(ends) if end <= at]
    assert [s.record for s in decoded.records] == [recs[i] for i in intact]
    assert decoded.damaged_bytes == len(raw) - (ends[intact[-1]] if intact else header)


def test_zeroes_after_the_last_record_are_damage_not_records() -> None:
    """A tail of zero bytes (a file extended by a crash) is counted as damage, not read as empty records."""
    raw, _ = segment([LogRecord("t", "m")])
    decoded = decode(raw + bytes(64))
    assert len(decoded.records) == 1 and decoded.damaged_bytes == 64
    assert zlib.crc32(b"") == 0  # why a zero frame would pass a bare checksum


def test_a_file_without_the_header_is_all_damage() -> None:
    """Bytes that are not a segment give no records and count whole."""
    decoded = decode(b"not a segment at all")
    assert decoded.producer_id is None and decoded.records == () and decoded.damaged_bytes == 20


def test_segment_names_round_trip_and_other_files_are_ignored() -> None:
    """A segment's file name gives back its producer and index; lock files and strangers give None."""
    assert parse_segment_name(segment_name(PRODUCER, 7)) == (PRODUCER, 7)
    assert parse_segment_name(f"{PRODUCER}.lock") is None
    assert parse_segment_name("notes.txt") is None


def test_runs_sorts_deduplicates_and_cuts_at_gaps() -> None:
    """Records are regrouped into runs of consecutive seqs, each seq once."""
    r = [SpooledRecord(s, LogRecord("t", f"m{s}")) for s in (5, 3, 4, 4, 9, 10)]
    assert [[s.seq for s in run] for run in runs(r)] == [[3, 4, 5], [9, 10]]


def test_ledger_rotates_full_segments_and_deletes_them_once_acknowledged() -> None:
    """A segment past its size is closed; an ack deletes closed segments wholly acknowledged and truncates the current one."""
    ledger = SegmentLedger(10, segment_bytes=100, max_bytes=10_000)
    assert ledger.append(0, 5, 50) == (None, 0)
    assert ledger.append(5, 5, 50) == (0, 1)     # 10 + 50 + 50 > 100: segment 0 is closed
    assert ledger.append(10, 1, 20) == (None, 1)
    assert ledger.ack(3) == ([], False)           # segment 0 still holds seq 4
    assert ledger.ack(4) == ([0], False)
    assert ledger.ack(10) == ([], True)          # everything in segment 1 is done
    assert ledger.nbytes == 10 and ledger.segments == 1


@given(st.lists(st.tuples(st.integers(1, 50), st.integers(1, 300)), max_size=40), st.data())
def test_ledger_never_deletes_a_segment_holding_an_unacknowledged_record(appends: list[tuple[int, int]], data: st.DataObject) -> None:
    """Whatever the appends and acks, a segment is deleted or truncated only when all its seqs are acknowledged."""
    ledger = SegmentLedger(8, segment_bytes=500, max_bytes=10**9)
    where: dict[int, int] = {}  # seq -> segment index
    seq = acked = 0
    for count, nbytes in appends:
        _, index = ledger.append(seq, count, nbytes)
        where.update({s: index for s in range(seq, seq + count)})
        seq += count
        if data.draw(st.booleans()):
            acked = data.draw(st.integers(acked, seq))
            delete, truncate = ledger.ack(acked - 1)
            pending = {where[s] for s in range(acked, seq)}
            assert not set(delete) & pending
            if truncate:
                assert ledger.current_index not in pending
    assert ledger.nbytes >= 8 * ledger.segments


def test_ledger_cap_refuses_past_max_bytes_but_takes_one_record_when_empty() -> None:
    """The size cap refuses a record that would pass it, except into an empty spool."""
    ledger = SegmentLedger(10, segment_bytes=1000, max_bytes=100)
    assert ledger.has_room(500)
    ledger.append(0, 1, 80)
    assert not ledger.has_room(20) and ledger.has_room(10)
    ledger.ack(0)
    assert ledger.has_room(80)
