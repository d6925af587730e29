"""The thread list's command: threads (also ``runs``)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from logctl.cli.app import SERVER_HELP, app


def threads(
    since: Annotated[
        Optional[str], typer.Option("--since", help="Only threads active since this long ago (10m, 2h, 1d) or an ISO 8601 time.")
    ] = None,
    match: Annotated[Optional[str], typer.Option("--match", help="Only threads whose id matches this glob (* and ?).")] = None,
    limit: Annotated[int, typer.Option("-n", "--limit", help="Show at most N threads.")] = 100,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON Lines (automatic when stdout is not a terminal).")] = False,
    server: Annotated[Optional[str], typer.Option("--server", help=SERVER_HELP)] = None,
) -> None:
    """List the threads, newest activity first: records, errors and warnings of each.

    Example:

        logctl threads --since 1h --match 'build-*'
    """
    from logctl.tail.threads import run_threads, threads_settings

    run_threads(threads_settings(server=server, limit=limit, since=since, match=match, json=json_))


app.command("threads")(threads)
app.command("runs", hidden=True)(threads)
