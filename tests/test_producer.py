"""The Python producer API against a real PostgreSQL and a real ``logctl serve``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator

import pytest
from helpers import HubProcess, cli_environment, embedded_data_dir, free_port, query, start_hub

import logctl
from logctl import (
    InvalidRecord,
    LogctlHandler,
    configure_producer,
    emit_log,
    flush_logs,
    log_context,
    producer_stats,
    publish_log,
    set_log_context,
    with_log_context,
)

#: The seed's usage example, as written, with only the import changed (and an
#: ``async def`` around it, since top-level ``await`` needs one).
SEED_EXAMPLE = textwrap.dedent(
    """
    import asyncio

    from logctl import publish_log, emit_log, set_log_context

    async def main():
        # Set thread context (done automatically in workflows)
        set_log_context("thread_abc123")

        # Logs will include thread_id automatically
        await publish_log("Processing started")
        emit_log("Synchronous log message")

        # Or explicitly pass thread_id
        await publish_log("Custom message", thread_id="thread_xyz", level="WARN")

    asyncio.run(main())
    """
)

SEED_ROWS = [
    ("thread_abc123", "Processing started", "INFO"),
    ("thread_abc123", "Synchronous log message", "INFO"),
    ("thread_xyz", "Custom message", "WARN"),
]


def run_python(code: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=timeout)


def rows(dsn: str, thread_id: str | None = None) -> list[tuple[str, str, str]]:
    """(thread_id, message, level) of the stored rows, in insertion order."""
    where = "WHERE thread_id = %s" if thread_id else ""
    got = query(dsn, f"SELECT thread_id, message, level FROM thread_logs {where} ORDER BY id", (thread_id,) if thread_id else ())
    return [(str(t), str(m), str(lvl)) for t, m, lvl in got]


@pytest.fixture
def producer(dsn: str) -> Iterator[str]:
    """This process's producer, writing straight to the test's schema; flushed and reset afterwards."""
    configure_producer(database_url=dsn, exit_timeout=5)
    yield dsn
    configure_producer(database_url=dsn, exit_timeout=0)


# -- the seed's example ----------------------------------------------------------------


def test_seed_example_through_the_database(dsn: str, cli_env: dict[str, str]) -> None:
    """The seed's example with only DATABASE_URL set writes its three rows before the process exits."""
    result = run_python(SEED_EXAMPLE, {**cli_env, "DATABASE_URL": dsn})
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert sorted(rows(dsn)) == sorted(SEED_ROWS)


def test_seed_example_through_a_hub(dsn: str, cli_env: dict[str, str], hub: HubProcess) -> None:
    """The seed's example with LOGCTL_SERVER set reaches PostgreSQL through a real logctl serve."""
    result = run_python(SEED_EXAMPLE, {**cli_env, "LOGCTL_SERVER": hub.url})
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert sorted(rows(dsn)) == sorted(SEED_ROWS)
    producers = query(dsn, "SELECT count(DISTINCT producer_id), min(seq), max(seq) FROM thread_logs")
    assert producers == [(1, 0, 2)]


# -- the API in this process -----------------------------------------------------------


def test_emit_and_publish_ship_to_the_database(producer: str) -> None:
    """emit_log and publish_log records are committed once flushed, with level and thread kept."""
    set_log_context("ctx-1")
    emit_log("one")
    asyncio.run(publish_log("two", level="error"))
    emit_log("three", thread_id="other", level="DEBUG")
    assert flush_logs(10) == 0
    assert rows(producer) == [("ctx-1", "one", "INFO"), ("ctx-1", "two", "ERROR"), ("other", "three", "DEBUG")]
    stats = producer_stats()
    assert (stats.accepted, stats.committed, stats.pending, stats.dropped) == (3, 3, 0, 0)


def test_context_is_inherited_by_tasks_and_wrapped_threads(producer: str) -> None:
    """asyncio tasks and threads started via with_log_context log to the thread id set around them."""
    seen: dict[str, str | None] = {}

    async def task(name: str) -> None:
        await publish_log(f"from {name}")

    async def main() -> None:
        with log_context("outer"):
            await asyncio.gather(task("a"), task("b"))
            t = threading.Thread(target=with_log_context(emit_log), args=("from thread",))
            t.start()
            t.join()
            plain = threading.Thread(target=lambda: seen.update(plain=logctl.get_log_context()))
            plain.start()
            plain.join()

    asyncio.run(main())
    assert flush_logs(10) == 0
    assert sorted(m for _, m, _ in rows(producer, "outer")) == ["from a", "from b", "from thread"]
    assert seen["plain"] is None  # a plain Thread starts with an empty context, as documented


