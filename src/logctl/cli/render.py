"""Text the CLI prints (and only the CLI): migration reports, prune progress and results."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

import typer

from logctl.core.prune_plan import PrunePlan
from logctl.core.wording import plural
from logctl.store.layout import LayoutReport
from logctl.store.migrate import MigrationReport
from logctl.store.prune import Progress, PruneResult

__all__ = ["prune_progress", "render_layout_report", "render_migration_report", "render_prune_result"]


def render_migration_report(report: MigrationReport) -> str:
    if report.dry_run:
        if not report.pending_sql:
            return "Schema is up to date; nothing would run."
        chunks = [
            f"-- migration {m.label} ({'one transaction' if m.transactional else 'no transaction'})\n{m.sql.strip()}"
            for m in report.pending_sql
        ]
        return "\n\n".join(chunks)
    lines = []
    if report.applied:
        for m in report.applied:
            lines.append(f"applied migration {m.version:03d}_{m.name}")
    else:
        lines.append("schema is up to date; nothing changed")
    state = report.state
    if state is not None:
        lines.append(f"verified table {state.schema}.thread_logs (~{plural(state.rows_estimate, 'row')})")
        lines.append("  columns: " + ", ".join(f"{c} {t}" for c, t in state.columns))
        lines.append("  indexes: " + ", ".join(state.indexes))
    return "\n".join(lines)


def render_layout_report(report: LayoutReport) -> str:
    if report.period is None:
        return "  layout: plain"
    lines = []
    if report.converted == "empty":
        lines.append(f"converted thread_logs (empty) to the partitioned layout ({report.period})")
    elif report.converted == "attached":
        bound = report.legacy_bound.isoformat(timespec="seconds") if report.legacy_bound else "?"
        lines.append(
            f"converted thread_logs to the partitioned layout ({report.period}):"
            f" its rows are partition thread_logs_legacy, up to {bound}"
        )
    for part in report.created:
        lines.append(f"created partition {part.describe()}")
    parts = report.partitions
    span = f": {parts[0].describe()} … {parts[-1].describe()}" if parts else ""
    lines.append(f"  layout: partitioned {report.period}, {plural(len(parts), 'partition')}{span}")
    return "\n".join(lines)


@contextlib.contextmanager
def prune_progress(plan: PrunePlan) -> Iterator[Progress]:
    """A rich progress bar on a terminal; plain lines on stderr otherwise."""
    if sys.stderr.isatty():
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress as Bar, TimeElapsedColumn

        with Bar(
            "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=Console(stderr=True), transient=True,
        ) as bar:
            task = bar.add_task("pruning", total=None)

            def update(done: int, total: int) -> None:
                bar.update(task, completed=done, total=max(total, done))

            yield update
        return

    def plain(done: int, total: int) -> None:
        if total == 0:
            return
        typer.echo(f"logctl: prune: deleted {done} of {plural(total, 'row')}", err=True)

    yield plain


def render_prune_result(plan: PrunePlan, result: PruneResult) -> str:
    if result.skipped_locked:
        return "another logctl prune holds the lock on this database; skipped"
    verb = "would drop" if result.dry_run else "dropped"
    parts = [f"  {verb} partition {p.describe()}: {plural(n, 'row')}" for p, n in result.partitions]
    if result.dry_run:
        return "\n".join([f"dry run: would delete {plural(result.planned, 'row')} ({plan.describe()})", *parts])
    return "\n".join([f"deleted {plural(result.deleted, 'row')} in {result.seconds:.2f}s ({plan.describe()})", *parts])
