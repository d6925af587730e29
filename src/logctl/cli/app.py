"""The Typer app, the options and helpers its commands share, and :func:`main`.

Every :class:`~logctl.errors.LogctlError` is turned into one line on stderr and an exit code
in :func:`main`, and nowhere else.
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Annotated, Optional

import typer

from logctl import __version__
from logctl.config import DEFAULT_SERVER, resolve_database
from logctl.errors import LogctlError

app = typer.Typer(
    name="logctl",
    help="Keep, stream and read the logs of workflow runs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)

_state = {"debug": False}

DatabaseUrl = Annotated[
    Optional[str],
    typer.Option(
        "--database-url",
        help="PostgreSQL URL. Default: $DATABASE_URL, else the embedded server in $LOGCTL_DATA_DIR.",
        show_default=False,
    ),
]

SERVER_HELP = f"Hub URL. Default: $LOGCTL_SERVER, else {DEFAULT_SERVER}."


def say(text: str) -> None:
    typer.echo(f"logctl: {text}", err=True)


def dsn(database_url: str | None) -> str:
    """Resolve the database, say which one on stderr, and return its DSN."""
    from logctl.store.connect import check_dsn
    from logctl.store.embedded import dsn_for

    target = resolve_database(database_url)
    if target.dsn is not None:
        check_dsn(target.dsn)  # a URL that is not PostgreSQL's: one error line, before "using …"
    say(f"using {target.describe()}")
    return dsn_for(target)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"logctl {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Keep, stream and read the logs of workflow runs."""
    _state["debug"] = debug or bool(os.environ.get("LOGCTL_DEBUG"))


def main() -> None:
    """Entry point: run the app and turn logctl errors into one line and an exit code."""
    try:
        app()
    except LogctlError as exc:
        if _state["debug"]:
            traceback.print_exc()
        say(f"error: {exc}")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        say("interrupted")
        sys.exit(130)
