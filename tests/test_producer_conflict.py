"""A reused producer id is refused, not silently lost: conflicts on (producer_id, seq) are told apart from resends."""

from __future__ import annotations

import datetime as dt

import pytest
from typing import Any

from helpers import HubProcess, publish, query, recv_json, records, wait_for_horizon, wire_records, ws

from logctl.core.records import LogRecord, Row
from logctl.store import LogStore

pytestmark = pytest.mark.both_layouts  # each test runs on the plain and the partitioned thread_logs


AT = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def _rows(batch: list[LogRecord]) -> list[Row]:
    """Records as the validated rows the hub's writer hands to the store."""
    return [(r.thread_id, r.message, r.level, r.created_at or AT, r.producer_id, r.seq) for r in batch]


def test_write_rows_reports_conflicts_but_not_resends(store: LogStore) -> None:
    """Rows whose key is stored with other content come back as conflicts; identical resends do not."""
    first = _rows(records("t", 4, producer="p", start=1))
    assert store.write_rows(first).inserted == 4
    resend = first[:2]
    reused = [("t", "other", "INFO", first[2][3], "p", 3), ("elsewhere", first[3][1], "INFO", first[3][3], "p", 4)]
    fresh = _rows(records("t", 1, producer="p", start=5))
    result = store.write_rows([*resend, reused[0], *fresh, reused[1]])
    assert (result.inserted, result.conflicts) == (1, (2, 4))
    assert store.count() == 5
    assert [str(m) for (m,) in query(store.dsn, "SELECT message FROM thread_logs WHERE seq = 3")] == [first[2][1]]


def test_write_rows_reports_a_conflicting_duplicate_within_one_batch(store: LogStore) -> None:
    """Two rows of one batch with the same key but other content: the first is written, the second is a conflict."""
    row = _rows(records("t", 1, producer="p", start=1))[0]
    twin = ("t", "not the same", row[2], row[3], "p", 1)
    result = store.write_rows([row, row, twin])
    assert (result.inserted, result.conflicts) == (1, (2,))


def _publish_and_read(hub: HubProcess, batch: list[dict[str, Any]], producer: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Publish one frame and return its error frames and its ack."""
    with ws(hub) as conn:
        publish(conn, batch, producer=producer, ref=1)
        errors: list[dict[str, Any]] = []
        while True:
            frame = recv_json(conn, timeout=20)
            if frame["type"] == "ack":
                return errors, frame
            errors.append(frame)


def test_a_producer_reusing_another_ones_id_gets_errors_not_acks(hub: HubProcess, store: LogStore) -> None:
    """Producer B reusing A's id with other messages gets producer_conflict errors and 0 accepted; A's resend is acked."""
    errors, ack = _publish_and_read(hub, wire_records("t", 1, 11, message="a{i}"), "shared-id")
    assert (errors, ack["accepted"], ack["rejected"]) == ([], 10, 0)

    errors, ack = _publish_and_read(hub, wire_records("t", 1, 11, message="b{i}"), "shared-id")
    assert (ack["accepted"], ack["rejected"], ack["upto"]) == (0, 10, 10)
    assert [e["code"] for e in errors] == ["producer_conflict"] * 10
    assert sorted(e["seq"] for e in errors) == list(range(1, 11))
    assert all("not stored" in e["message"] for e in errors)

    errors, ack = _publish_and_read(hub, wire_records("t", 1, 11, message="a{i}"), "shared-id")  # an honest resend
    assert (errors, ack["accepted"], ack["rejected"]) == ([], 10, 0)

    wait_for_horizon(store.dsn)
    assert [r.message for r in store.history("t").records] == [f"a{i}" for i in range(1, 11)]
