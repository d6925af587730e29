"""``created_at`` stays within what every reader can hold: validation, the CHECK constraint, old rows."""

from __future__ import annotations

import datetime as dt
import json
import urllib.request

import psycopg
import pytest
from helpers import HubProcess, query, run_cli, wait_for_horizon, wait_until
from websockets.sync.client import connect

from logctl.core.records import CREATED_AT_RANGE, LogRecord, parse_timestamp, row_from_wire
from logctl.errors import InvalidRecord
from logctl.store import LogStore
from logctl.store.migrate import apply_migrations, load_migrations

#: Valid ISO 8601, but outside datetime's range once converted to UTC (issue 7).
POISON = ("9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00")
LOW, HIGH = CREATED_AT_RANGE
MICRO = dt.timedelta(microseconds=1)


@pytest.mark.parametrize("value", POISON)
def test_a_timestamp_outside_datetime_in_utc_is_a_precise_bad_created_at(value: str) -> None:
    """Both of issue 7's timestamps are refused where records are validated, with code bad_created_at."""
    with pytest.raises(InvalidRecord, match="outside the supported range") as caught:
        row_from_wire({"thread_id": "t", "message": "m", "created_at": value}, producer_id=None, now=HIGH - MICRO)
    assert caught.value.code == "bad_created_at"


@pytest.mark.parametrize(
    ("value", "ok"),
    [(LOW, True), (LOW - MICRO, False), (HIGH - MICRO, True), (HIGH, False),
     (dt.datetime(2026, 1, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=-14))), True)],
)
def test_the_range_is_inclusive_below_and_exclusive_above(value: dt.datetime, ok: bool) -> None:
    """CREATED_AT_RANGE bounds parse_timestamp: its low end is accepted, its high end is not."""
    text = value.isoformat()
    if ok:
        assert parse_timestamp(text) == value
    else:
        with pytest.raises(InvalidRecord):
            parse_timestamp(text)


def test_the_store_refuses_an_out_of_range_record_from_the_library(store: LogStore) -> None:
    """LogStore.insert with a datetime beyond the range raises InvalidRecord and writes nothing."""
    far = dt.datetime(9999, 12, 31, 23, tzinfo=dt.timezone.utc)
    with pytest.raises(InvalidRecord):
        store.insert([LogRecord("t", "ok"), LogRecord("t", "far", created_at=far)])
    assert store.count() == 0


@pytest.mark.parametrize(("value", "ok"), [(LOW, True), (LOW - MICRO, False), (HIGH - MICRO, True), (HIGH, False)])
def test_the_check_constraint_holds_the_same_bounds(dsn: str, value: dt.datetime, ok: bool) -> None:
    """Plain SQL inserts meet thread_logs_created_at_range, whose bounds are CREATED_AT_RANGE's."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        statement = "INSERT INTO thread_logs (thread_id, message, created_at) VALUES ('t', 'm', %s)"
        if ok:
            conn.execute(statement, (value,))
        else:
            with pytest.raises(psycopg.errors.CheckViolation, match="thread_logs_created_at_range"):
                conn.execute(statement, (value,))


def test_migration_003_clamps_rows_already_out_of_range_and_prune_removes_the_old_one(
    fresh_dsn: str, cli_env: dict[str, str]
) -> None:
    """Rows stored before 003 beyond the range are clamped to it: history reads them, prune --days removes the ancient one."""
    before = [m for m in load_migrations() if m.version < 3]
    with psycopg.connect(fresh_dsn, autocommit=True) as conn:
        apply_migrations(conn, migrations=before)
        for value in (*POISON, "infinity", "-infinity"):
            conn.execute("INSERT INTO thread_logs (thread_id, message, created_at) VALUES ('t', %s, %s)", (value, value))
        conn.execute("INSERT INTO thread_logs (thread_id, message, created_at) VALUES ('t', 'fine', now())")
        with LogStore(fresh_dsn) as store:
            wait_for_horizon(fresh_dsn)
            with pytest.raises(Exception):  # the old failure: a value psycopg cannot load
                store.history("t")
        report = apply_migrations(conn)
    assert 3 in [m.version for m in report.applied]
    clamped = {str(m): at for m, at in query(fresh_dsn, "SELECT message, created_at FROM thread_logs")}
    assert clamped[POISON[0]] == clamped["infinity"] == HIGH - MICRO
    assert clamped[POISON[1]] == clamped["-infinity"] == LOW
    with LogStore(fresh_dsn) as store:
        assert [r.message for r in store.history("t").records] == [*POISON, "infinity", "-infinity", "fine"]
    result = run_cli(["prune", "--days", "30", "--database-url", fresh_dsn], cli_env)
    assert result.returncode == 0, result.stderr
    remaining = sorted(str(m) for (m,) in query(fresh_dsn, "SELECT message FROM thread_logs"))
    assert remaining == sorted([POISON[0], "infinity", "fine"])  # dated in the future: not "older than 30 days"


def test_a_hub_rejects_the_poison_timestamps_and_history_keeps_answering(hub: HubProcess) -> None:
    """Publishing issue 7's timestamps gets bad_created_at errors; the thread's history still answers 200."""
    with connect(hub.url + "/ws") as ws:
        records = [{"seq": i, "thread_id": "t", "message": v, "created_at": v} for i, v in enumerate(POISON)]
        ws.send(json.dumps({"type": "publish", "producer": "p", "records": [*records, {"seq": 5, "thread_id": "t", "message": "ok"}]}))
        frames = [json.loads(ws.recv(timeout=10)) for _ in range(3)]
    errors = [f for f in frames if f["type"] == "error"]
    assert [e["code"] for e in errors] == ["bad_created_at", "bad_created_at"]
    ack = next(f for f in frames if f["type"] == "ack")
    assert (ack["accepted"], ack["rejected"]) == (1, 2)

    def history() -> list[str]:
        with urllib.request.urlopen(f"{hub.http}/admin/runs/t/logs", timeout=10) as response:
            assert response.status == 200
            return [r["message"] for r in json.loads(response.read())["logs"]]

    wait_until(lambda: history() == ["ok"], timeout=10)
