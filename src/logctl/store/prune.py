"""Running a prune plan against the store: short batched deletes under an advisory lock.

The plan itself (what to delete, decided from options and ``now``) is pure:
:mod:`logctl.core.prune_plan`. This module holds the SQL that carries it out. On the
partitioned layout, ``--days`` (for every thread) first detaches and drops the partitions wholly
before the cutoff (:mod:`logctl.store.partition_drop`, which keeps thread_log_summary exact),
then deletes the rest of the boundary partition in batches.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final

import psycopg
from psycopg import sql

from logctl.core.cursor import Cursor
from logctl.core.partitions import Partition, rows_before, split_for_retention
from logctl.core.prune_plan import PrunePlan
from logctl.core.thread_sums import DroppedSums
from logctl.store.connect import connect, translating
from logctl.store.logs import LogStore
from logctl.store.partition_drop import count_rows, detach, drop_detached, leftovers
from logctl.store.partitions import read_layout, read_partitions
from logctl.store.runs import fold_summary
from logctl.store.scope import ALL_THREADS, ThreadSelector, thread_filter

__all__ = ["Detached", "Pacer", "Progress", "PruneResult", "count_planned", "run_prune", "try_lock"]

#: Called with (rows done, rows in all) after each batch.
Progress = Callable[[int, int], None]

_LOCK_NAMESPACE = 0x6C6F67  # "log"; the second key is a hash of "<schema>:<name>"


@dataclasses.dataclass(frozen=True, slots=True)
class PruneResult:
    planned: int
    deleted: int
    seconds: float
    dry_run: bool
    skipped_locked: bool = False
    #: Partitions dropped whole (to be dropped, on a dry run), with their rows.
    partitions: tuple[tuple[Partition, int], ...] = ()


def _selector(plan: PrunePlan) -> ThreadSelector:
    """The plan's scope: its ``--thread``, else every thread (a plan cannot name the NULL thread)."""
    return ALL_THREADS if plan.thread_id is None else plan.thread_id


def count_older_than(
    store: LogStore, cutoff: dt.datetime, thread: ThreadSelector, since: dt.datetime | None = None
) -> int:
    """Rows of ``thread`` created before ``cutoff`` (and at or after ``since``, if given)."""
    with store.connection() as conn:
        where, args = thread_filter(thread)
        lower, low = ("created_at >= %s AND ", (since,)) if since is not None else ("", ())
        row = conn.execute(
            f"SELECT count(*) FROM thread_logs WHERE {lower}created_at < %s AND {where}", (*low, cutoff, *args)
        ).fetchone()
    return int(row[0]) if row else 0


def delete_older_than(store: LogStore, cutoff: dt.datetime, thread: ThreadSelector, batch: int) -> int:
    """Delete at most ``batch`` rows older than ``cutoff`` in one short transaction."""
    # Partitioned: the outer condition on created_at limits the DELETE to the partitions that
    # can hold such rows (after the drops, the boundary one), instead of probing every one by id.
    outer = "created_at < %s AND " if store.period is not None else ""
    with store.connection() as conn:
        where, args = thread_filter(thread)
        cur = conn.execute(
            f"DELETE FROM thread_logs WHERE {outer}id IN (SELECT id FROM thread_logs"
            f" WHERE created_at < %s AND {where} LIMIT %s)",
            ((cutoff,) if outer else ()) + (cutoff, *args, batch),
        )
        return max(cur.rowcount, 0)


def partitions_before(store: LogStore, plan: PrunePlan, *, exact: bool) -> list[tuple[Partition, int]]:
    """The partitions that ``plan`` drops whole, with their rows: those wholly before its cutoff.

    None unless the layout is partitioned and the plan prunes every thread by age. Rows are
    counted when ``exact`` (a dry run); otherwise PostgreSQL's estimate is used where it has
    one, since dropping reads each partition once anyway (for the summary).
    """
    if plan.cutoff is None or plan.thread_id is not None:
        return []
    with store.connection() as conn:
        if read_layout(conn) is None:
            return []
        drop, _ = split_for_retention(read_partitions(conn).partitions, plan.cutoff)
        out = []
        for part in drop:
            table = sql.Identifier(part.name)
            row = conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(table) if exact else
                sql.SQL("SELECT CASE WHEN reltuples >= 0 THEN reltuples::int8 ELSE (SELECT count(*) FROM {}) END"
                        " FROM pg_class WHERE oid = {}::regclass").format(table, sql.Literal(part.name))
            ).fetchone()
            out.append((part, int(row[0]) if row else 0))
    return out