def test_callers_mistakes_raise_at_the_call(producer: str) -> None:
    """A missing thread id, an unknown level or a non-str message raise InvalidRecord at once."""
    set_log_context(None)
    with pytest.raises(InvalidRecord, match="no thread id"):
        emit_log("orphan")
    with pytest.raises(InvalidRecord, match="unknown level"):
        emit_log("x", thread_id="t", level="LOUD")
    with pytest.raises(InvalidRecord):
        asyncio.run(publish_log(42, thread_id="t"))  # type: ignore[arg-type]


def test_odd_messages_are_repaired_not_refused(producer: str) -> None:
    """NUL, lone surrogates and multi-line text are stored, visibly, rather than failing the batch."""
    emit_log("a\x00b", thread_id="odd")
    emit_log("caf\udce9", thread_id="odd")
    emit_log("line 1\nline 2", thread_id="odd")
    assert flush_logs(10) == 0
    assert [m for _, m, _ in rows(producer, "odd")] == ["a\\x00b", "caf\ufffd", "line 1\nline 2"]


def test_nothing_blocks_or_raises_while_the_database_is_down(cli_env: dict[str, str]) -> None:
    """With an unreachable database emit_log returns at once, and the exit report counts what was lost."""
    code = textwrap.dedent(
        """
        import time
        from logctl import emit_log, producer_stats
        t = time.monotonic()
        for i in range(500):
            emit_log(f"m{i}", thread_id="down")
        assert time.monotonic() - t < 5, time.monotonic() - t  # generous: it is about not waiting for the database
        print(producer_stats().accepted)
        """
    )
    env = {**cli_env, "DATABASE_URL": f"postgresql://nobody@127.0.0.1:{free_port()}/x", "LOGCTL_EXIT_TIMEOUT": "0.5"}
    started = time.monotonic()
    result = run_python(code, env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "500"
    assert time.monotonic() - started < 15
    assert "500 log records were not delivered" in result.stderr


# -- exit flush ------------------------------------------------------------------------


def test_exit_flushes_everything(dsn: str, cli_env: dict[str, str]) -> None:
    """A process that logs 5,000 records and exits at once leaves all of them committed."""
    code = "from logctl import emit_log\nfor i in range(5000): emit_log(f'm{i}', thread_id='bye')\n"
    result = run_python(code, {**cli_env, "DATABASE_URL": dsn})
    assert result.returncode == 0, result.stderr
    assert query(dsn, "SELECT count(*), count(DISTINCT message) FROM thread_logs WHERE thread_id = 'bye'") == [(5000, 5000)]


# -- the buffer policy -----------------------------------------------------------------


def test_full_buffer_drops_and_counts_then_delivers_the_rest(dsn: str, cli_env: dict[str, str]) -> None:
    """With "drop" and no hub up, records beyond capacity are dropped and counted; the rest arrive once a hub appears."""
    port = free_port()
    configure_producer(server=f"ws://127.0.0.1:{port}", capacity=10, policy="drop", exit_timeout=0)
    try:
        for i in range(25):
            emit_log(f"m{i}", thread_id="full")
        stats = producer_stats()
        assert (stats.accepted, stats.dropped, stats.pending) == (10, 15, 10)
        hub = HubProcess(dsn, cli_env, port=port)
        try:
            assert flush_logs(20) == 0
        finally:
            hub.kill()
        assert [m for _, m, _ in rows(dsn, "full")] == [f"m{i}" for i in range(10)]
        assert producer_stats().dropped == 15
    finally:
        configure_producer(exit_timeout=0)


# -- the logging handler ---------------------------------------------------------------


@contextlib.contextmanager
def handler_on(name: str, **kwargs: object) -> Iterator[logging.Logger]:
    log = logging.getLogger(name)
    handler = LogctlHandler(**kwargs)  # type: ignore[arg-type]
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    log.propagate = False
    try:
        yield log
    finally:
        log.removeHandler(handler)


def test_logging_handler(producer: str) -> None:
    """LogctlHandler ships stdlib records: thread from extra or context, mapped levels, tracebacks."""
    with handler_on("app.handler-test") as log:
        log.info("from extra", extra={"thread_id": "h-extra"})
        with log_context("h-ctx"):
            log.warning("a warning")
            log.critical("a critical")
            log.debug("a debug")
            try:
                1 / 0
            except ZeroDivisionError:
                log.exception("it broke")
        set_log_context(None)
        log.error("no thread anywhere: not shipped")
    assert flush_logs(10) == 0
    assert rows(producer, "h-extra") == [("h-extra", "from extra", "INFO")]
    ctx = rows(producer, "h-ctx")
    assert [(m.splitlines()[0], lvl) for _, m, lvl in ctx] == [
        ("a warning", "WARN"), ("a critical", "ERROR"), ("a debug", "DEBUG"), ("it broke", "ERROR"),
    ]
    trace = str(ctx[-1][1])
    assert "Traceback (most recent call last)" in trace and "ZeroDivisionError: division by zero" in trace
    assert query(producer, "SELECT count(*) FROM thread_logs") == [(5,)]


def test_logging_handler_uses_its_formatter_and_default_thread(producer: str) -> None:
    """The handler's formatter shapes the message; thread_id= is the last fallback."""
    with handler_on("app.fmt", thread_id="h-default") as log:
        log.handlers[0].setFormatter(logging.Formatter("[%(name)s] %(message)s"))
        log.info("hello")
    assert flush_logs(10) == 0
    assert rows(producer, "h-default") == [("h-default", "[app.fmt] hello", "INFO")]


def test_logging_handler_never_ships_logctls_own_records(producer: str) -> None:
    """Records of logctl.* loggers are skipped, so a handler on the root logger cannot feed itself."""
    root = logging.getLogger()
    handler = LogctlHandler(thread_id="h-root")
    root.addHandler(handler)
    old = root.level
    root.setLevel(logging.DEBUG)
    try:
        logging.getLogger("logctl.client").warning("internal")
        logging.getLogger("someapp").warning("external")
        assert flush_logs(10) == 0
    finally:
        root.removeHandler(handler)
        root.setLevel(old)
    assert [m for _, m, _ in rows(producer, "h-root")] == ["external"]


# -- where records go without settings, and a schema that is not there yet -------------


def test_no_settings_means_the_embedded_database() -> None:
    """With neither LOGCTL_SERVER nor DATABASE_URL, logs go to the embedded PostgreSQL, said once on stderr."""
    with embedded_data_dir() as data_dir:  # not tmp_path: see embedded_data_dir
        cli_env = cli_environment(data_dir)
        env = {**cli_env, "LOGCTL_EXIT_TIMEOUT": "90"}  # the first start of an embedded server takes seconds
        result = run_python("from logctl import emit_log\nemit_log('hello', thread_id='emb')\n", env, timeout=120)
        assert result.returncode == 0, result.stderr
        assert "not delivered" not in result.stderr
        assert result.stderr.count("neither LOGCTL_SERVER nor DATABASE_URL is set; logs go to embedded PostgreSQL") == 1
        url = subprocess.run([sys.executable, "-m", "logctl", "db-url"], env=cli_env, capture_output=True, text=True,
                             timeout=120).stdout.strip()
        assert query(url, "SELECT thread_id, message FROM thread_logs") == [("emb", "hello")]


def test_missing_schema_is_reported_once_and_records_wait_for_it(fresh_dsn: str, caplog: pytest.LogCaptureFixture) -> None:
    """Without the schema, records are kept (one warning, however many retries) and delivered once `apply-schema` has run."""
    import psycopg

    from logctl.store.migrate import apply_migrations

    configure_producer(database_url=fresh_dsn, exit_timeout=0)
    try:
        with caplog.at_level(logging.WARNING, logger="logctl.client"):
            for i in range(3):
                emit_log(f"m{i}", thread_id="early")
            assert flush_logs(1.5) == 3
            with psycopg.connect(fresh_dsn, autocommit=True) as conn:
                apply_migrations(conn)
            assert flush_logs(20) == 0
    finally:
        configure_producer(exit_timeout=0)
    warnings = [r.getMessage() for r in caplog.records if r.name == "logctl.client"]
    assert len([w for w in warnings if "run `logctl apply-schema`" in w]) == 1, warnings
    assert [m for _, m, _ in rows(fresh_dsn, "early")] == ["m0", "m1", "m2"]


def test_block_policy_waits_without_blocking_the_event_loop(dsn: str, cli_env: dict[str, str]) -> None:
    """With "block" and a full buffer, publish_log waits in a worker thread, the event loop runs on, and it ends once a hub takes them."""
    port = free_port()
    configure_producer(server=f"ws://127.0.0.1:{port}", capacity=2, policy="block", exit_timeout=0)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        for _ in range(20):
            await asyncio.sleep(0.01)
            ticks += 1

    async def main() -> None:
        await publish_log("a", thread_id="blk")
        await publish_log("b", thread_id="blk")
        blocked = asyncio.ensure_future(publish_log("c", thread_id="blk"))
        await ticker()
        assert ticks == 20 and not blocked.done()
        hub = HubProcess(dsn, cli_env, port=port)
        try:
            await asyncio.wait_for(blocked, 20)
            assert await asyncio.to_thread(flush_logs, 20) == 0
        finally:
            hub.kill()

    try:
        asyncio.run(main())
        assert producer_stats().dropped == 0
    finally:
        configure_producer(exit_timeout=0)
    assert [m for _, m, _ in rows(dsn, "blk")] == ["a", "b", "c"]
