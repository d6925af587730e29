"""The hub's command: serve."""

from __future__ import annotations

import os
import sys
from typing import Annotated, Optional

import typer

from logctl.cli.app import DatabaseUrl, app
from logctl.config import DEFAULT_HOST, DEFAULT_PORT, resolve_database
from logctl.core.fanout import MAX_OUTGOING_BYTES, MAX_SUBSCRIPTIONS
from logctl.core.selection import MAX_MATCH_THREADS, MAX_SELECTION_THREADS
from logctl.core.protocol import DEFAULT_MAX_ERRORS_PER_FRAME, DEFAULT_MAX_RECORDS_PER_FRAME
from logctl.core.records import DEFAULT_MAX_MESSAGE_BYTES


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
    max_selection_threads: Annotated[
        int, typer.Option("--max-selection-threads", help="Thread ids one selection (tail A B C, GET /admin/logs) may name; more get too_many_threads.")
    ] = MAX_SELECTION_THREADS,
    max_match_threads: Annotated[
        int, typer.Option("--max-match-threads", help="Threads one selection's glob (tail --match) may match; more get too_many_matches.")
    ] = MAX_MATCH_THREADS,
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
    certfile: Annotated[
        Optional[str], typer.Option(
            "--certfile", show_default=False,
            help="Serve TLS (wss:// and https://, same port) with this PEM certificate chain, leaf first.",
        )
    ] = None,
    keyfile: Annotated[
        Optional[str], typer.Option(
            "--keyfile", show_default=False, help="The certificate's private key (PEM, unencrypted). Default: in --certfile.",
        )
    ] = None,
    summary_fold_interval: Annotated[
        float, typer.Option(
            "--summary-fold-interval", min=0.0,
            help="Seconds between folds of the thread list's pending deltas into its summary (0: never; reads stay exact either way).",
        )
    ] = 1.0,
    database_url: DatabaseUrl = None,
) -> None:
    """Run the hub: ingest logs, persist them to PostgreSQL, stream them live, serve history.

    \b
    Example:
        logctl serve                                   # loopback, no tokens
        logctl token create ops --scope read,write
        logctl serve --host 0.0.0.0 --tokens-file ~/.local/share/logctl/tokens.json
        logctl serve --host 0.0.0.0 --tokens-file tokens.json --certfile hub.pem --keyfile hub.key
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
        max_selection_threads=max_selection_threads, max_match_threads=max_match_threads,
        tokens_file=tokens_file or os.environ.get("LOGCTL_TOKENS_FILE") or None,
        allow_origins=tuple(allow_origin or ()), metrics_open=metrics_open, insecure_no_auth=insecure_no_auth,
        certfile=certfile, keyfile=keyfile,
        summary_fold_interval=summary_fold_interval,
    )
    if not run(resolve_database(database_url), config, announce=typer.echo, migrate=not no_migrate, demo=demo):
        raise typer.Exit(1)
