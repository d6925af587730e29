"""``LogStore``: batched writes, history order and paging, idempotent resends, literal text."""

from __future__ import annotations

import datetime as dt

import pytest

from helpers import HOSTILE_THREAD_ID, query, records, wait_for_horizon

from logctl.core.cursor import ORIGIN
from logctl.core.records import LogRecord, record_from_wire
from logctl.store import LogStore

pytestmark = pytest.mark.both_layouts  # each test runs on the plain and the partitioned thread_logs


def _messages(page_records: tuple[LogRecord, ...]) -> list[str]:
    return [r.message for r in page_records]


def _insert_one_by_one(store: LogStore, thread_id: str, n: int) -> None:
    """``n`` records in ``n`` transactions, so that they differ in txid as well as id."""
    for record in records(thread_id, n):
        assert store.insert([record]) == 1
    wait_for_horizon(store.dsn)


def test_insert_writes_a_batch_in_one_transaction(store: LogStore, dsn: str) -> None:
    """A batch of 500 records over three threads is written by one insert, in one transaction."""
    batch = records("a", 200) + records("b", 150) + records("c", 150)
    assert store.insert(batch) == 500
    assert store.count() == 500
    assert store.count("b") == 150
    assert query(dsn, "SELECT count(DISTINCT txid) FROM thread_logs") == [(1,)]


def test_insert_stamps_missing_created_at_and_keeps_given_ones(store: LogStore) -> None:
    """Records without created_at get the insert time; given timestamps and levels are kept."""
    given = dt.datetime(2025, 1, 8, 10, 30, tzinfo=dt.timezone.utc)
    store.insert([LogRecord("t", "old", level="WARN", created_at=given), LogRecord("t", "new")])
    wait_for_horizon(store.dsn)
    old, new = store.history("t").records
    assert (old.message, old.level, old.created_at) == ("old", "WARN", given)
    assert new.created_at is not None and new.created_at > given and new.level == "INFO"


