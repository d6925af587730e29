"""A ``thread_logs`` row as the history API's JSON record, built by PostgreSQL.

:data:`RECORD_JSON` is an SQL expression over a row's columns whose text decodes to exactly
what :meth:`~logctl.core.records.LogRecord.to_json` gives for the record
:meth:`~logctl.store.LogStore.history` reads from that row, keys in the same order:

- ``level`` is ``INFO`` when NULL or empty (``level or "INFO"``);
- ``created_at`` is :func:`~logctl.core.records.format_timestamp`'s ISO 8601 in UTC with ``Z``,
  with microseconds only when they are not zero (as ``datetime.isoformat``), the year on four
  digits (the stored range, migration 003, is years 1 to 9999); NULL stays ``null``;
- ``cursor`` is ``str(Cursor(txid, id))``;
- ``producer_id`` and ``seq`` only when ``producer_id`` is not NULL.

Strings are escaped by PostgreSQL's ``to_json``: the text may differ from what Python's
``json.dumps(..., ensure_ascii=False)`` writes, but it decodes to the same values (both escape
the C0 controls and leave non-ASCII, DEL and C1 as they are). ``tests/test_history_json.py``
holds the two encodings to each other.
"""

from __future__ import annotations

from typing import Final

__all__ = ["RECORD_JSON"]

# One to_char with the microseconds, then ".000000" dropped: it can only be the fraction (the
# rest has no "."); cheaper than choosing between two formats (0.3 and 1.4 ms of backend CPU a
# 1,000-row page less, in two runs at load 8).
_CREATED_AT: Final = (
    "coalesce('\"' || replace(to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), '.000000', '')"
    " || 'Z\"', 'null')"
)

#: The JSON text of the row's record (unqualified column names: select it from ``thread_logs``).
RECORD_JSON: Final = (
    "'{\"id\":' || id"
    " || ',\"thread_id\":' || coalesce(to_json(thread_id)::text, 'null')"
    " || ',\"message\":' || coalesce(to_json(message)::text, 'null')"
    f" || ',\"created_at\":' || {_CREATED_AT}"
    " || ',\"level\":' || to_json(coalesce(nullif(level, ''), 'INFO'))::text"
    " || ',\"cursor\":\"' || txid || '-' || id || '\"'"
    " || CASE WHEN producer_id IS NULL THEN '}'"
    " ELSE ',\"producer_id\":' || to_json(producer_id)::text || ',\"seq\":' || coalesce(seq::text, 'null') || '}' END"
)