class Pacer:
    """Paces a prune (``--pace``): before each step, rests ``plan.rest_after()`` of the time the step before took.

    The rest is owed by a step and paid before the next one, so the prune never rests after
    its last step. ``clock`` and ``sleep`` are passed in, so that pacing can be tested without
    waiting.
    """

    def __init__(self, plan: PrunePlan, clock: Callable[[], float], sleep: Callable[[float], None]) -> None:
        self.plan, self.clock, self.sleep = plan, clock, sleep
        self.rested = 0.0
        self._owed = 0.0

    @contextlib.contextmanager
    def step(self) -> Iterator[None]:
        """One step: the rest owed by the step before first, then the step, timed."""
        if self._owed > 0:
            self.sleep(self._owed)
            self.rested += self._owed
        started = self.clock()
        yield
        self._owed = self.plan.rest_after(self.clock() - started)


@dataclasses.dataclass(slots=True)
class Detached:
    """Partitions detached and counted, not dropped yet: their names, rows per thread, and a time all their rows are older than."""

    names: list[str]
    sums: DroppedSums
    bound: dt.datetime | None


def detach_and_count(store: LogStore, whole: Sequence[tuple[Partition, int]], pacer: Pacer) -> Detached:
    """Detach the partitions ``whole`` (and finish what an interrupted prune left) and count their rows, step by step."""
    with store.connection() as conn:
        names = leftovers(conn, read_partitions(conn))
        for part, _ in whole:
            with pacer.step():
                detach(conn, part.name)
            names.append(part.name)
        sums = DroppedSums()
        count_rows(conn, names, sums, step=pacer.step)
    # A leftover's bounds are unknown once detached: then every first and last time is read again.
    return Detached(names, sums, rows_before([p for p, _ in whole]) if len(names) == len(whole) else None)


def drop_partitions(store: LogStore, plan: PrunePlan, detached: Detached) -> int:
    """Drop the ``detached`` partitions, with the summary corrected in the same transaction; return rows dropped.

    (:mod:`logctl.store.partition_drop`). The backlog of deltas is folded first in short
    transactions (a hub may be folding it: then it is skipped), so that the drop's transaction
    folds only a few.
    """
    assert plan.cutoff is not None
    if detached.names:
        fold_summary(store)
    with store.connection() as conn:
        drop_detached(conn, detached.names, detached.sums, detached.bound)
        # The producers' ledger: producers with nothing left to resend against.
        conn.execute("DELETE FROM thread_log_producers WHERE last_at < %s", (plan.cutoff,))
    return detached.sums.rows


def threads_over(store: LogStore, keep: int, thread: ThreadSelector) -> list[tuple[str | None, int]]:
    """Threads with more than ``keep`` rows (None: the NULL thread), and how many rows each has beyond that."""
    with store.connection() as conn:
        where, args = thread_filter(thread)
        rows = conn.execute(
            f"SELECT thread_id, count(*) - %s FROM thread_logs WHERE {where}"
            " GROUP BY thread_id HAVING count(*) > %s ORDER BY thread_id",
            (keep, *args, keep),
        ).fetchall()
    return [(r[0], int(r[1])) for r in rows]


# thread_logs.txid, not the output column of the same name (txid::text::int8), which no index
# orders: ORDER BY a bare ``txid`` would sort every row of the thread (the page query's trap, store/logs.py).
_KEEP_BOUNDARY: Final = (
    "SELECT txid::text::int8, id FROM thread_logs WHERE {where}"
    " ORDER BY thread_logs.txid DESC, thread_logs.id DESC OFFSET %s LIMIT 1"
)


def keep_boundary(store: LogStore, thread: ThreadSelector, keep: int) -> Cursor | None:
    """The cursor of the ``keep``-th newest row of a thread (rows before it may go)."""
    with store.connection() as conn:
        where, args = thread_filter(thread)
        row = conn.execute(_KEEP_BOUNDARY.format(where=where), (*args, keep - 1)).fetchone()
    return Cursor(int(row[0]), int(row[1])) if row else None


