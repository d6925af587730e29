"""A selection's history (``GET /admin/logs``, a selection's catch-up): several threads as one page.

Everything is read in one ``REPEATABLE READ`` snapshot: its xmin horizon, the threads a glob
matches (from ``thread_log_summary`` and its pending deltas, migration 005, so a thread whose
first row is below the horizon is always among them), and the rows, as one ordered index scan
per thread (``idx_thread_logs_thread_cursor``). A small selection (few threads, few partitions:
:data:`ONE_QUERY_SCANS`) puts those scans under one ``UNION ALL … ORDER BY … LIMIT`` that
PostgreSQL merges lazily (Merge Append); a larger one reads them LIMITed, in rounds, merged by
:class:`~logctl.core.kmerge.KWayMerge`, whose plan does not grow with the threads. Either way a
page holds every row of every matching thread in its range, in global ``(txid, id)`` order, and
reads about as many rows as it returns.

:func:`selection_history` makes the page's rows records (a selection subscriber's catch-up);
:func:`selection_history_json` (``GET /admin/logs``) reads each row as its id, thread, txid and
its record's JSON text built by PostgreSQL (:data:`~logctl.store.record_json.RECORD_JSON`), and
joins those texts into the page: the same plans and merge, no row parsed further.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, Final

import psycopg

from logctl.core.cursor import Cursor
from logctl.core.kmerge import MIN_PAGE, KWayMerge
from logctl.core.merge import HistoryPage
from logctl.core.protocol.history import EncodedHistoryPage, page_cursors
from logctl.core.protocol.runs import glob_to_like
from logctl.core.selection import Selection
from logctl.store.connect import translating
from logctl.store.logs import _COLUMNS, LogStore, _record, _xmin
from logctl.store.record_json import RECORD_JSON

__all__ = [
    "EncodedSelectionPage",
    "SelectionPage",
    "TooManyMatches",
    "discover_threads",
    "selection_history",
    "selection_history_json",
    "selection_threads",
]

#: A row as read; merged raw, made a record (or its JSON text spliced) only once taken.
_Raw = tuple[Any, ...]


def _read(direction: str, order: str, inner: str, outer: str) -> str:
    return (
        f"SELECT {'l.' + outer.replace(', ', ', l.')}"
        " FROM unnest(%s::text[], %s::text[], %s::int8[], %s::int8[]) AS p(thread_id, ctx, cid, lim)"
        " CROSS JOIN LATERAL ("
        f"  SELECT {inner} FROM thread_logs t"
        f"  WHERE t.thread_id = p.thread_id AND (t.txid, t.id) {direction} (p.ctx::xid8, p.cid) AND t.txid < %s::text::xid8"
        f"  ORDER BY t.txid {order}, t.id {order} LIMIT p.lim) l"
    )


def _branch(direction: str, order: str, inner: str) -> str:
    return (
        f"(SELECT {inner} FROM thread_logs"
        f" WHERE thread_id = %s AND (txid, id) {direction} (%s::text::xid8, %s) AND txid < %s::text::xid8"
        f" ORDER BY txid {order}, id {order} LIMIT %s)"
    )


@dataclasses.dataclass(frozen=True, slots=True)
class _Shape:
    """What a selection's rows are read as, by either plan: the SQL of each read, and a row's ``(txid, id)``."""

    #: The select list of a row as read (``txid`` made an int8).
    outer: str
    position: Callable[[_Raw], tuple[int, int]]
    after: str  # the k-way merge's reads
    before: str
    branch_after: str  # one query's branches
    branch_before: str

    @classmethod
    def of(cls, inner: str, outer: str, position: Callable[[_Raw], tuple[int, int]]) -> _Shape:
        """``inner``: the columns taken from thread_logs (bare names: RECORD_JSON's are thread_logs'); ``outer``: see above."""
        return cls(outer, position, _read(">", "ASC", inner, outer), _read("<", "DESC", inner, outer),
                   _branch(">", "ASC", inner), _branch("<", "DESC", inner))


#: Rows as ``_COLUMNS`` (id first, txid last), to become records.
_RECORDS: Final = _Shape.of(_COLUMNS.replace("txid::text::int8", "txid"), _COLUMNS, lambda row: (row[7], row[0]))
#: Rows as ``(id, thread_id, txid, the record's JSON text)``.
_ENCODED: Final = _Shape.of(
    f"id, thread_id, txid, {RECORD_JSON} AS j", "id, thread_id, txid::text::int8, j", lambda row: (row[2], row[0])
)
# The threads whose ids match a LIKE pattern and that hold rows in this snapshot: the folded
# summary plus the deltas not folded yet (a thread's first row and its delta commit together).
_MATCHING: Final = (
    "SELECT thread_id FROM ("
    "  SELECT thread_id, count FROM thread_log_summary WHERE thread_id LIKE %s ESCAPE '\\'"
    "  UNION ALL SELECT thread_id, count FROM thread_log_summary_delta WHERE thread_id LIKE %s ESCAPE '\\'"
    ") s GROUP BY thread_id HAVING sum(count) > 0 ORDER BY thread_id LIMIT %s"
)


_DISCOVER: Final = (
    "SELECT thread_id FROM ("
    "  SELECT thread_id, count FROM thread_log_summary WHERE thread_id LIKE ANY(%s::text[])"
    "  UNION ALL SELECT thread_id, count FROM thread_log_summary_delta WHERE thread_id LIKE ANY(%s::text[])"
    ") s GROUP BY thread_id HAVING sum(count) > 0"
)


def _compact(conn: psycopg.Connection[tuple[Any, ...]]) -> None:
    """Fold the thread list's committed deltas (as ``GET /admin/runs`` does), so that a glob reads few of them.

    Without it the deltas of a hub whose thread list is never read would grow with every
    batch, and each look-up of a glob's threads would read them all.
    """
    conn.execute("SELECT logctl_summary_compact()")


class TooManyMatches(Exception):
    """A selection's glob matched more threads than allowed (``count`` is at least ``limit + 1``)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {limit} threads match")
        self.limit = limit


