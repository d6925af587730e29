"""Database failures: data errors are told apart from outages, and clients never see the database's address."""

from __future__ import annotations

import psycopg
import pytest
from helpers import HubProcess, get_json, limited_role, query, wait_for_horizon

from logctl.errors import DatabaseDataError, DatabaseUnavailable
from logctl.store import LogStore
from logctl.store.connect import redact_dsn


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT 9223372036854775807::int8 + 1",  # SQLSTATE 22003: numeric value out of range
        "INSERT INTO thread_logs (thread_id, message) VALUES ('t', NULL)",  # 23502: not-null violation
        "SELECT 'infinity'::timestamptz",  # loads fine in SQL, but no datetime can hold it
    ],
)
def test_data_errors_become_database_data_error_not_unavailable(store: LogStore, statement: str) -> None:
    """A value the database refuses, or one psycopg cannot load, is DatabaseDataError: not an outage."""
    with pytest.raises(DatabaseDataError) as caught, store.connection() as conn:
        conn.execute(statement).fetchall()
    assert not caught.value.unavailable
    assert not isinstance(caught.value, DatabaseUnavailable)


def test_history_serves_a_row_whose_time_no_client_could_read_with_no_time(dsn: str, cli_env: dict[str, str]) -> None:
    """A row dated 'infinity' (possible only if migration 003's constraint was dropped by hand) is served with
    created_at null: PostgreSQL writes the page's JSON, so no value stops a thread's history (it once gave 500)."""
    query(dsn, "ALTER TABLE thread_logs DROP CONSTRAINT thread_logs_created_at_range")  # as before migration 003
    query(dsn, "INSERT INTO thread_logs (thread_id, message, created_at) VALUES ('t', 'm', 'infinity'), ('t', 'n', now())")
    wait_for_horizon(dsn)
    hub = HubProcess(dsn, cli_env)
    try:
        status, body = get_json(f"{hub.http}/admin/runs/t/logs")
        status_other, _ = get_json(f"{hub.http}/admin/runs/other/logs")
    finally:
        hub.stop()
    assert (status, status_other) == (200, 200)
    assert isinstance(body, dict)
    assert [(r["message"], r["created_at"] is None) for r in body["logs"]] == [("m", True), ("n", False)]


def test_error_bodies_never_name_the_database_user_host_or_name(dsn: str, cli_env: dict[str, str]) -> None:
    """A history that fails on the database answers a generic sentence; the role, host and database stay in the log."""
    with limited_role(dsn, "INSERT") as role_dsn:  # may write, may not read the table
        role = str(psycopg.conninfo.conninfo_to_dict(role_dsn)["user"])
        query(dsn, f'GRANT SELECT ON logctl_schema_migrations TO "{role}"')  # to check the schema version
        hub = HubProcess(role_dsn, cli_env)
        try:
            status, body = get_json(f"{hub.http}/admin/runs/t/logs")
        finally:
            hub.stop()
        log = hub.stderr()
    assert status == 503
    assert isinstance(body, dict)
    assert body["error"]["code"] == "database_unavailable"
    text = str(body)
    for secret in (role, "127.0.0.1", redact_dsn(role_dsn), "permission denied"):
        assert secret not in text
    assert "lacks a privilege" in body["error"]["message"]
    assert role in log and "permission denied" in log