def delete_before(store: LogStore, thread: ThreadSelector, boundary: Cursor, batch: int) -> int:
    """Delete at most ``batch`` rows of a thread ordered before ``boundary``."""
    with store.connection() as conn:
        where, args = thread_filter(thread)
        cur = conn.execute(
            "DELETE FROM thread_logs WHERE id IN (SELECT id FROM thread_logs"
            f" WHERE {where} AND (txid, id) < (%s::text::xid8, %s) LIMIT %s)",
            (*args, str(boundary.txid), boundary.id, batch),
        )
        return max(cur.rowcount, 0)


def try_lock(store: LogStore, name: str) -> psycopg.Connection[tuple[Any, ...]] | None:
    """Take a per-schema advisory lock on a dedicated connection; None if another holds it.

    Closing the returned connection releases the lock.
    """
    conn = connect(store.dsn)
    with translating(store.dsn):
        row = conn.execute(
            "SELECT pg_try_advisory_lock(%s, hashtext(current_schema() || %s))", (_LOCK_NAMESPACE, ":" + name)
        ).fetchone()
    if row and row[0]:
        return conn
    conn.close()
    return None


def count_planned(
    store: LogStore, plan: PrunePlan, whole: Sequence[tuple[Partition, int]] = ()
) -> tuple[int, list[tuple[str | None, int]]]:
    """How many rows the plan deletes: by age, plus per-thread excess left after that.

    ``whole``: the partitions dropped whole, with their rows; only the rows after them are counted.
    """
    scope = _selector(plan)
    since = max((p.upper for p, _ in whole if p.upper is not None), default=None)
    by_age = sum(n for _, n in whole)
    by_age += count_older_than(store, plan.cutoff, scope, since) if plan.cutoff is not None else 0
    over = threads_over(store, plan.keep_per_thread, scope) if plan.keep_per_thread is not None else []
    # The two criteria can overlap; the per-thread count is an upper bound until age runs.
    return by_age + sum(n for _, n in over), over


def run_prune(
    store: LogStore,
    plan: PrunePlan,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> PruneResult:
    """Apply ``plan``: age first, then per-thread limits, each in batches of ``plan.batch_size``, paced by ``plan.pace``."""
    started = clock()
    lock = None if dry_run else try_lock(store, "prune")
    if not dry_run and lock is None:
        return PruneResult(0, 0, clock() - started, dry_run, skipped_locked=True)
    try:
        whole = tuple(partitions_before(store, plan, exact=dry_run))
        planned, over = count_planned(store, plan, whole)
        if dry_run:
            return PruneResult(planned, 0, clock() - started, True, partitions=whole)
        done = 0
        pacer = Pacer(plan, clock, sleep)
        report = progress or (lambda _done, _total: None)
        report(0, planned)
        # Partitioned, by age for every thread: detach and count the partitions wholly before the
        # cutoff, delete the boundary partition's older rows, then drop them (the summary's one
        # transaction last, with no rest after it).
        partitioned = store.period is not None and plan.cutoff is not None and plan.thread_id is None
        detached = detach_and_count(store, whole, pacer) if partitioned else None
        if plan.cutoff is not None:
            while True:
                with pacer.step():
                    n = delete_older_than(store, plan.cutoff, _selector(plan), plan.batch_size)
                done += n
                if n:
                    report(done, max(planned, done))
                if n < plan.batch_size:
                    break
        if detached is not None:
            done += drop_partitions(store, plan, detached)
            report(done, max(planned, done))
        if plan.keep_per_thread is not None:
            for thread_id, _ in over:
                boundary = keep_boundary(store, thread_id, plan.keep_per_thread)  # None: the NULL thread
                while boundary is not None:
                    with pacer.step():
                        n = delete_before(store, thread_id, boundary, plan.batch_size)
                    done += n
                    if n:
                        report(done, max(planned, done))
                    if n < plan.batch_size:
                        break
        return PruneResult(planned, done, clock() - started, False, partitions=whole)
    finally:
        if lock is not None:
            lock.close()