@dataclasses.dataclass(frozen=True, slots=True)
class SelectionPage:
    """A page of a selection's history and the threads it was read from (named ones and matched ones)."""

    page: HistoryPage
    threads: tuple[str, ...]
    horizon: Cursor


@dataclasses.dataclass(frozen=True, slots=True)
class EncodedSelectionPage:
    """:class:`SelectionPage` with its records as JSON text (:func:`selection_history_json`)."""

    page: EncodedHistoryPage
    threads: tuple[str, ...]
    horizon: Cursor


def matching_threads(conn: psycopg.Connection[tuple[Any, ...]], selection: Selection, max_matches: int) -> tuple[str, ...]:
    """The selection's threads in the connection's current snapshot: named ones, then the glob's (sorted).

    Raises :class:`TooManyMatches` when the glob matches more than ``max_matches`` threads.
    """
    matched: list[str] = []
    if selection.match is not None:
        like = glob_to_like(selection.match)
        matched = [str(r[0]) for r in conn.execute(_MATCHING, (like, like, max_matches + 1)).fetchall()]
        if len(matched) > max_matches:
            raise TooManyMatches(max_matches)
    return tuple(dict.fromkeys([*selection.threads, *matched]))


def _fill(conn: psycopg.Connection[tuple[Any, ...]], merge: KWayMerge[_Raw], shape: _Shape, xmin: int) -> None:
    wanted = merge.wanted()
    if not wanted:
        return
    threads = list(wanted)
    rows = conn.execute(
        shape.before if merge.descending else shape.after,
        (threads, [str(wanted[t][0].txid) for t in threads], [wanted[t][0].id for t in threads],
         [wanted[t][1] for t in threads], str(xmin)),
    ).fetchall()
    by_thread: dict[str, list[_Raw]] = {t: [] for t in threads}
    for row in rows:
        by_thread[row[1]].append(row)
    for thread, got in by_thread.items():
        got.sort(key=shape.position, reverse=merge.descending)
        merge.add(thread, got, wanted[thread][1])


