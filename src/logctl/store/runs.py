"""The thread list (``GET /admin/runs``) from ``thread_log_summary``, which migration 005's triggers keep exact.

Each read first folds the deltas the triggers appended (``logctl_summary_compact()``).

Newest activity first: ``last_at DESC NULLS LAST, thread_id DESC``, read through the summary's
index of that order, and paged by keyset (:class:`~logctl.core.protocol.runs.RunsCursor`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from logctl.core.protocol.runs import RunsCursor, RunsPage, RunSummary
from logctl.store.connect import translating
from logctl.store.logs import LogStore

__all__ = ["list_runs"]

_SELECT: Final = "SELECT thread_id, first_at, last_at, count, debug, info, warn, error FROM thread_log_summary"
_ORDER: Final = " ORDER BY last_at DESC NULLS LAST, thread_id DESC LIMIT %s"


def list_runs(
    store: LogStore,
    *,
    limit: int = 100,
    since: dt.datetime | None = None,
    like: str | None = None,
    before: RunsCursor | None = None,
) -> RunsPage:
    """At most ``limit`` threads, newest activity first: active at or after ``since``, id LIKE ``like``, after ``before``."""
    where: list[str] = []
    args: list[Any] = []
    if since is not None:
        where.append("last_at >= %s")
        args.append(since)
    if like is not None:
        where.append("thread_id LIKE %s ESCAPE '\\'")
        args.append(like)
    if before is not None:
        if before.last_at is None:
            where.append("(last_at IS NULL AND thread_id < %s)")
            args.append(before.thread_id)
        else:
            where.append("(last_at < %s OR (last_at = %s AND thread_id < %s) OR last_at IS NULL)")
            args += [before.last_at, before.last_at, before.thread_id]
    sql = _SELECT + (" WHERE " + " AND ".join(where) if where else "") + _ORDER
    with translating(store.dsn), store.pool.connection() as conn:
        conn.execute("SELECT logctl_summary_compact()")  # fold in what committed since the last read
        rows = conn.execute(sql, [*args, limit + 1]).fetchall()
    runs = tuple(
        RunSummary(str(t), first, last, int(n), {"DEBUG": int(d), "INFO": int(i), "WARN": int(w), "ERROR": int(e)})
        for t, first, last, n, d, i, w, e in rows[:limit]
    )
    more = len(rows) > limit
    return RunsPage(runs, RunsCursor(runs[-1].last_at, runs[-1].thread_id) if more and runs else None)
