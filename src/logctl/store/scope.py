"""Which rows of ``thread_logs`` a query covers: one thread, the NULL thread, or every thread.

A ``thread_id`` of None names the rows that plain SQL wrote without a thread, never "all
threads": that meaning has its own name, :data:`ALL_THREADS`.
"""

from __future__ import annotations

import enum
from typing import Final, Union

__all__ = ["ALL_THREADS", "AllThreads", "ThreadSelector", "thread_filter"]


class AllThreads(enum.Enum):
    """The type of :data:`ALL_THREADS` (an enum, so that mypy can narrow on it)."""

    ALL_THREADS = "all threads"


#: Every thread, including the rows with a NULL thread_id.
ALL_THREADS: Final = AllThreads.ALL_THREADS

#: A thread id, None for the rows with a NULL thread_id, or :data:`ALL_THREADS`.
ThreadSelector = Union[str, None, AllThreads]


def thread_filter(thread: ThreadSelector) -> tuple[str, tuple[str, ...]]:
    """A WHERE fragment and its arguments selecting ``thread``, written so that the planner uses the index."""
    if thread is ALL_THREADS:
        return "TRUE", ()
    if thread is None:
        return "thread_id IS NULL", ()
    return "thread_id = %s", (thread,)
