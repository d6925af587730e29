"""Every database failure becomes one sentence on stderr, a non-zero exit and no traceback.

This machine's PostgreSQL trusts every local login, so a wrong password cannot fail here;
the real password failure is provoked on an embedded server in ``test_embedded.py``. Here
the credential errors are a role that does not exist and a role that may not log in.
"""

from __future__ import annotations

import subprocess

import pytest
from helpers import error_lines, limited_role, records, run_cli
from psycopg.conninfo import make_conninfo

from logctl.errors import PrivilegeError
from logctl.store import LogStore

SECRET = "s3cret-Pa55word"


def _fails_cleanly(result: subprocess.CompletedProcess[str], exit_code: int, *fragments: str) -> str:
    """Assert the one-line failure shape and return the error line."""
    assert result.returncode == exit_code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert all(line.startswith("logctl: ") for line in result.stderr.splitlines()), result.stderr
    (line,) = error_lines(result.stderr)
    for fragment in fragments:
        assert fragment in line
    assert SECRET not in result.stdout + result.stderr
    return line


@pytest.mark.parametrize("command", [["apply-schema"], ["prune", "--days", "30"]])
def test_unreachable_database_is_one_line_without_password(command: list[str], cli_env: dict[str, str]) -> None:
    """A server that refuses connections gives "cannot reach the database", exit 3, password hidden."""
    url = f"postgresql://logctl:{SECRET}@127.0.0.1:1/test"
    result = run_cli([*command, "--database-url", url], cli_env)
    _fails_cleanly(result, 3, "cannot reach the database at postgresql://logctl@127.0.0.1:1/test")
    assert "using postgresql://logctl@127.0.0.1:1/test (from --database-url)" in result.stderr


def test_unreachable_database_from_database_url_env_hides_key_value_password(cli_env: dict[str, str]) -> None:
    """A key=value DSN in DATABASE_URL is named as such and its password is never printed."""
    env = {**cli_env, "DATABASE_URL": f"host=127.0.0.1 port=1 user=logctl password={SECRET} dbname=test"}
    result = run_cli(["prune", "--days", "30"], env)
    _fails_cleanly(result, 3, "cannot reach the database")
    assert "(from DATABASE_URL)" in result.stderr


def test_debug_shows_the_traceback_but_not_the_password(cli_env: dict[str, str]) -> None:
    """--debug adds the traceback to the same one-line error, still without the password."""
    url = f"postgresql://logctl:{SECRET}@127.0.0.1:1/test"
    result = run_cli(["--debug", "prune", "--days", "30", "--database-url", url], cli_env)
    assert result.returncode == 3
    assert "Traceback (most recent call last)" in result.stderr
    assert "DatabaseUnavailable" in result.stderr
    assert len(error_lines(result.stderr)) == 1
    assert SECRET not in result.stdout + result.stderr


def test_unparseable_database_url_is_a_config_error_without_password(cli_env: dict[str, str]) -> None:
    """A URL psycopg cannot parse is refused with exit 2, and the password in it is not echoed."""
    result = run_cli(["prune", "--days", "30", "--database-url", f"postgresql://logctl:{SECRET}@[::1"], cli_env)
    _fails_cleanly(result, 2, "the database URL is not valid")


def test_unknown_role_is_refused(server_dsn: str, cli_env: dict[str, str]) -> None:
    """A role that does not exist (the credential error trust auth can give) is "refused the connection"."""
    url = make_conninfo(server_dsn, user="logctl_no_such_role", password=SECRET)
    result = run_cli(["prune", "--days", "30", "--database-url", url], cli_env)
    _fails_cleanly(result, 3, "the database refused the connection", 'role "logctl_no_such_role" does not exist')


def test_role_that_may_not_log_in_is_refused(dsn: str, cli_env: dict[str, str]) -> None:
    """A NOLOGIN role is "refused the login", not mistaken for an unreachable server."""
    with limited_role(dsn, "SELECT", login=False, password=SECRET) as role_dsn:
        result = run_cli(["prune", "--days", "30", "--database-url", role_dsn], cli_env)
    _fails_cleanly(result, 3, "the database refused the login", "not permitted to log in")


def test_missing_table_says_run_apply_schema(fresh_dsn: str, cli_env: dict[str, str]) -> None:
    """Pruning a database without thread_logs says the table is missing and to run `logctl apply-schema`."""
    result = run_cli(["prune", "--days", "30", "--database-url", fresh_dsn], cli_env)
    _fails_cleanly(result, 3, "the thread_logs table does not exist", "run `logctl apply-schema`")


def test_role_without_delete_rights_cannot_prune(dsn: str, cli_env: dict[str, str]) -> None:
    """A role with SELECT only gets "lacks a privilege ... permission denied for table thread_logs"."""
    with LogStore(dsn) as store:
        store.insert(records("a", 2))
    with limited_role(dsn, "SELECT", password=SECRET) as role_dsn:
        dry = run_cli(["prune", "--days", "0", "--dry-run", "--database-url", role_dsn], cli_env)
        result = run_cli(["prune", "--days", "0", "--database-url", role_dsn], cli_env)
    assert dry.returncode == 0 and "would delete 2 rows" in dry.stdout, dry.stderr
    _fails_cleanly(result, 3, "the database role lacks a privilege", "permission denied for table thread_logs")


def test_role_without_create_rights_cannot_apply_schema(fresh_dsn: str, cli_env: dict[str, str]) -> None:
    """apply-schema as a role that may not create tables names the missing privilege."""
    with limited_role(fresh_dsn, password=SECRET) as role_dsn:
        result = run_cli(["apply-schema", "--database-url", role_dsn], cli_env)
    _fails_cleanly(result, 3, "the database role lacks a privilege", "permission denied for schema")


def test_role_without_insert_rights_gets_a_privilege_error(dsn: str) -> None:
    """LogStore.insert as a SELECT-only role raises PrivilegeError naming the table, not a driver error."""
    with limited_role(dsn, "SELECT") as role_dsn, LogStore(role_dsn) as store:
        with pytest.raises(PrivilegeError, match="permission denied for table thread_logs"):
            store.insert(records("a", 1))
        assert store.count() == 0


@pytest.mark.parametrize("days", ["nan", "inf", "-inf", "1e9", "-1"])
def test_prune_days_out_of_range_is_one_config_error_line(days: str, cli_env: dict[str, str]) -> None:
    """`prune --days nan|inf|1e9|-1` is refused with exit 2 and one line naming the valid range, no traceback."""
    result = run_cli(["prune", "--days", days, "--database-url", "postgresql://x@127.0.0.1:1/x"], cli_env)
    _fails_cleanly(result, 2, "--days must be a number of days from 0 to", "(back to year 1)")


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("not-a-url", "the database URL is not a postgresql:// URL"),
        (f"mysql://logctl:{SECRET}@db/app", "the database URL is a mysql:// URL; logctl needs PostgreSQL"),
    ],
)
@pytest.mark.parametrize("command", [["db-url"], ["apply-schema"], ["prune", "--days", "1"]])
def test_a_database_url_that_is_not_postgresql_says_so_in_one_line(
    url: str, fragment: str, command: list[str], cli_env: dict[str, str]
) -> None:
    """DATABASE_URL=not-a-url or mysql://… gets exit 2 and one line saying a postgresql:// URL is expected."""
    result = run_cli(command, {**cli_env, "DATABASE_URL": url})
    _fails_cleanly(result, 2, fragment, "expected postgresql://user@host:port/dbname")
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1
