"""The thread list (``GET /admin/runs``) from ``thread_log_summary``, which migration 005's triggers keep exact.

A read writes nothing and waits for no lock: in one statement (one snapshot) it adds the
deltas the triggers appended and nobody has folded yet to the summary rows of their threads.
:func:`fold_summary` folds them for good (``logctl_summary_compact``, migration 006); hubs call
it in the background, one at a time per schema, so the deltas a read adds stay few.

Newest activity first: ``last_at DESC NULLS LAST, thread_id DESC``, read through the summary's
index of that order, and paged by keyset (:class:`~logctl.core.protocol.runs.RunsCursor`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from logctl.core.protocol.runs import RunsCursor, RunsPage, RunSummary
from logctl.store.connect import translating
from logctl.store.logs import LogStore
from logctl.store.migrate import LOCK_NAMESPACE

__all__ = ["FOLD_BATCH", "fold_summary", "list_runs", "runs_statement"]

_COLUMNS: Final = "thread_id, first_at, last_at, count, debug, info, warn, error"
_ORDER: Final = " ORDER BY last_at DESC NULLS LAST, thread_id DESC LIMIT %(limit)s"

# The pending deltas per thread (``pending``), their threads' summary as it will be once they
# are folded (``merged``: 006's logctl_summary_compact computes the same, and reads the first
# and last times of threads that lost rows again from thread_logs), and the other threads
# straight from the summary through its index. {where} filters both halves.
_READ: Final = (
    "WITH pending AS MATERIALIZED ("
    "  SELECT thread_id, min(first_at) AS first_at, max(last_at) AS last_at, sum(count) AS count,"
    "         sum(debug) AS debug, sum(info) AS info, sum(warn) AS warn, sum(error) AS error, bool_or(recheck) AS recheck"
    "  FROM thread_log_summary_delta GROUP BY thread_id"
    "), merged AS ("
    "  SELECT p.thread_id,"
    "         CASE WHEN p.recheck THEN (SELECT min(t.created_at) FROM thread_logs t WHERE t.thread_id = p.thread_id)"
    "              ELSE least(s.first_at, p.first_at) END AS first_at,"
    "         CASE WHEN p.recheck THEN (SELECT max(t.created_at) FROM thread_logs t WHERE t.thread_id = p.thread_id)"
    "              ELSE greatest(s.last_at, p.last_at) END AS last_at,"
    "         coalesce(s.count, 0) + p.count AS count, coalesce(s.debug, 0) + p.debug AS debug,"
    "         coalesce(s.info, 0) + p.info AS info, coalesce(s.warn, 0) + p.warn AS warn,"
    "         coalesce(s.error, 0) + p.error AS error"
    "  FROM pending p LEFT JOIN thread_log_summary s USING (thread_id)"
    ")"
    # Nothing pending (the usual case, with hubs folding): the summary's index alone, as if the
    # rest were not there (an uncorrelated EXISTS is a one-time filter, and leaves the plan as is).
    f" (SELECT {_COLUMNS} FROM thread_log_summary WHERE {{where}} AND NOT EXISTS (SELECT FROM pending) {_ORDER})"
    " UNION ALL"
    f" (SELECT {_COLUMNS} FROM thread_log_summary WHERE {{where}} AND EXISTS (SELECT FROM pending)"
    f"  AND thread_id NOT IN (SELECT thread_id FROM pending) {_ORDER})"  # a hashed subplan: once, not per row
    f" UNION ALL (SELECT {_COLUMNS} FROM merged WHERE count > 0 AND {{where}})"
    f" {_ORDER}"
)

#: Deltas folded per transaction by :func:`fold_summary`.
FOLD_BATCH: Final = 10_000
#: Deltas folded in one call past which :func:`fold_summary` vacuums the delta table: reads scan
#: it whole, dead rows included, and autovacuum may come a minute later.
VACUUM_AFTER: Final = 1_000


def runs_statement(
    *,
    limit: int = 100,
    since: dt.datetime | None = None,
    like: str | None = None,
    before: RunsCursor | None = None,
) -> tuple[str, dict[str, Any]]:
    """The one statement behind :func:`list_runs` and its parameters: at most ``limit`` threads."""
    where: list[str] = ["true"]
    args: dict[str, Any] = {"limit": limit}
    if since is not None:
        where.append("last_at >= %(since)s")
        args["since"] = since
    if like is not None:
        where.append("thread_id LIKE %(like)s ESCAPE '\\'")
        args["like"] = like
    if before is not None:
        args["thread"] = before.thread_id
        if before.last_at is None:
            where.append("(last_at IS NULL AND thread_id < %(thread)s)")
        else:
            where.append("(last_at < %(at)s OR (last_at = %(at)s AND thread_id < %(thread)s) OR last_at IS NULL)")
            args["at"] = before.last_at
    return _READ.format(where=" AND ".join(where)), args


def list_runs(
    store: LogStore,
    *,
    limit: int = 100,
    since: dt.datetime | None = None,
    like: str | None = None,
    before: RunsCursor | None = None,
) -> RunsPage:
    """At most ``limit`` threads, newest activity first: active at or after ``since``, id LIKE ``like``, after ``before``."""
    sql, args = runs_statement(limit=limit + 1, since=since, like=like, before=before)
    with translating(store.dsn), store.pool.connection() as conn:
        rows = conn.execute(sql, args).fetchall()
    runs = tuple(
        RunSummary(str(t), first, last, int(n), {"DEBUG": int(d), "INFO": int(i), "WARN": int(w), "ERROR": int(e)})
        for t, first, last, n, d, i, w, e in rows[:limit]
    )
    more = len(rows) > limit
    return RunsPage(runs, RunsCursor(runs[-1].last_at, runs[-1].thread_id) if more and runs else None)


def fold_summary(store: LogStore, *, batch: int = FOLD_BATCH) -> int | None:
    """Fold the summary's pending deltas, ``batch`` per transaction; return how many (None: another folder had the lock).

    One folder at a time per schema (a transaction-scoped advisory lock, tried, never awaited):
    several hubs on one database take turns instead of queueing behind each other. After
    folding :data:`VACUUM_AFTER` deltas or more it vacuums the delta table.
    """
    total = 0
    with translating(store.dsn), store.pool.connection() as conn:
        while True:
            with conn.transaction():
                locked = conn.execute(
                    "SELECT pg_try_advisory_xact_lock(%s, hashtext(current_schema() || ':summary'))", [LOCK_NAMESPACE]
                ).fetchone()
                if locked is None or not locked[0]:
                    return total or None
                row = conn.execute("SELECT logctl_summary_compact(%s)", [batch]).fetchone()
            folded = int(row[0]) if row is not None else 0
            total += folded
            if folded < batch:
                break
        if total >= VACUUM_AFTER:
            conn.execute("VACUUM thread_log_summary_delta")  # a role that does not own it gets a warning, not an error
    return total
