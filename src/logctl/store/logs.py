"""``LogStore``: the pool-backed persistence layer over ``thread_logs``: inserts, history and the live feed.

One synchronous psycopg pool serves the CLI, the in-process direct writer and the hub (which
calls it from worker threads; see docs/architecture.md for why).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

import psycopg
from psycopg_pool import ConnectionPool

from logctl.core.cursor import Cursor
from logctl.core.merge import HistoryPage
from logctl.core.protocol.history import EncodedHistoryPage, page_cursors
from logctl.core.partitions import Partition, Period, periods_ahead, periods_of
from logctl.core.records import LogRecord, Row, check_created_at, escape_nul
from logctl.store.connect import CONNECT_TIMEOUT, connect, translating
from logctl.store.partitioned_write import write_partitioned
from logctl.store.partitions import create_partitions, is_no_partition, read_layout
from logctl.store.record_json import RECORD_JSON
from logctl.store.scope import ALL_THREADS, ThreadSelector, thread_filter
from logctl.store.writer_sums import declare_sums, writer_sums_enabled

__all__ = ["LogStore", "WriteResult"]

_COLUMNS: Final = "id, thread_id, message, created_at, level, producer_id, seq, txid::text::int8"

_INSERT: Final = (
    "INSERT INTO thread_logs (thread_id, message, level, created_at, producer_id, seq)"
    " SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::timestamptz[], %s::text[], %s::int8[])"
    " ON CONFLICT DO NOTHING"  # no target: the unique key differs by layout (it holds created_at when partitioned)
)
_INSERT_RETURNING: Final = _INSERT + " RETURNING producer_id, seq"
_STORED_BY_KEY: Final = (
    "SELECT producer_id, seq, thread_id, message, level FROM thread_logs"
    " WHERE (producer_id, seq) IN (SELECT * FROM unnest(%s::text[], %s::int8[]))"
)

# Binary COPY: psycopg packs a row in about a tenth of the time it takes to format one as
# text (a timestamptz as text alone costs about 1 µs), and PostgreSQL reads it no slower.
_COPY: Final = "COPY thread_logs (thread_id, message, level, created_at, producer_id, seq) FROM STDIN (FORMAT BINARY)"
_COPY_TYPES: Final = ("text", "text", "text", "timestamptz", "text", "int8")

#: How often a store reads the layout of thread_logs again (a conversion while it runs).
_LAYOUT_TTL: Final = 30.0

_HORIZON_XID: Final = "SELECT pg_snapshot_xmin(pg_current_snapshot())"
_HORIZON: Final = f"{_HORIZON_XID}::text::int8"

# A page of history as one row: the horizon of the statement's snapshot (the same one that
# bounds the rows: one statement, one snapshot), the rows read, the page's records as the
# text of a JSON array, oldest first, and the cursors of its oldest and newest record. The
# rows are numbered oldest first; the page is the newest ``limit`` of them (all of them after
# a cursor, where at most ``limit`` are read). Arguments: limit, limit, then the rows'.
_ENCODED_PAGE: Final = (
    f"SELECT ({_HORIZON}), count(*),"
    " '[' || coalesce(string_agg(j, ',' ORDER BY r) FILTER (WHERE r > n - %s), '') || ']',"
    " min(c) FILTER (WHERE r = greatest(1, n - %s + 1)), min(c) FILTER (WHERE r = n)"
    " FROM (SELECT p.j, p.txid || '-' || p.id AS c, row_number() OVER (ORDER BY p.txid, p.id) AS r,"
    "   count(*) OVER () AS n FROM ({rows}) p) q"
)

_FEED: Final = (
    f"SELECT l.{_COLUMNS.replace(', ', ', l.')}"
    " FROM unnest(%s::text[], %s::text[], %s::int8[]) AS p(thread_id, ctx, cid)"
    " CROSS JOIN LATERAL ("
    "   SELECT * FROM thread_logs t"
    "   WHERE t.thread_id = p.thread_id AND (t.txid, t.id) > (p.ctx::xid8, p.cid) AND t.txid < %s::text::xid8"
    "   ORDER BY t.txid, t.id LIMIT %s) l"
    " ORDER BY l.txid, l.id"
)


def _page_rows(
    columns: str, horizon: str, thread_id: str, *, limit: int, before: Cursor | None, after: Cursor | None
) -> tuple[str, list[Any]]:
    """The SELECT of a history page's rows of ``thread_id``, in the order read, and its arguments.

    ``horizon`` is the SQL of the xmin horizon (an xid8; its arguments come first): only rows
    of transactions below it are read. After a cursor: the ``limit`` oldest rows past it,
    oldest first. Otherwise the ``limit + 1`` newest (before ``before``), newest first: the
    extra row says whether older rows exist.
    """
    # ORDER BY names the table's columns: a bare ``txid`` would be the output column of that
    # name (``txid::text::int8`` in _COLUMNS), which no index orders, and PostgreSQL would
    # sort every row of the thread to return a page (0.5 s for a thread of 300,000 rows).
    where = f"txid < {horizon} AND thread_id = %s"
    if after is not None:
        return (
            f"SELECT {columns} FROM thread_logs WHERE {where} AND (txid, id) > (%s::text::xid8, %s)"
            " ORDER BY thread_logs.txid, thread_logs.id LIMIT %s",
            [thread_id, str(after.txid), after.id, limit],
        )
    args: list[Any] = [thread_id]
    if before is not None:
        where += " AND (txid, id) < (%s::text::xid8, %s)"
        args += [str(before.txid), before.id]
    order = "ORDER BY thread_logs.txid DESC, thread_logs.id DESC"
    return f"SELECT {columns} FROM thread_logs WHERE {where} {order} LIMIT %s", [*args, limit + 1]


def _xmin(conn: psycopg.Connection[tuple[Any, ...]]) -> int:
    """The xmin horizon of a new snapshot on ``conn``: every transaction below it has finished."""
    row = conn.execute(_HORIZON).fetchone()
    assert row is not None
    return int(row[0])


@dataclasses.dataclass(frozen=True, slots=True)
class WriteResult:
    """What :meth:`LogStore.write_rows` did: rows inserted, and the positions of conflicting rows."""

    inserted: int
    #: Rows (by position) whose ``(producer_id, seq)`` was stored with another thread, message
    #: or level: a reused producer id, not a resend. They were not written.
    conflicts: tuple[int, ...] = ()


def _with_conflicts(
    conn: psycopg.Connection[tuple[Any, ...]], rows: Sequence[Row], written: set[tuple[str, int]]
) -> WriteResult:
    """Tell the skipped rows apart: resends of what is stored, or conflicts with it (same transaction)."""
    skipped: list[tuple[int, tuple[str, int]]] = []  # (position, key)
    claimed: set[tuple[str, int]] = set()
    for position, row in enumerate(rows):
        producer_id, seq = row[4], row[5]
        if producer_id is None or seq is None:
            continue  # NULL keys never conflict: always inserted
        key = (producer_id, seq)
        if key in written and key not in claimed:
            claimed.add(key)  # the first row with this key is the one written
        else:
            skipped.append((position, key))
    inserted = len(rows) - len(skipped)
    if not skipped:
        return WriteResult(inserted)
    found = conn.execute(_STORED_BY_KEY, ([k[0] for _, k in skipped], [k[1] for _, k in skipped])).fetchall()
    stored = {(str(p), int(q)): (t, m, lv) for p, q, t, m, lv in found}
    conflicts = tuple(i for i, key in skipped if stored.get(key) != (rows[i][0], rows[i][1], rows[i][2]))
    return WriteResult(inserted, conflicts)


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
    """Batched writes and gap-free reads over one connection pool (retention: :mod:`logctl.store.prune`)."""

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
        #: The partition period of thread_logs (None: the plain layout), read at open() and every 30 s.
        self.period: Period | None = None
        #: Whether writes append their own summary deltas (migration 007's trigger), read with the period.
        self.writer_sums = False
        self._layout_read = -_LAYOUT_TTL

    def open(self, timeout: float = 10.0) -> LogStore:
        """Connect once directly (for a precise error), then open the pool."""
        connect(self.dsn).close()
        with translating(self.dsn):
            self.pool.open(wait=True, timeout=timeout)
            with self.pool.connection() as conn:
                self._read_layout(conn)
        return self

    def _read_layout(self, conn: psycopg.Connection[tuple[Any, ...]]) -> Period | None:
        self.period, self._layout_read = read_layout(conn), time.monotonic()
        self.writer_sums = writer_sums_enabled(conn)
        return self.period

    def maintain_partitions(self, now: dt.datetime | None = None) -> list[Partition]:
        """Create the partitions from now's period to ``now + AHEAD``'s, if partitioned; return those made."""
        with translating(self.dsn), self.pool.connection() as conn:
            period = self._read_layout(conn)
            if period is None:
                return []
            return create_partitions(conn, periods_ahead(now or dt.datetime.now(dt.timezone.utc), period))

    def close(self) -> None:
        self.pool.close()

    def __enter__(self) -> LogStore:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
        """A pooled autocommit connection; any driver error inside becomes a :class:`DatabaseError`."""
        with translating(self.dsn), self.pool.connection() as conn:
            yield conn

    # -- writes ---------------------------------------------------------------------

    def insert(self, records: Sequence[LogRecord]) -> int:
        """Write ``records`` in one transaction; return how many rows were inserted.

        The fast path is one COPY. If it hits the ``(producer_id, seq)`` unique key (a
        resend of something already stored), the batch is written instead with
        ``INSERT … SELECT FROM unnest(…) ON CONFLICT DO NOTHING``, which skips the stored
        keys, so a resend is harmless. NUL characters in messages, which TEXT cannot
        hold, are stored as ``\\x00``. A record without ``created_at`` gets the insert
        time; a naive ``created_at`` is taken as UTC, as everywhere in logctl; one outside
        :data:`~logctl.core.records.CREATED_AT_RANGE` is :class:`~logctl.errors.InvalidRecord`.
        """
        if not records:
            return 0
        now = dt.datetime.now(dt.timezone.utc)
        return self.insert_rows([
            (r.thread_id, escape_nul(r.message), r.level, now if r.created_at is None else check_created_at(r.created_at),
             r.producer_id, r.seq)
            for r in records
        ])

    def insert_rows(self, rows: Sequence[Row]) -> int:
        """:meth:`insert` for rows already validated (:func:`~logctl.core.records.row_from_wire`):
        messages free of NUL, ``created_at`` set and timezone-aware. Return the rows inserted
        (see :meth:`write_rows` to learn which rows conflicted with stored ones)."""
        return self.write_rows(rows).inserted

    def write_rows(self, rows: Sequence[Row]) -> WriteResult:
        """:meth:`insert_rows`, reporting the rows whose ``(producer_id, seq)`` is stored with other content.

        A row whose key is already stored with the same thread, message and level is a
        resend: harmless, skipped. One whose stored row differs is a *conflict* (another
        producer reused the id): it is not written either, and its position is returned,
        so that the caller can refuse it instead of acknowledging it as stored.
        """
        if not rows:
            return WriteResult(0)
        with translating(self.dsn), self.pool.connection() as conn:
            if time.monotonic() - self._layout_read > _LAYOUT_TTL:
                self._read_layout(conn)
            for attempt in range(3):
                try:
                    return self._write(conn, rows)
                except psycopg.errors.CheckViolation as exc:
                    # A row whose created_at has no partition: make the partitions the batch
                    # needs, then write it again. Nothing is lost, nothing is refused.
                    if not is_no_partition(exc) or attempt == 2:
                        raise
                    period = self._read_layout(conn)
                    if period is None:
                        raise
                    create_partitions(conn, periods_of((row[3] for row in rows), period))
            raise AssertionError("unreachable")

    def _write(self, conn: psycopg.Connection[tuple[Any, ...]], rows: Sequence[Row]) -> WriteResult:
        if self.period is not None:
            inserted, conflicts = write_partitioned(conn, rows, _COPY, _COPY_TYPES, sums=self.writer_sums)
            return WriteResult(inserted, conflicts)
        try:
            with conn.transaction():
                if self.writer_sums:
                    declare_sums(conn, rows)  # rolled back with the COPY if it fails
                with conn.cursor().copy(_COPY) as copy:
                    copy.set_types(_COPY_TYPES)
                    write = copy.write_row
                    for row in rows:
                        write(row)
            return WriteResult(len(rows))
        except psycopg.errors.UniqueViolation:
            pass
        # A resend: the trigger sums the rows this insert writes.
        with conn.transaction():
            written = conn.execute(_INSERT_RETURNING, [list(column) for column in zip(*rows)]).fetchall()
            # Rows without a key come back as (NULL, NULL): always inserted, never a conflict.
            return _with_conflicts(conn, rows, {(str(p), int(q)) for p, q in written if p is not None and q is not None})

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
            query, args = _page_rows(_COLUMNS, "%s::text::xid8", thread_id, limit=limit, before=before, after=after)
            rows = conn.execute(query, [str(xmin), *args]).fetchall()
        records = [_record(r) for r in rows[:limit]]
        if after is None:
            records.reverse()  # read newest first
        resume, older = page_cursors(
            xmin, limit=limit, after=after, read=len(rows),
            oldest=records[0].cursor if records else None, newest=records[-1].cursor if records else None,
        )
        return HistoryPage(tuple(records), resume, older)

    def history_json(
        self,
        thread_id: str,
        *,
        limit: int = 1000,
        before: Cursor | None = None,
        after: Cursor | None = None,
    ) -> EncodedHistoryPage:
        """:meth:`history`, its records encoded as JSON by PostgreSQL: one statement, one row back.

        The statement reads the horizon of its own snapshot, the page's rows (the same query as
        :meth:`history`) and aggregates them, oldest first, into the text of a JSON array
        (:data:`~logctl.store.record_json.RECORD_JSON`), with the cursors that the page's
        ``resume`` and ``before`` are made from. So the hub turns no row into a Python value.
        """
        query, args = _page_rows(
            f"txid, id, {RECORD_JSON} AS j", f"({_HORIZON_XID})", thread_id, limit=limit, before=before, after=after
        )
        with translating(self.dsn), self.pool.connection() as conn:
            row = conn.execute(_ENCODED_PAGE.format(rows=query), [limit, limit, *args]).fetchone()
        assert row is not None
        xmin, read, logs, oldest, newest = row
        resume, older = page_cursors(
            int(xmin), limit=limit, after=after, read=int(read),
            oldest=None if oldest is None else Cursor.parse(oldest), newest=None if newest is None else Cursor.parse(newest),
        )
        return EncodedHistoryPage(str(logs), min(int(read), limit), resume, older)

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

    def count(self, thread: ThreadSelector = ALL_THREADS) -> int:
        """How many rows ``thread`` has (by default: every thread; None: the NULL thread)."""
        where, args = thread_filter(thread)
        with translating(self.dsn), self.pool.connection() as conn:
            row = conn.execute(f"SELECT count(*) FROM thread_logs WHERE {where}", args).fetchone()
        return int(row[0]) if row else 0