#: A selection is read with one query (:func:`_one_query`) when it plans at most this many index scans:
#: its threads times the table's partitions (1 on the plain layout); else with :class:`KWayMerge`. One
#: query's plan grows with its scans (a ``UNION ALL`` branch per thread, each a scan per partition), the
#: merge's does not. bench/bench_selection.py compares the two: on a 1M-row table one query cost less CPU
#: up to 200 threads on the plain layout, and up to 3 threads (204 scans) but not 8 with 68 partitions.
ONE_QUERY_SCANS: Final = 256

#: The snapshot's xmin horizon and the number of partitions of thread_logs (0: the plain layout), in one round trip.
_HORIZON_AND_PARTITIONS: Final = (
    "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::int8,"
    " (SELECT count(*) FROM pg_inherits WHERE inhparent = to_regclass('thread_logs'))"
)


def _one_query(
    conn: psycopg.Connection[tuple[Any, ...]], shape: _Shape, threads: Sequence[str], start: Cursor, xmin: int, limit: int, *,
    descending: bool,
) -> list[_Raw]:
    """The first ``limit`` rows of ``threads`` after ``start`` (``descending``: before it), in merge order, in one query.

    One ordered index scan per thread (``idx_thread_logs_thread_cursor``) under a ``UNION ALL``,
    which PostgreSQL merges with a Merge Append that pulls each scan only as far as the merged
    ``LIMIT`` needs: the rows the k-way merge returns, in one round trip and no Python merge.
    (``thread_id = ANY(…) ORDER BY … LIMIT`` instead reads and sorts every row of the threads.)
    """
    if not threads or limit <= 0:
        return []
    order = "DESC" if descending else "ASC"
    branch = shape.branch_before if descending else shape.branch_after
    sql = (
        f"SELECT {shape.outer} FROM ({' UNION ALL '.join([branch] * len(threads))}) u"
        f" ORDER BY u.txid {order}, u.id {order} LIMIT %s"
    )
    params: list[object] = []
    for thread in threads:
        params += [thread, str(start.txid), start.id, str(xmin), limit]
    return conn.execute(sql, [*params, limit]).fetchall()


def _rows(
    conn: psycopg.Connection[tuple[Any, ...]], shape: _Shape, threads: Sequence[str], start: Cursor, xmin: int, limit: int,
    *, descending: bool, one_query: bool,
) -> list[_Raw]:
    """The first ``limit`` rows of ``threads`` beyond ``start`` below ``xmin``, in merge order: with one query
    (``one_query``) or with the k-way merge (the same rows either way)."""
    if one_query:
        return _one_query(conn, shape, threads, start, xmin, limit, descending=descending)
    merge = KWayMerge(threads, start, shape.position, descending=descending, page=_first_page(threads, limit), max_page=limit)
    return merged(conn, merge, shape, xmin, limit)


def merged(
    conn: psycopg.Connection[tuple[Any, ...]], merge: KWayMerge[_Raw], shape: _Shape, xmin: int, limit: int
) -> list[_Raw]:
    """Up to ``limit`` rows of ``merge``, reading its threads as it asks."""
    out: list[_Raw] = []
    while len(out) < limit and not merge.done:
        _fill(conn, merge, shape, xmin)
        out.extend(merge.take(limit - len(out)))
    return out


