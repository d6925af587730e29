"""Shared fixtures: a real PostgreSQL for every test, isolated by schema.

The server is ``LOGCTL_TEST_DATABASE_URL`` when set (never ``DATABASE_URL``, which may be
someone's real database); otherwise an embedded PostgreSQL started for this session in a
temporary directory. Nothing is ever skipped for want of a database.

Hypothesis profiles, chosen by ``LOGCTL_HYPOTHESIS_PROFILE`` (default ``ci`` when ``CI=true``,
else ``dev``; .ci/run sets ``ci``): ``dev`` runs a tenth of each property's examples, for
quick local runs; ``ci`` the full count; ``deep`` ten times the full count, for a long local
hunt. A property states its full count as ``max_examples=examples(N)`` (tests/helpers.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import settings

from logctl.store import LogStore

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

    from helpers import HubProcess, TailProcess
    from prefix_proxy import ProxiedHub

# max_examples is the scale that helpers.examples() applies to each property's full count
# (100 = full). CI starts from a clean clone, so it keeps no example database; a failure
# there prints the @reproduce_failure blob and the falsifying example instead.
settings.register_profile("dev", max_examples=10)
settings.register_profile("ci", max_examples=100, database=None, print_blob=True)
settings.register_profile("deep", max_examples=1000)
settings.load_profile(
    os.environ.get("LOGCTL_HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") == "true" else "dev")
)


@pytest.fixture(autouse=True)
def _no_real_database(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep every test away from the developer's own DATABASE_URL and hub."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("LOGCTL_SERVER", raising=False)


@pytest.fixture(scope="session")
def server_dsn() -> Iterator[str]:
    """A DSN for the test server's admin database."""
    configured = os.environ.get("LOGCTL_TEST_DATABASE_URL")
    if configured:
        yield configured
        return
    from helpers import embedded_data_dir

    from logctl.store.embedded import embedded_dsn

    with embedded_data_dir() as base:  # not under tmp_path: see embedded_data_dir
        yield embedded_dsn(base=base, dbname="logctl_test")


@pytest.fixture
def fresh_dsn(server_dsn: str) -> Iterator[str]:
    """A DSN whose search_path is a new, empty schema (dropped afterwards)."""
    from helpers import isolated_schema

    with isolated_schema(server_dsn) as dsn:
        yield dsn


LAYOUTS = ("plain", "partitioned")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test marked ``both_layouts`` that uses the database runs on each layout of thread_logs."""
    if "layout" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_layouts"):
        metafunc.parametrize("layout", LAYOUTS, indirect=True)


@pytest.fixture
def layout(request: pytest.FixtureRequest) -> str:
    """The layout of thread_logs: "plain", unless the test is marked ``both_layouts`` (then each in turn)."""
    return str(getattr(request, "param", "plain"))


@pytest.fixture
def dsn(fresh_dsn: str, layout: str) -> str:
    """A DSN for an isolated schema with logctl's migrations applied, in the test's layout."""
    from helpers import migrate

    migrate(fresh_dsn, layout)
    return fresh_dsn


@pytest.fixture
def store(dsn: str) -> Iterator[LogStore]:
    """An open :class:`LogStore` on an isolated, migrated schema."""
    with LogStore(dsn, max_size=4) as s:
        yield s


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    """Environment for running the ``logctl`` CLI as a subprocess (no DATABASE_URL)."""
    from helpers import cli_environment

    return cli_environment(tmp_path / "logctl-data")


@pytest.fixture
def hub(dsn: str, cli_env: dict[str, str]) -> Iterator["HubProcess"]:
    """A real ``logctl serve`` on a free port over the test's schema."""
    from helpers import HubProcess

    proc = HubProcess(dsn, cli_env)
    yield proc
    proc.close()


@pytest.fixture
def proxied_hub(dsn: str, cli_env: dict[str, str], tmp_path: Path) -> Iterator["ProxiedHub"]:
    """A hub that needs tokens behind a real reverse proxy serving it under ``/logctl/``, set up as docs/security.md's
    nginx example: the prefix taken off, ``Host`` the hub's own, ``Origin`` and WebSocket upgrades passed on, the
    proxy's origin in ``--allow-origin``; with a read token and a write token."""
    from helpers import HubProcess
    from prefix_proxy import PrefixProxy, ProxiedHub
    from logctl.tokens_file import create_token

    tokens = tmp_path / "tokens.json"
    reader = create_token(tokens, "viewer", frozenset({"read"}))
    writer = create_token(tokens, "producer", frozenset({"write"}))
    proxy = PrefixProxy(prefix="/logctl", rewrite_host=True)
    try:
        hub = HubProcess(dsn, cli_env, "--tokens-file", str(tokens), "--allow-origin", proxy.origin)
        proxy.target_port = hub.port
        yield ProxiedHub(hub, proxy, reader, writer)
        hub.close()
    finally:
        proxy.close()


@pytest.fixture
def tails() -> Iterator[list["TailProcess"]]:
    """``logctl tail`` subprocesses a test starts (append them); each is stopped at the end."""
    started: list[TailProcess] = []
    yield started
    for tail in started:
        tail.stop()


@pytest.fixture
def restartable_db(cli_env: dict[str, str]) -> Iterator[tuple[str, dict[str, str]]]:
    """An embedded PostgreSQL of this test's own, which the test may stop and start: (its DSN, a CLI environment for it)."""
    from helpers import embedded_data_dir, run_cli

    with embedded_data_dir() as data:
        env = dict(cli_env, LOGCTL_DATA_DIR=str(data))
        result = run_cli(["db-url"], env)
        assert result.returncode == 0, result.stderr
        yield result.stdout.strip(), env


@pytest.fixture(scope="module")
def browser() -> Iterator["Browser"]:
    """Debian's headless Chromium under Playwright, shared by a module's tests; the test fails if it is missing.

    Not shared by the session: while Playwright's sync API is open, the main thread counts as
    running its event loop, so a later module's ``asyncio.run()`` would fail.
    """
    from playwright.sync_api import sync_playwright

    from helpers import CHROMIUM_ARGS, chromium_path

    path = chromium_path()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, args=list(CHROMIUM_ARGS), timeout=60_000)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: "Browser") -> Iterator["Page"]:
    """A fresh page in its own browser context (no cookies shared between tests), light theme.

    Every action waits at most ``BROWSER_TIMEOUT_MS``. An uncaught script error or a
    Content-Security-Policy violation on the page fails the test at teardown (``page_errors(page)``
    lists them).
    """
    from playwright.sync_api import expect

    from helpers import BROWSER_TIMEOUT_MS, page_errors

    expect.set_options(timeout=BROWSER_TIMEOUT_MS)  # expect()'s own default is 5 s: short on a loaded machine
    context = browser.new_context(color_scheme="light", viewport={"width": 1100, "height": 640})
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    opened = context.new_page()
    errors = page_errors(opened)
    opened.on("pageerror", lambda error: errors.append(str(error)))
    # A Content-Security-Policy violation (an inline script or style, a foreign URL) is an error too.
    opened.on("console", lambda message: errors.append(message.text) if "Content Security Policy" in message.text else None)
    yield opened
    context.close()
    assert not errors, f"uncaught script errors on the page: {errors}"
