"""``LogStore``: the pool-backed persistence layer over ``thread_logs``.

One synchronous psycopg pool serves the CLI, the in-process direct writer and the hub (which
calls it from worker threads; see docs/architecture.md for why).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Final

import psycopg
from psycopg_pool import ConnectionPool

from logctl.core.cursor import Cursor
from logctl.core.merge import HistoryPage
from logctl.core.records import LogRecord, Row, assume_utc, escape_nul
from logctl.db import CONNECT_TIMEOUT, connect, translating

__all__ = ["HistoryPage", "LogStore"]

_COLUMNS: Final = "id, thread_id, message, created_at, level, producer_id, seq, txid::text::int8"

_INSERT: Final = (
    "INSERT INTO thread_logs (thread_id, message, level, created_at, producer_id, seq)"
    " SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::timestamptz[], %s::text[], %s::int8[])"
    " ON CONFLICT (producer_id, seq) DO NOTHING"
)

# Binary COPY: psycopg packs a row in about a tenth of the time it takes to format one as
# text (a timestamptz as text alone costs about 1 µs), and PostgreSQL reads it no slower.
_COPY: Final = "COPY thread_logs (thread_id, message, level, created_at, producer_id, seq) FROM STDIN (FORMAT BINARY)"
_COPY_TYPES: Final = ("text", "text", "text", "timestamptz", "text", "int8")

_HORIZON: Final = "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::int8"

_FEED: Final = (
    f"SELECT l.{_COLUMNS.replace(', ', ', l.')}"
    " FROM unnest(%s::text[], %s::text[], %s::int8[]) AS p(thread_id, ctx, cid)"
    " CROSS JOIN LATERAL ("
    "   SELECT * FROM thread_logs t"
    "   WHERE t.thread_id = p.thread_id AND (t.txid, t.id) > (p.ctx::xid8, p.cid) AND t.txid < %s::text::xid8"
    "   ORDER BY t.txid, t.id LIMIT %s) l"
    " ORDER BY l.txid, l.id"
)


def _xmin(conn: psycopg.Connection[tuple[Any, ...]]) -> int:
    """The xmin horizon of a new snapshot on ``conn``: every transaction below it has finished."""
    row = conn.execute(_HORIZON).fetchone()
    assert row is not None
    return int(row[0])


def _record(row: Sequence[Any]) -> LogRecord:
    rid, thread_id, message, created_at, level, producer_id, seq, txid = row
    return LogRecord(
        thread_id=thread_id,
        message=message,
        level=level or "INFO",
        created_at=created_at,
        producer_id=producer_id,
        seq=seq,
        id=rid,
        cursor=Cursor(int(txid), int(rid)),
    )


class LogStore:
    """Batched writes, gap-free reads and retention over one connection pool."""

    def __init__(
        self, dsn: str, *, min_size: int = 1, max_size: int = 10, name: str = "logctl", timeout: float = 5.0
    ) -> None:
        self.dsn = dsn
        self.pool: ConnectionPool[psycopg.Connection[tuple[Any, ...]]] = ConnectionPool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            name=name,
            open=False,
            timeout=timeout,  # how long a caller waits for a connection before DatabaseUnavailable
            kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT},
        )

    def open(self, timeout: float = 10.0) -> LogStore:
        """Connect once directly (for a precise error), then open the pool."""
        connect(self.dsn).close()
        with translating(self.dsn):
            self.pool.open(wait=True, timeout=timeout)
        return self

    def close(self) -> None:
        self.pool.close()

    def __enter__(self) -> LogStore:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writes ---------------------------------------------------------------------

    def insert(self, records: Sequence[LogRecord]) -> int:
        """Write ``records`` in one transaction; return how many rows were inserted.

        The fast path is one COPY. If it hits the ``(producer_id, seq)`` unique key (a
        resend of something already stored), the batch is written instead with
        ``INSERT … SELECT FROM unnest(…) ON CONFLICT DO NOTHING``, which skips the stored
        keys, so a resend is harmless. NUL characters in messages, which TEXT cannot
        hold, are stored as ``\\x00``. A record without ``created_at`` gets the insert
        time; a naive ``created_at`` is taken as UTC, as everywhere in logctl.
        """
        if not records:
            return 0
        now = dt.datetime.now(dt.timezone.utc)
        return self.insert_rows([
            (r.thread_id, escape_nul(r.message), r.level, now if r.created_at is None else assume_utc(r.created_at),
             r.producer_id, r.seq)
            for r in records
        ])

    def insert_rows(self, rows: Sequence[Row]) -> int:
        """:meth:`insert` for rows already validated (:func:`~logctl.core.records.row_from_wire`):
        messages free of NUL, ``created_at`` set and timezone-aware."""
        if not rows:
            return 0
        with translating(self.dsn), self.pool.connection() as conn:
            try:
                with conn.transaction(), conn.cursor().copy(_COPY) as copy:
                    copy.set_types(_COPY_TYPES)
                    write = copy.write_row
                    for row in rows:
                        write(row)
                return len(rows)
            except psycopg.errors.UniqueViolation:
                pass
            cur = conn.execute(_INSERT, [list(column) for column in zip(*rows)])
            return max(cur.rowcount, 0)

    # -- reads ----------------------------------------------------------------------

    def horizon(self) -> int:
        """The xmin horizon: every transaction with a smaller id has finished."""
        with translating(self.dsn), self.pool.connection() as conn:
            return _xmin(conn)

    def horizon_status(self) -> tuple[int, float | None]:
        """The xmin horizon, and the age in seconds of the oldest open writing transaction.

        That transaction (on any database of the cluster) is what holds the horizon, and
        so live delivery, back; None when no transaction holds a transaction id.
        """
        with translating(self.dsn), self.pool.connection() as conn:
            row = conn.execute(
                f"SELECT ({_HORIZON}), (SELECT extract(epoch FROM max(now() - xact_start))::float8"
                " FROM pg_stat_activity WHERE backend_xid IS NOT NULL)"
            ).fetchone()
        assert row is not None
        return int(row[0]), None if row[1] is None else float(row[1])

    def history(
        self,
        thread_id: str,
        *,
        limit: int = 1000,
        before: Cursor | None = None,
        after: Cursor | None = None,
    ) -> HistoryPage:
        """The latest ``limit`` stable rows of a thread (or those before/after a cursor), oldest first."""
        with translating(self.dsn), self.pool.connection() as conn:
            xmin = _xmin(conn)
            where = "thread_id = %s AND txid < %s::text::xid8"
            args: list[Any] = [thread_id, str(xmin)]
            if after is not None:
                rows = conn.execute(
                    f"SELECT {_COLUMNS} FROM thread_logs WHERE {where}"
                    " AND (txid, id) > (%s::text::xid8, %s) ORDER BY txid, id LIMIT %s",
                    [*args, str(after.txid), after.id, limit],
                ).fetchall()
                records = tuple(_record(r) for r in rows)
                full = len(records) == limit and limit > 0
                resume = records[-1].cursor if full and records else Cursor.horizon(xmin)
                first = records[0].cursor if records else after
                assert resume is not None
                return HistoryPage(records, max(resume, after), first)
            if before is not None:
                where += " AND (txid, id) < (%s::text::xid8, %s)"
                args += [str(before.txid), before.id]
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM thread_logs WHERE {where} ORDER BY txid DESC, id DESC LIMIT %s",
                [*args, limit + 1],
            ).fetchall()
        more = len(rows) > limit
        records = tuple(_record(r) for r in reversed(rows[:limit]))
        older = records[0].cursor if more and records else None
        return HistoryPage(records, Cursor.horizon(xmin), older)

    def feed(self, positions: Mapping[str, Cursor], *, limit: int = 2000) -> tuple[int, list[LogRecord]]:
        """Stable rows after each thread's cursor, in stream order, and the horizon used.

        At most ``limit`` rows per thread. Threads that got fewer than ``limit`` rows may
        move their cursor to ``Cursor.horizon(xmin)``.
        """
        with translating(self.dsn), self.pool.connection() as conn:
            xmin = _xmin(conn)
            if not positions:
                return xmin, []
            threads = list(positions)
            rows = conn.execute(
                _FEED,
                (
                    threads,
                    [str(positions[t].txid) for t in threads],
                    [positions[t].id for t in threads],
                    str(xmin),
                    limit,
                ),
            ).fetchall()
        return xmin, [_record(r) for r in rows]

    def count(self, thread_id: str | None = None) -> int:
        with translating(self.dsn), self.pool.connection() as conn:
            if thread_id is None:
                row = conn.execute("SELECT count(*) FROM thread_logs").fetchone()
            else:
                row = conn.execute("SELECT count(*) FROM thread_logs WHERE thread_id = %s", (thread_id,)).fetchone()
        return int(row[0]) if row else 0

    # -- retention ------------------------------------------------------------------

    def count_older_than(self, cutoff: dt.datetime, thread_id: str | None) -> int:
        with translating(self.dsn), self.pool.connection() as conn:
            where, args = _thread_filter(thread_id, null_means_all=True)
            row = conn.execute(
                f"SELECT count(*) FROM thread_logs WHERE created_at < %s AND {where}", (cutoff, *args)
            ).fetchone()
        return int(row[0]) if row else 0

    def delete_older_than(self, cutoff: dt.datetime, thread_id: str | None, batch: int) -> int:
        """Delete at most ``batch`` rows older than ``cutoff`` in one short transaction."""
        with translating(self.dsn), self.pool.connection() as conn:
            where, args = _thread_filter(thread_id, null_means_all=True)
            cur = conn.execute(
                "DELETE FROM thread_logs WHERE id IN (SELECT id FROM thread_logs"
                f" WHERE created_at < %s AND {where} LIMIT %s)",
                (cutoff, *args, batch),
            )
            return max(cur.rowcount, 0)

    def threads_over(self, keep: int, thread_id: str | None) -> list[tuple[str | None, int]]:
        """Threads with more than ``keep`` rows, and how many rows each has beyond that."""
        with translating(self.dsn), self.pool.connection() as conn:
            where, args = _thread_filter(thread_id, null_means_all=True)
            rows = conn.execute(
                f"SELECT thread_id, count(*) - %s FROM thread_logs WHERE {where}"
                " GROUP BY thread_id HAVING count(*) > %s ORDER BY thread_id",
                (keep, *args, keep),
            ).fetchall()
        return [(r[0], int(r[1])) for r in rows]

    def keep_boundary(self, thread_id: str | None, keep: int) -> Cursor | None:
        """The cursor of the ``keep``-th newest row of a thread (rows before it may go)."""
        with translating(self.dsn), self.pool.connection() as conn:
            where, args = _thread_filter(thread_id, null_means_all=False)
            row = conn.execute(
                f"SELECT txid::text::int8, id FROM thread_logs WHERE {where}"
                " ORDER BY txid DESC, id DESC OFFSET %s LIMIT 1",
                (*args, keep - 1),
            ).fetchone()
        return Cursor(int(row[0]), int(row[1])) if row else None

    def delete_before(self, thread_id: str | None, boundary: Cursor, batch: int) -> int:
        """Delete at most ``batch`` rows of a thread ordered before ``boundary``."""
        with translating(self.dsn), self.pool.connection() as conn:
            where, args = _thread_filter(thread_id, null_means_all=False)
            cur = conn.execute(
                "DELETE FROM thread_logs WHERE id IN (SELECT id FROM thread_logs"
                f" WHERE {where} AND (txid, id) < (%s::text::xid8, %s) LIMIT %s)",
                (*args, str(boundary.txid), boundary.id, batch),
            )
            return max(cur.rowcount, 0)

    def try_lock(self, name: str) -> psycopg.Connection[tuple[Any, ...]] | None:
        """Take a per-schema advisory lock on a dedicated connection; None if another holds it.

        Closing the returned connection releases the lock.
        """
        conn = connect(self.dsn)
        with translating(self.dsn):
            row = conn.execute(
                "SELECT pg_try_advisory_lock(%s, hashtext(current_schema() || %s))", (0x6C6F67, ":" + name)
            ).fetchone()
        if row and row[0]:
            return conn
        conn.close()
        return None


def _thread_filter(thread_id: str | None, *, null_means_all: bool) -> tuple[str, tuple[str, ...]]:
    """A WHERE fragment selecting one thread, written so that the planner uses the index."""
    if thread_id is not None:
        return "thread_id = %s", (thread_id,)
    return ("TRUE", ()) if null_means_all else ("thread_id IS NULL", ())
