"""Writing a batch to the partitioned layout, exactly once per ``(producer_id, seq)``.

On a partitioned table every unique key must include the partition key, so the unique index
is ``(producer_id, seq, created_at)``: it stops a resend that carries the same ``created_at``
(logctl's producers stamp every record when it is logged, so theirs do), but not one whose
time the hub stamped on arrival (a wire record without ``created_at``), nor a reused producer
id. So the writer checks, against a small non-partitioned ledger, ``thread_log_producers``: one
row per producer with the highest ``seq`` written and the range of ``created_at`` it wrote.

In the batch's transaction the writer first locks the ledger rows of the batch's producers
(in ``producer_id`` order, creating missing ones), which serialises writers of one producer
(two hubs receiving its resends) without touching any other; rows whose ``seq`` is above the
ledger's are new; the others are looked up by ``(producer_id, seq)`` within the ledger's time
range (so only the partitions of that range are searched): a stored one with the same thread,
message and level is a resend (skipped), one with other content a conflict (refused). The new
rows go in with one COPY, and the ledger rows are moved forward. The cost on the fast path is
two statements on one row per producer per batch.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Final

import psycopg

from logctl.core.records import Row
from logctl.store.writer_sums import declare_sums

__all__ = ["write_partitioned"]

_LOCK_LEDGER: Final = (
    "INSERT INTO thread_log_producers AS l (producer_id) SELECT unnest(%s::text[]) ORDER BY 1"
    " ON CONFLICT (producer_id) DO UPDATE SET producer_id = l.producer_id"
    " RETURNING producer_id, max_seq, first_at, last_at"
)
_SAVE_LEDGER: Final = (
    "UPDATE thread_log_producers l SET max_seq = greatest(l.max_seq, b.max_seq),"
    " first_at = least(l.first_at, b.first_at), last_at = greatest(l.last_at, b.last_at)"
    " FROM unnest(%s::text[], %s::int8[], %s::timestamptz[], %s::timestamptz[]) AS b(producer_id, max_seq, first_at, last_at)"
    " WHERE l.producer_id = b.producer_id"
)
_STORED: Final = (
    "SELECT producer_id, seq, thread_id, message, level FROM thread_logs"
    " WHERE created_at >= %s AND created_at <= %s"
    " AND (producer_id, seq) IN (SELECT * FROM unnest(%s::text[], %s::int8[]))"
)
_INSERT: Final = (
    "INSERT INTO thread_logs (thread_id, message, level, created_at, producer_id, seq)"
    " SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::timestamptz[], %s::text[], %s::int8[])"
    " ON CONFLICT DO NOTHING"
)

Key = tuple[str, int]
Content = tuple[str | None, str, str | None]
Ledger = dict[str, tuple[int | None, dt.datetime | None, dt.datetime | None]]


def _stored(conn: psycopg.Connection[Any], rows: Sequence[Row], ledger: Ledger) -> dict[Key, Content]:
    """The stored content of the batch's keys that the ledger says may be stored already."""
    keys: list[Key] = []
    lo: dt.datetime | None = None
    hi: dt.datetime | None = None
    for row in rows:
        producer_id, seq = row[4], row[5]
        if producer_id is None or seq is None:
            continue
        top, first, last = ledger[producer_id]
        if top is not None and seq <= top and first is not None and last is not None:
            keys.append((producer_id, seq))
            lo = first if lo is None else min(lo, first)
            hi = last if hi is None else max(hi, last)
    if not keys:
        return {}
    found = conn.execute(_STORED, (lo, hi, [k[0] for k in keys], [k[1] for k in keys])).fetchall()
    return {(str(p), int(q)): (t, str(m), lv) for p, q, t, m, lv in found}


def _ledger_moves(rows: Sequence[Row]) -> tuple[list[str], list[int], list[dt.datetime], list[dt.datetime]]:
    """Per producer of the written rows: its highest seq and the range of created_at written."""
    moves: dict[str, tuple[int, dt.datetime, dt.datetime]] = {}
    for row in rows:
        producer_id, seq, at = row[4], row[5], row[3]
        if producer_id is None or seq is None:
            continue
        old = moves.get(producer_id)
        moves[producer_id] = (seq, at, at) if old is None else (max(old[0], seq), min(old[1], at), max(old[2], at))
    names = sorted(moves)
    return names, [moves[p][0] for p in names], [moves[p][1] for p in names], [moves[p][2] for p in names]


def write_partitioned(
    conn: psycopg.Connection[Any], rows: Sequence[Row], copy_sql: str, copy_types: Sequence[str], *, sums: bool = False
) -> tuple[int, tuple[int, ...]]:
    """Write ``rows`` in one transaction; return (rows inserted, positions of conflicting rows).

    A row whose ``(producer_id, seq)`` is stored (or earlier in the batch) with the same thread,
    message and level is a resend and is skipped; with other content, a conflict. Rows without
    a key are always written. With ``sums``, the COPY appends its own summary deltas
    (:mod:`logctl.store.writer_sums`). Raises psycopg's errors (the caller creates missing partitions).
    """
    producers = sorted({row[4] for row in rows if row[4] is not None and row[5] is not None})
    with conn.transaction():
        ledger: Ledger = {}
        if producers:
            for producer_id, top, first, last in conn.execute(_LOCK_LEDGER, (producers,)).fetchall():
                ledger[str(producer_id)] = (None if top is None else int(top), first, last)
        stored = _stored(conn, rows, ledger) if ledger else {}
        write: list[Row] = []
        conflicts: list[int] = []
        claimed: dict[Key, Content] = {}
        for position, row in enumerate(rows):
            producer_id, seq = row[4], row[5]
            if producer_id is None or seq is None:
                write.append(row)
                continue
            key, content = (producer_id, seq), (row[0], row[1], row[2])
            seen = stored.get(key) or claimed.get(key)
            if seen is None:
                claimed[key] = content
                write.append(row)
            elif seen != content:
                conflicts.append(position)
        inserted = len(write)
        if write:
            try:
                with conn.transaction():
                    if sums:
                        declare_sums(conn, write)  # rolled back with the savepoint if the COPY fails
                    with conn.cursor().copy(copy_sql) as copy:
                        copy.set_types(list(copy_types))
                        for row in write:
                            copy.write_row(row)
            except psycopg.errors.UniqueViolation:
                # The same (producer_id, seq, created_at) written by a writer outside the ledger
                # (plain SQL): a resend, skipped.
                cur = conn.execute(_INSERT, [list(column) for column in zip(*write)])
                inserted = max(cur.rowcount, 0)
        if producers and write:
            conn.execute(_SAVE_LEDGER, _ledger_moves(write))
    return inserted, tuple(conflicts)