def _first_page(threads: Sequence[str], limit: int) -> int:
    """Rows to ask each thread for first: twice its share of the page, so that one round usually does."""
    return max(MIN_PAGE, min(limit, 2 * limit // max(1, len(threads)) + MIN_PAGE))


def selection_history(
    store: LogStore,
    selection: Selection,
    *,
    limit: int = 1000,
    before: Cursor | None = None,
    after: Cursor | None = None,
    max_matches: int = 1000,
    one_query_scans: int = ONE_QUERY_SCANS,
) -> SelectionPage:
    """The latest ``limit`` stable rows across the selection (or those before/after a cursor), oldest first.

    The same page shape as :meth:`LogStore.history`: ``resume`` is the horizon (or, after a
    cursor, the last row of a full page), and ``before`` the cursor to page back from.
    ``one_query_scans``: a selection whose threads times partitions is at most this is read with
    one query, a larger one with the k-way merge (see :data:`ONE_QUERY_SCANS`; the page is the same).
    """
    got = _read_selection(store, selection, _RECORDS, limit=limit, before=before, after=after, max_matches=max_matches,
                          one_query_scans=one_query_scans)
    records = tuple(_record(row) for row in got.rows)
    resume, older = got.cursors(limit, after)
    return SelectionPage(HistoryPage(records, resume, older), got.threads, Cursor.horizon(got.xmin))


def selection_history_json(
    store: LogStore,
    selection: Selection,
    *,
    limit: int = 1000,
    before: Cursor | None = None,
    after: Cursor | None = None,
    max_matches: int = 1000,
    one_query_scans: int = ONE_QUERY_SCANS,
) -> EncodedSelectionPage:
    """:func:`selection_history`, its records encoded as JSON by PostgreSQL (``RECORD_JSON``) and joined, not parsed."""
    got = _read_selection(store, selection, _ENCODED, limit=limit, before=before, after=after, max_matches=max_matches,
                          one_query_scans=one_query_scans)
    resume, older = got.cursors(limit, after)
    logs = "[" + ",".join([row[3] for row in got.rows]) + "]"
    return EncodedSelectionPage(EncodedHistoryPage(logs, len(got.rows), resume, older), got.threads, Cursor.horizon(got.xmin))


@dataclasses.dataclass(frozen=True, slots=True)
class _Read:
    """A page's rows as read (oldest first), the rows read (before a cursor, ``limit + 1`` at most), the horizon, the threads."""

    rows: list[_Raw]
    read: int
    xmin: int
    threads: tuple[str, ...]
    shape: _Shape

    def cursors(self, limit: int, after: Cursor | None) -> tuple[Cursor, Cursor | None]:
        """The page's ``resume`` and ``before`` (:func:`~logctl.core.protocol.history.page_cursors`)."""
        ends = [Cursor(*self.shape.position(row)) for row in self.rows[:1] + self.rows[-1:]]
        return page_cursors(
            self.xmin, limit=limit, after=after, read=self.read,
            oldest=ends[0] if ends else None, newest=ends[-1] if ends else None,
        )


def _read_selection(
    store: LogStore, selection: Selection, shape: _Shape, *, limit: int, before: Cursor | None, after: Cursor | None,
    max_matches: int, one_query_scans: int,
) -> _Read:
    with translating(store.dsn), store.pool.connection() as conn:
        if selection.match is not None:
            _compact(conn)
        with conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            row = conn.execute(_HORIZON_AND_PARTITIONS).fetchone()
            assert row is not None
            xmin, partitions = int(row[0]), int(row[1])
            threads = matching_threads(conn, selection, max_matches)
            one_query = len(threads) * max(1, partitions) <= one_query_scans
            if after is not None:
                rows = _rows(conn, shape, threads, after, xmin, limit, descending=False, one_query=one_query)
                return _Read(rows, len(rows), xmin, threads, shape)
            horizon = Cursor.horizon(xmin)
            start = before if before is not None and before < horizon else horizon
            latest = _rows(conn, shape, threads, start, xmin, limit + 1, descending=True, one_query=one_query)
    page = latest[:limit]
    page.reverse()
    return _Read(page, len(latest), xmin, threads, shape)


def selection_threads(store: LogStore, selection: Selection, *, max_matches: int) -> tuple[tuple[str, ...], int]:
    """The selection's threads, and a horizon below which each matching thread's rows are among them.

    The horizon is read first: the threads, read after it, include every thread with a row
    below it. Raises :class:`TooManyMatches`.
    """
    with translating(store.dsn), store.pool.connection() as conn:
        xmin = _xmin(conn)
        if selection.match is not None:
            _compact(conn)
        return matching_threads(conn, selection, max_matches), xmin


def discover_threads(store: LogStore, globs: Sequence[str]) -> list[str]:
    """Every thread matching one of ``globs`` that holds a row now.

    Called after a feed read, it finds at least every such thread with a row below that
    read's horizon (those rows committed before the horizon was read).
    """
    likes = [glob_to_like(g) for g in globs]
    with translating(store.dsn), store.pool.connection() as conn:
        _compact(conn)
        return [str(r[0]) for r in conn.execute(_DISCOVER, (likes, likes)).fetchall()]
