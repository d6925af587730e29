"""The writer's own summary deltas (migration 007): appended in the batch's transaction, trigger skipped.

:func:`declare_sums` runs right before the batch's COPY, in its transaction (or savepoint): it
sets ``logctl.summary_by_writer`` for that transaction only, so that the insert trigger of
``thread_logs`` skips the COPY, and appends the batch's per-thread sums
(:func:`logctl.core.batch_sums.thread_sums`) to ``thread_log_summary_delta``. If the COPY
fails, the rollback takes back both the setting and the deltas, and the fallback insert that
follows is summed by the trigger. See docs/architecture.md, "The list of threads".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import psycopg

from logctl.core.records import Row
from logctl.core.batch_sums import thread_sums

__all__ = ["declare_sums", "writer_sums_enabled"]

# The setting is made in a materialised CTE that the insert reads once: one statement, one round
# trip. The arrays go in binary (%b), as the COPY's rows do: with 100 threads a batch, text
# arrays cost 3.8 ms of wall time and 0.9 ms of server CPU a statement, binary ones 1.3 and 0.5. With no thread to sum (every row's thread_id NULL) it may stay unset; the trigger then
# sums nothing, which is also exact.
_DECLARE: Final = (
    "WITH declared AS MATERIALIZED (SELECT set_config('logctl.summary_by_writer', 'on', true) AS on_)"
    " INSERT INTO thread_log_summary_delta (thread_id, first_at, last_at, count, debug, info, warn, error, recheck)"
    " SELECT u.*, false FROM declared, unnest(%b::text[], %b::timestamptz[], %b::timestamptz[],"
    " %b::int8[], %b::int8[], %b::int8[], %b::int8[], %b::int8[]) AS u"
)

# Whether thread_logs' insert trigger is 007's, which skips a writer that sums its batch itself.
# A schema still at 006 sums everything in the trigger: a writer must not add its own then. And
# whether this role may insert into both tables: if not, the COPY goes first and fails with the
# error a user expects ("permission denied for table thread_logs"), not one about the delta table.
_ENABLED: Final = (
    "SELECT EXISTS (SELECT FROM pg_trigger WHERE tgrelid = to_regclass('thread_logs')"
    " AND tgname = 'thread_logs_summary_insert'"
    " AND pg_get_triggerdef(oid) LIKE '%logctl.summary_by_writer%')"
    " AND has_table_privilege(to_regclass('thread_logs'), 'INSERT')"
    " AND has_table_privilege(to_regclass('thread_log_summary_delta'), 'INSERT')"
)


def writer_sums_enabled(conn: psycopg.Connection[Any]) -> bool:
    """True when thread_logs' insert trigger lets a writer sum its own batches (migration 007) and this role may."""
    row = conn.execute(_ENABLED).fetchone()
    return bool(row and row[0])


def declare_sums(conn: psycopg.Connection[Any], rows: Sequence[Row]) -> bool:
    """Append ``rows``' sums and skip the trigger for this transaction; False if the trigger must sum them.

    Call it inside the transaction (or savepoint) of the COPY that writes exactly ``rows``, right
    before it.
    """
    sums = thread_sums(rows)
    if sums is None:
        return False
    conn.execute(_DECLARE, sums.columns())
    return True
