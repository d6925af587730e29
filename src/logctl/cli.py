"""The ``logctl`` command line: thin commands over the library.

Each command turns its options into settings and makes one library call. Every
:class:`~logctl.errors.LogctlError` is turned into one line on stderr and an exit code in
:func:`main`, and nowhere else.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import traceback
from typing import Annotated, Optional

import typer

from logctl import __version__
from logctl.config import DEFAULT_HOST, DEFAULT_PORT, DEFAULT_SERVER, resolve_database
from logctl.core.fanout import MAX_OUTGOING_BYTES, MAX_SUBSCRIPTIONS
from logctl.core.protocol import DEFAULT_MAX_ERRORS_PER_FRAME, DEFAULT_MAX_RECORDS_PER_FRAME
from logctl.core.records import DEFAULT_MAX_MESSAGE_BYTES
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

_SERVER_HELP = f"Hub URL. Default: $LOGCTL_SERVER, else {DEFAULT_SERVER}."


def _say(text: str) -> None:
    typer.echo(f"logctl: {text}", err=True)


def _dsn(database_url: str | None) -> str:
    """Resolve the database, say which one on stderr, and return its DSN."""
    from logctl.store.connect import check_dsn
    from logctl.store.embedded import dsn_for

    target = resolve_database(database_url)
    if target.dsn is not None:
        check_dsn(target.dsn)  # a URL that is not PostgreSQL's: one error line, before "using …"
    _say(f"using {target.describe()}")
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


@app.command("apply-schema")
def apply_schema(
    database_url: DatabaseUrl = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the SQL that would run; change nothing.")] = False,
) -> None:
    """Create or upgrade the thread_logs schema, idempotently, then verify it."""
    from logctl.cli_render import render_migration_report
    from logctl.store.connect import connect
    from logctl.store.migrate import apply_migrations

    with connect(_dsn(database_url)) as conn:
        report = apply_migrations(conn, dry_run=dry_run)
    typer.echo(render_migration_report(report))


@app.command("db-url")
def db_url(database_url: DatabaseUrl = None) -> None:
    """Print the database URL in use (starts the embedded server if needed): psql "$(logctl db-url)"."""
    from logctl.store.embedded import dsn_for

    typer.echo(dsn_for(resolve_database(database_url)))


@app.command("db-stop")
def db_stop() -> None:
    """Stop the embedded PostgreSQL server (its data stays in $LOGCTL_DATA_DIR)."""
    from logctl.store.embedded import stop_embedded

    _say("stopped the embedded PostgreSQL" if stop_embedded() else "the embedded PostgreSQL was not running")


@app.command()
def prune(
    days: Annotated[Optional[float], typer.Option("--days", help="Delete rows older than N days.")] = None,
    keep_per_thread: Annotated[
        Optional[int], typer.Option("--keep-per-thread", help="Keep only the newest N rows of each thread.")
    ] = None,
    thread: Annotated[Optional[str], typer.Option("--thread", help="Prune only this thread.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print how many rows would go; delete nothing.")] = False,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Rows per delete transaction.")] = 5000,
    database_url: DatabaseUrl = None,
) -> None:
    """Delete old rows in short batched transactions (safe to run from cron on many machines)."""
    from logctl.core.prune_plan import plan_prune
    from logctl.cli_render import prune_progress, render_prune_result
    from logctl.store import LogStore
    from logctl.store.prune import run_prune

    plan = plan_prune(
        days=days, keep_per_thread=keep_per_thread, thread_id=thread,
        now=dt.datetime.now(dt.timezone.utc), batch_size=batch_size,
    )
    with LogStore(_dsn(database_url), max_size=2) as store, prune_progress(plan) as progress:
        result = run_prune(store, plan, dry_run=dry_run, progress=progress)
    typer.echo(render_prune_result(plan, result))


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = DEFAULT_HOST,
    port: Annotated[int, typer.Option("--port", help="TCP port for WebSocket and HTTP (0 picks a free one).")] = DEFAULT_PORT,
    no_migrate: Annotated[
        bool, typer.Option("--no-migrate", help="Do not apply migrations; refuse to start on an old schema.")
    ] = False,
    demo: Annotated[bool, typer.Option("--demo", help="Also run synthetic demo threads (demo-build, demo-etl, demo-agent).")] = False,
    max_message_bytes: Annotated[
        int, typer.Option("--max-message-bytes", help="Largest accepted message.")
    ] = DEFAULT_MAX_MESSAGE_BYTES,
    max_backlog: Annotated[
        int, typer.Option("--max-backlog", help="Unwritten records held before producers are slowed down.")
    ] = 1_000_000,
    max_records_per_frame: Annotated[
        int, typer.Option("--max-records-per-frame", help="Records one publish frame may hold; a larger frame is refused whole.")
    ] = DEFAULT_MAX_RECORDS_PER_FRAME,
    max_errors_per_frame: Annotated[
        int, typer.Option("--max-errors-per-frame", help="Error frames per publish frame; the rest are summed up in one.")
    ] = DEFAULT_MAX_ERRORS_PER_FRAME,
    max_write_wait: Annotated[
        float, typer.Option("--max-write-wait", help="Seconds an accepted record may wait to be written before /healthz says 503.")
    ] = 30.0,
    max_frame_bytes: Annotated[
        Optional[int], typer.Option(
            "--max-frame-bytes", show_default=False,
            help="Largest WebSocket frame; a bigger one closes its connection (1009). Default: 8 MiB, or 6 x --max-message-bytes + 64 KiB if larger.",
        )
    ] = None,
    max_subscriptions: Annotated[
        int, typer.Option("--max-subscriptions", help="Threads one connection may subscribe to at once; more get too_many_subscriptions.")
    ] = MAX_SUBSCRIPTIONS,
    max_outgoing_bytes: Annotated[
        int, typer.Option(
            "--max-outgoing-bytes",
            help="Unsent bytes one connection may have (and live rows held for a subscriber catching up); past it the connection is closed (1013) and resumes from its cursor.",
        )
    ] = MAX_OUTGOING_BYTES,
    tokens_file: Annotated[
        Optional[str], typer.Option(
            "--tokens-file", show_default=False,
            help="Require a token (Authorization: Bearer) from this tokens file; reread on change and on SIGHUP. Default: $LOGCTL_TOKENS_FILE, else no tokens (loopback only).",
        )
    ] = None,
    allow_origin: Annotated[
        Optional[list[str]], typer.Option(
            "--allow-origin", show_default=False,
            help="Also accept requests whose Origin header is this (e.g. https://dash.example.com); repeatable.",
        )
    ] = None,
    metrics_open: Annotated[bool, typer.Option("--metrics-open", help="Serve /metrics without a token.")] = False,
    insecure_no_auth: Annotated[
        bool, typer.Option("--insecure-no-auth", help="Allow a non-loopback --host without a tokens file (everyone may read and write).")
    ] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Run the hub: ingest logs, persist them to PostgreSQL, stream them live, serve history.

    \b
    Example:
        logctl serve                                   # loopback, no tokens
        logctl token create ops --scope read,write
        logctl serve --host 0.0.0.0 --tokens-file ~/.local/share/logctl/tokens.json
    """
    import logging

    from logctl.hub.run import serve as run
    from logctl.hub.server import HubConfig

    # The hub's diagnostics, once, here: "logctl.hub.writer: ..." (the library configures no logging).
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s", stream=sys.stderr)
    config = HubConfig(
        host=host, port=port, max_message_bytes=max_message_bytes, max_backlog=max_backlog,
        max_records_per_frame=max_records_per_frame, max_errors_per_frame=max_errors_per_frame,
        max_write_wait=max_write_wait, max_frame_bytes=max_frame_bytes,
        max_subscriptions=max_subscriptions, max_outgoing_bytes=max_outgoing_bytes,
        tokens_file=tokens_file or os.environ.get("LOGCTL_TOKENS_FILE") or None,
        allow_origins=tuple(allow_origin or ()), metrics_open=metrics_open, insecure_no_auth=insecure_no_auth,
    )
    if not run(resolve_database(database_url), config, announce=typer.echo, migrate=not no_migrate, demo=demo):
        raise typer.Exit(1)


