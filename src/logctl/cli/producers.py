"""The producers' commands: send, and spool status|replay."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from logctl.cli.app import SERVER_HELP, app, say


def _seconds(value: float) -> float:
    """A typer callback: a positive, finite number of seconds, or BadParameter."""
    from logctl.client.send import check_timeout

    try:
        return check_timeout(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


@app.command()
def send(
    thread_id: Annotated[str, typer.Argument(help="The thread to log to.", metavar="THREAD_ID", show_default=False)],
    message: Annotated[
        Optional[str], typer.Argument(help="The message. Without it, each line of stdin is one record.", metavar="MESSAGE", show_default=False)
    ] = None,
    level: Annotated[str, typer.Option("--level", help="DEBUG, INFO, WARN or ERROR.")] = "INFO",
    server: Annotated[
        Optional[str], typer.Option("--server", help=SERVER_HELP, show_default=False)
    ] = None,
    database_url: Annotated[
        Optional[str], typer.Option("--database-url", help="Write straight to this PostgreSQL instead of a hub.", show_default=False)
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Give up after this many seconds without progress.", callback=_seconds)
    ] = 30.0,
    spool_dir: Annotated[
        Optional[str],
        typer.Option("--spool-dir", help="Also append each record to a crash-safe disk spool here. Default: $LOGCTL_SPOOL_DIR.",
                     show_default=False),
    ] = None,
) -> None:
    """Send MESSAGE, or stdin line by line, to THREAD_ID; exit 0 once every record is committed.

    With MESSAGE, lines waiting on stdin are an error: give one or the other.
    """
    import logging

    from logctl.client.disk_spool import spool_settings
    from logctl.client.routing import choose_route
    from logctl.client.send import read_batches, send_batches, stdin_has_data
    from logctl.core.wording import plural
    from logctl.gc_policy import hold_many_records

    if message is not None and stdin_has_data(sys.stdin):
        raise typer.BadParameter("give MESSAGE or lines on stdin, not both (stdin has data)", param_hint="MESSAGE")

    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    hold_many_records()
    route = choose_route(server, database_url, fallback="hub")
    batches = [[message]] if message is not None else read_batches(sys.stdin.buffer)
    result = send_batches(batches, thread_id=thread_id, level=level, route=route, timeout=timeout,
                          spool=spool_settings(spool_dir))
    say(f"{plural(result.committed, 'record')} committed to thread {thread_id!r} via {result.target}")


spool_app = typer.Typer(
    help="Look at and replay the producers' disk spool (LOGCTL_SPOOL_DIR).", no_args_is_help=True, rich_markup_mode=None,
)
app.add_typer(spool_app, name="spool")

SpoolDir = Annotated[str, typer.Argument(help="The spool directory.", metavar="DIRECTORY", show_default=False)]


@spool_app.command("status")
def spool_status(directory: SpoolDir) -> None:
    """Show what waits in a spool directory: each producer, live or stopped, its records and damage.

    \b
    Example:
        logctl spool status /var/spool/logctl
    """
    from pathlib import Path

    from logctl.client.replay import spool_status as status
    from logctl.cli.render_spool import render_spool_status

    typer.echo(render_spool_status(status(Path(directory))))


@spool_app.command("replay")
def spool_replay(
    directory: SpoolDir,
    server: Annotated[Optional[str], typer.Option("--server", help="Ship to this hub.", show_default=False)] = None,
    database_url: Annotated[
        Optional[str], typer.Option("--database-url", help="Write straight to this PostgreSQL. Default: $LOGCTL_SERVER, "
                                    "else $DATABASE_URL, else the embedded server.", show_default=False)
    ] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Give up after this many seconds without progress.")] = 30.0,
) -> None:
    """Ship what stopped producers left in a spool directory; exit 0 once all of it is committed.

    Each record keeps its producer id and seq, so records already stored are not stored
    twice. Live producers' segments are left alone.

    \b
    Example:
        logctl spool replay /var/spool/logctl --server ws://hub:8765
    """
    from pathlib import Path

    from logctl.client.replay import replay_directory
    from logctl.client.routing import choose_route
    from logctl.cli.render_spool import render_replay_result, replay_progress

    route = choose_route(server, database_url, fallback="embedded")
    say(f"replaying {directory} to {route.describe()}")
    result = replay_directory(Path(directory), route, timeout=timeout, progress=replay_progress())
    say(render_replay_result(result))
    if not result.complete:
        raise route.unavailable(f"{result.left} spooled records were not committed; they stay in {directory}")
