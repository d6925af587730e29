"""The database commands: apply-schema, db-url, db-stop and prune."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Optional

import typer

from logctl.cli.app import DatabaseUrl, app, dsn, say
from logctl.config import resolve_database
from logctl.core.prune_plan import DEFAULT_PACE


@app.command("apply-schema")
def apply_schema(
    database_url: DatabaseUrl = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the SQL that would run; change nothing.")] = False,
    partitioned: Annotated[
        Optional[str], typer.Option(
            "--partitioned", metavar="daily|weekly", show_default=False,
            help="Range-partition thread_logs by created_at, one partition per day or week (converts a plain table; never back).",
        )
    ] = None,
) -> None:
    """Create or upgrade the thread_logs schema, idempotently, then verify it.

    \b
    Example:
        logctl apply-schema                         # plain table, or keep the layout it has
        logctl apply-schema --partitioned daily     # partitioned by day (converts a plain table)
    """
    from logctl.cli.render import render_layout_report, render_migration_report
    from logctl.core.partitions import check_period
    from logctl.store.connect import connect
    from logctl.store.layout import apply_layout, describe_conversion
    from logctl.store.migrate import apply_migrations

    period = None if partitioned is None else check_period(partitioned)
    with connect(dsn(database_url)) as conn:
        report = apply_migrations(conn, dry_run=dry_run)
        layout = None if dry_run else apply_layout(conn, period)
        plan = describe_conversion(conn, period) if dry_run and period is not None else None
    typer.echo(render_migration_report(report))
    if plan is not None:
        typer.echo(plan)
    if layout is not None:
        typer.echo(render_layout_report(layout))


@app.command("db-url")
def db_url(database_url: DatabaseUrl = None) -> None:
    """Print the database URL in use (starts the embedded server if needed): psql "$(logctl db-url)"."""
    from logctl.store.embedded import dsn_for

    typer.echo(dsn_for(resolve_database(database_url)))


@app.command("db-stop")
def db_stop() -> None:
    """Stop the embedded PostgreSQL server (its data stays in $LOGCTL_DATA_DIR)."""
    from logctl.store.embedded import stop_embedded

    say("stopped the embedded PostgreSQL" if stop_embedded() else "the embedded PostgreSQL was not running")


@app.command()
def prune(
    days: Annotated[Optional[float], typer.Option("--days", help="Delete rows older than N days.")] = None,
    keep_per_thread: Annotated[
        Optional[int], typer.Option("--keep-per-thread", help="Keep only the newest N rows of each thread.")
    ] = None,
    thread: Annotated[Optional[str], typer.Option("--thread", help="Prune only this thread.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print how many rows would go; delete nothing.")] = False,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Rows per delete transaction.")] = 5000,
    pace: Annotated[
        float, typer.Option("--pace", help="After each step, rest N times as long as it took (0: no rest).")
    ] = DEFAULT_PACE,
    database_url: DatabaseUrl = None,
) -> None:
    """Delete old rows in short batched transactions (safe to run from cron on many machines)."""
    from logctl.core.prune_plan import plan_prune
    from logctl.cli.render import prune_progress, render_prune_result
    from logctl.store import LogStore
    from logctl.store.prune import run_prune

    plan = plan_prune(
        days=days, keep_per_thread=keep_per_thread, thread_id=thread,
        now=dt.datetime.now(dt.timezone.utc), batch_size=batch_size, pace=pace,
    )
    with LogStore(dsn(database_url), max_size=2) as store, prune_progress(plan) as progress:
        result = run_prune(store, plan, dry_run=dry_run, progress=progress)
    typer.echo(render_prune_result(plan, result))