def test_insert_takes_a_naive_created_at_as_utc_and_keeps_the_instant_of_an_aware_one(store: LogStore) -> None:
    """A naive created_at is stored as UTC (as logctl renders it); one with an offset keeps its instant."""
    naive = dt.datetime(2025, 1, 8, 10, 30)
    plus_two = dt.datetime(2025, 1, 8, 12, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    store.insert([LogRecord("t", "naive", created_at=naive), LogRecord("t", "offset", created_at=plus_two)])
    wait_for_horizon(store.dsn)
    stored = [r.created_at for r in store.history("t").records]
    assert stored == [naive.replace(tzinfo=dt.timezone.utc)] * 2


def test_history_returns_the_latest_rows_oldest_first(store: LogStore) -> None:
    """history(limit=N) is the newest N rows of that thread only, in stream order, oldest first."""
    _insert_one_by_one(store, "t1", 10)
    store.insert(records("other", 5))
    wait_for_horizon(store.dsn)
    page = store.history("t1", limit=3)
    assert _messages(page.records) == ["m7", "m8", "m9"]
    assert [r.cursor for r in page.records] == sorted(r.cursor for r in page.records if r.cursor)
    assert page.before == page.records[0].cursor
    assert _messages(store.history("t1").records) == [f"m{i}" for i in range(10)]
    assert store.history("t1").before is None


def test_history_pages_backwards_with_before(store: LogStore) -> None:
    """Following ``before`` cursors walks the whole thread backwards with no gap or repeat."""
    _insert_one_by_one(store, "t1", 10)
    seen: list[str] = []
    page = store.history("t1", limit=4)
    while True:
        seen = _messages(page.records) + seen
        if page.before is None:
            break
        page = store.history("t1", limit=4, before=page.before)
    assert seen == [f"m{i}" for i in range(10)]


def test_history_pages_forwards_with_after(store: LogStore) -> None:
    """Pages after a cursor continue exactly after it; the last page's resume cursor is the horizon."""
    _insert_one_by_one(store, "t1", 7)
    first = store.history("t1", limit=3, after=ORIGIN)
    assert _messages(first.records) == ["m0", "m1", "m2"]
    second = store.history("t1", limit=3, after=first.resume)
    assert _messages(second.records) == ["m3", "m4", "m5"]
    third = store.history("t1", limit=3, after=second.resume)
    assert _messages(third.records) == ["m6"]
    assert third.records[0].cursor is not None and third.resume is not None and third.resume > third.records[0].cursor
    store.insert(records("t1", 1, start=7))
    wait_for_horizon(store.dsn)
    assert _messages(store.history("t1", limit=3, after=third.resume).records) == ["m7"]


def test_resend_of_the_same_producer_seq_makes_no_duplicate(store: LogStore) -> None:
    """Resending (producer_id, seq) pairs inserts only the new ones; plain records never collide."""
    assert store.insert(records("t", 5, producer="p1")) == 5
    assert store.insert(records("t", 7, producer="p1")) == 2
    assert store.insert(records("t", 3, producer="p2")) == 3
    assert store.insert(records("t", 2) + records("t", 2)) == 4
    assert store.count("t") == 7 + 3 + 4


def test_hostile_thread_id_is_stored_and_read_back_literally(store: LogStore, dsn: str) -> None:
    """A thread id that looks like SQL injection is just text: stored, found and returned as is."""
    store.insert([LogRecord(HOSTILE_THREAD_ID, "hello"), LogRecord("Robert'); --", "bobby")])
    wait_for_horizon(store.dsn)
    (record,) = store.history(HOSTILE_THREAD_ID).records
    assert (record.thread_id, record.message) == (HOSTILE_THREAD_ID, "hello")
    assert store.count() == 2
    assert query(dsn, "SELECT thread_id FROM thread_logs WHERE message = 'hello'") == [(HOSTILE_THREAD_ID,)]


def test_nul_in_a_message_round_trips_as_escaped_text(store: LogStore) -> None:
    r"""A NUL in a message, which TEXT cannot hold, is stored and read back as the four characters \x00."""
    wire = record_from_wire(
        {"thread_id": "t", "message": "before\x00after"}, producer_id=None, now=dt.datetime.now(dt.timezone.utc)
    )
    store.insert([wire, LogRecord("t", "raw\x00nul")])
    wait_for_horizon(store.dsn)
    assert _messages(store.history("t").records) == ["before\\x00after", "raw\\x00nul"]


def test_unicode_and_long_messages_round_trip(store: LogStore) -> None:
    """Multi-line, non-ASCII and 1 MiB messages come back byte for byte."""
    texts = ["línea 1\nline 2\ttab", "emoji 🚀 and 中文", "x" * (1024 * 1024)]
    store.insert([LogRecord("u", t) for t in texts])
    wait_for_horizon(store.dsn)
    assert _messages(store.history("u").records) == texts


def test_count_names_every_thread_and_the_null_thread_apart(store: LogStore) -> None:
    """count() / count(ALL_THREADS) is every row; count(None) is only the rows with a NULL thread_id."""
    from logctl.store.scope import ALL_THREADS

    store.insert(records("a", 3) + records(None, 2))  # type: ignore[arg-type]  # plain-SQL rows have no thread
    assert store.count() == store.count(ALL_THREADS) == 5
    assert store.count(None) == 2
    assert store.count("a") == 3


def test_prune_helpers_take_none_as_the_null_thread_and_all_threads_by_name(store: LogStore) -> None:
    """The retention SQL selects the NULL thread for None and every thread only for ALL_THREADS."""
    from logctl.store.prune import count_older_than, threads_over
    from logctl.store.scope import ALL_THREADS

    old = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
    cutoff = dt.datetime(2001, 1, 1, tzinfo=dt.timezone.utc)
    store.insert(records("a", 3, created_at=old) + records(None, 2, created_at=old))  # type: ignore[arg-type]
    assert count_older_than(store, cutoff, ALL_THREADS) == 5
    assert count_older_than(store, cutoff, None) == 2
    assert threads_over(store, 1, ALL_THREADS) == [("a", 2), (None, 1)]
    assert threads_over(store, 1, None) == [(None, 1)]