def _seconds(value: float) -> float:
    """A typer callback: a positive, finite number of seconds, or BadParameter."""
    from logctl.client.send import check_timeout

    try:
        return check_timeout(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


@app.command()
def send(
    thread_id: Annotated[str, typer.Argument(help="The thread to log to.", show_default=False)],
    message: Annotated[
        Optional[str], typer.Argument(help="The message. Without it, each line of stdin is one record.", show_default=False)
    ] = None,
    level: Annotated[str, typer.Option("--level", help="DEBUG, INFO, WARN or ERROR.")] = "INFO",
    server: Annotated[
        Optional[str], typer.Option("--server", help=_SERVER_HELP, show_default=False)
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
    _say(f"{plural(result.committed, 'record')} committed to thread {thread_id!r} via {result.target}")


@app.command()
def tail(
    thread_id: Annotated[str, typer.Argument(help="The thread to show.", show_default=False)],
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
    server: Annotated[Optional[str], typer.Option("--server", help=_SERVER_HELP)] = None,
) -> None:
    """Show a thread's logs: history, then live records, with no gap and no duplicate."""
    from logctl.tail import run_tail, tail_settings

    settings = tail_settings(
        thread_id, server=server, limit=lines, since=since, follow=follow, plain=plain, json=json_,
        color=color, level=level, include=include, exclude=exclude, time_mode=time_mode,
    )
    run_tail(settings)


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
    from logctl.cli_render_spool import render_spool_status

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
    from logctl.cli_render_spool import render_replay_result, replay_progress

    route = choose_route(server, database_url, fallback="embedded")
    _say(f"replaying {directory} to {route.describe()}")
    result = replay_directory(Path(directory), route, timeout=timeout, progress=replay_progress())
    _say(render_replay_result(result))
    if not result.complete:
        raise route.unavailable(f"{result.left} spooled records were not committed; they stay in {directory}")


token_app = typer.Typer(
    help="Manage the hub's access tokens (stored hashed in the tokens file).", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(token_app, name="token")

TokensFile = Annotated[
    Optional[str],
    typer.Option(
        "--tokens-file",
        help="The tokens file. Default: $LOGCTL_TOKENS_FILE, else $LOGCTL_DATA_DIR/tokens.json.",
        show_default=False,
    ),
]


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Argument(help="A name for the token (who or what uses it).", show_default=False)],
    scope: Annotated[str, typer.Option("--scope", help="read, write or read,write.", show_default=False)],
    tokens_file: TokensFile = None,
) -> None:
    """Create a token NAME with --scope and print it once on stdout; only its hash is kept.

    \b
    Example:
        logctl token create ci-runner --scope write > ci-runner.token
        LOGCTL_TOKEN_FILE=ci-runner.token logctl send build-1 "hello"
    """
    from logctl.core.tokens import parse_scopes
    from logctl.tokens_file import create_token, resolve_tokens_file

    path = resolve_tokens_file(tokens_file)
    token = create_token(path, name, parse_scopes(scope))
    typer.echo(token)
    _say(f"created token {name!r} ({scope}) in {path}; it is shown only this once")


@token_app.command("list")
def token_list(tokens_file: TokensFile = None) -> None:
    """List the tokens: name, scopes, creation time (never the secrets).

    \b
    Example:
        logctl token list --tokens-file /etc/logctl/tokens.json
    """
    from logctl.tokens_file import load_tokens, resolve_tokens_file

    for entry in load_tokens(resolve_tokens_file(tokens_file), missing_ok=True).entries:
        typer.echo(f"{entry.name}\t{','.join(sorted(entry.scopes))}\t{entry.created}")


@token_app.command("revoke")
def token_revoke(
    name: Annotated[str, typer.Argument(help="The token to remove.", show_default=False)],
    tokens_file: TokensFile = None,
) -> None:
    """Remove token NAME; a running hub stops accepting it within a few seconds, no restart.

    \b
    Example:
        logctl token revoke ci-runner
    """
    from logctl.tokens_file import resolve_tokens_file, revoke_token

    path = resolve_tokens_file(tokens_file)
    revoke_token(path, name)
    _say(f"revoked token {name!r} in {path}")


def main() -> None:
    """Entry point: run the app and turn logctl errors into one line and an exit code."""
    try:
        app()
    except LogctlError as exc:
        if _state["debug"]:
            traceback.print_exc()
        _say(f"error: {exc}")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        _say("interrupted")
        sys.exit(130)
