"""``logctl threads``: read the thread list from a hub (``GET /admin/runs``) and print it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import sys
import urllib.parse
from typing import TextIO

from logctl.config import HubAddress, resolve_hub
from logctl.core.protocol.runs import RunsCursor, RunSummary, parse_runs
from logctl.core.times import parse_since_spec
from logctl.core.runs_table import runs_json_lines, runs_table
from logctl.errors import ConfigError
from logctl.tail.client import TailClient

__all__ = ["ThreadsSettings", "fetch_runs", "run_threads", "threads_settings"]

PAGE: int = 1000  # the hub's largest page (core.routes.RUNS_MAX_LIMIT)


@dataclasses.dataclass(frozen=True, slots=True)
class ThreadsSettings:
    address: HubAddress
    limit: int = 100
    since: str | None = None
    match: str | None = None
    json: bool = False


def threads_settings(
    *, server: str | None, limit: int, since: str | None, match: str | None, json: bool
) -> ThreadsSettings:
    """Settings from the command's options: the hub of ``--server``/``LOGCTL_SERVER`` and its token."""
    if limit < 1:
        raise ConfigError(f"-n must be at least 1, not {limit}")
    if since is not None:
        parse_since_spec(since)  # a bad --since is refused here, in the option's words
    return ThreadsSettings(resolve_hub(server), limit, since, match, json)


def fetch_runs(settings: ThreadsSettings) -> list[RunSummary]:
    """Up to ``settings.limit`` threads, newest activity first, following the hub's pages."""
    client = TailClient(settings.address, "-")  # its HTTP code: token header, TLS, precise errors
    runs: list[RunSummary] = []
    before: RunsCursor | None = None
    while len(runs) < settings.limit:
        query = {"limit": str(min(PAGE, settings.limit - len(runs)))}
        if settings.since is not None:
            query["since"] = settings.since
        if settings.match is not None:
            query["match"] = settings.match
        if before is not None:
            query["before"] = str(before)
        page = parse_runs(client.get_json(settings.address.http_url("/admin/runs", urllib.parse.urlencode(query))))
        runs.extend(page.runs)
        if page.before is None:
            break
        before = page.before
    return runs


def run_threads(settings: ThreadsSettings, out: TextIO | None = None) -> None:
    """Print the list: a table on a terminal, JSON Lines with ``--json`` or when piped."""
    out = out or sys.stdout
    runs = fetch_runs(settings)
    if settings.json or not out.isatty():
        lines = runs_json_lines(runs)
    else:
        lines = runs_table(runs, dt.datetime.now(dt.timezone.utc))
    for line in lines:
        out.write(line + "\n")
    out.flush()
