"""The viewer's command: tail."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from logctl.cli.app import SERVER_HELP, app


@app.command()
def tail(
    thread_id: Annotated[
        Optional[list[str]],
        typer.Argument(help="The thread(s) to show; several are merged into one stream.", metavar="THREAD_ID", show_default=False),
    ] = None,
    match: Annotated[
        Optional[str], typer.Option("--match", help="Also follow every thread whose id matches this glob (* and ?), new ones included.")
    ] = None,
    lines: Annotated[int, typer.Option("-n", "--tail", help="Start with the latest N records (0: only new ones).")] = 1000,
    since: Annotated[
        Optional[str], typer.Option("--since", help="Only history from this long ago (10m, 2h, 1d) or an ISO 8601 time.")
    ] = None,
    follow: Annotated[bool, typer.Option("--follow/--no-follow", help="Keep following live records.")] = True,
    plain: Annotated[bool, typer.Option("--plain", help="Print lines instead of opening the viewer (automatic when stdout is not a terminal).")] = False,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON Lines in the history API's record shape.")] = False,
    color: Annotated[str, typer.Option("--color", help="Colour plain output: auto (terminal, no NO_COLOR), always, never.")] = "auto",
    level: Annotated[Optional[str], typer.Option("--level", help="Minimum level: DEBUG, INFO, WARN or ERROR.")] = None,
    include: Annotated[Optional[str], typer.Option("--include", help="Show only records whose message matches this regex.")] = None,
    exclude: Annotated[Optional[str], typer.Option("--exclude", help="Hide records whose message matches this regex.")] = None,
    time_mode: Annotated[
        Optional[str], typer.Option("--time", help="Times in local, utc or relative (default: local in the viewer, utc in plain output).")
    ] = None,
    server: Annotated[Optional[str], typer.Option("--server", help=SERVER_HELP)] = None,
) -> None:
    """Show a thread's logs, or several threads' merged: history, then live records, with no gap and no duplicate.

    With several threads (or --match), each line is tagged with its thread.

    Example:

        logctl tail demo-build

        logctl tail build-1 build-2 --level warn

        logctl tail --match 'demo-*' --plain
    """
    from logctl.tail import run_tail, tail_settings

    settings = tail_settings(
        thread_id or (), match=match, server=server, limit=lines, since=since, follow=follow, plain=plain, json=json_,
        color=color, level=level, include=include, exclude=exclude, time_mode=time_mode,
    )
    run_tail(settings)
