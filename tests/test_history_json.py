"""The history page PostgreSQL encodes (``LogStore.history_json``) against the one Python encodes (``history_body``)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from helpers import HubProcess, ensure_partitions, examples, get_json, wait_for_horizon
from logctl.core.cursor import ORIGIN, Cursor
from logctl.core.protocol.history import encoded_history_body, history_body
from logctl.core.records import CREATED_AT_RANGE, LEVELS, Row, escape_nul
from logctl.core.selection import Selection
from logctl.store import LogStore
from logctl.store.selection import ONE_QUERY_SCANS, selection_history, selection_history_json

pytestmark = pytest.mark.both_layouts  # each test runs on the plain and the partitioned thread_logs

UTC = dt.timezone.utc
#: Seconds to wait for the cluster's xmin horizon: other sessions' bulk loads on a shared server hold it for a while.
HORIZON_WAIT = 60.0

#: Records whose encoding has an edge: (message, level, created_at, producer_id, seq).
TRICKY: list[tuple[str, str | None, dt.datetime, str | None, int | None]] = [
    ("plain", "INFO", dt.datetime(2026, 12, 2, 1, 2, 3, tzinfo=UTC), None, None),
    ("micro", "WARN", dt.datetime(2026, 12, 2, 1, 2, 3, 1, tzinfo=UTC), "p", 0),
    ("micro max", "ERROR", dt.datetime(2026, 12, 2, 1, 2, 3, 999_999, tzinfo=UTC), "p", 2**63 - 1),
    ("whole ms", "DEBUG", dt.datetime(2026, 12, 2, 1, 2, 3, 500_000, tzinfo=UTC), None, None),
    ("null level", None, dt.datetime(2026, 1, 1, tzinfo=UTC), None, None),
    ("empty level", "", dt.datetime(2026, 1, 1, tzinfo=UTC), None, None),
    ("odd level", "  weird ", dt.datetime(2026, 1, 1, tzinfo=UTC), None, None),
    ("year 1", "INFO", CREATED_AT_RANGE[0], None, None),
    ("year 999", "INFO", dt.datetime(999, 3, 4, 5, 6, 7, 8, tzinfo=UTC), None, None),
    ("year 9999", "INFO", CREATED_AT_RANGE[1] - dt.timedelta(microseconds=1), None, None),
    ("offset", "INFO", dt.datetime(2026, 3, 29, 2, 30, tzinfo=dt.timezone(dt.timedelta(hours=-9, minutes=-30))), None, None),
    (escape_nul("nul\x00here"), "INFO", dt.datetime(2026, 1, 1, tzinfo=UTC), None, None),
    ("controls \x01\x07\x08\t\n\r\x0b\x0c\x1b[31m\x1f \x7f \x85 \x9b", "INFO", dt.datetime(2026, 1, 1, tzinfo=UTC), None, None),
    ('quotes " \\ \\" / \\u0041 </script>', "INFO", dt.datetime(2026, 1, 1, tzinfo=UTC), None, None),
    ("non-ASCII é 中文 🚀 \u2028\u2029 \ufeff", "INFO", dt.datetime(2026, 1, 1, tzinfo=UTC), "producer é\n\"x\"", 7),
    ("", "INFO", dt.datetime(2026, 1, 1, tzinfo=UTC), None, None),
    ("x" * 100_000, "INFO", dt.datetime(2026, 1, 1, tzinfo=UTC), None, None),
]


def _write(store: LogStore, thread_id: str, records: Sequence[tuple[str, str | None, dt.datetime, str | None, int | None]]) -> None:
    rows: list[Row] = [(thread_id, m, lv, at, p, s) for m, lv, at, p, s in records]  # type: ignore[misc]
    for row in rows:  # one transaction each: distinct txids, as a real stream has
        store.insert_rows([row])


def _sql(dsn: str, statement: str, rows: Sequence[tuple[object, ...]], times: Sequence[dt.datetime] = ()) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        ensure_partitions(conn, list(times))
        with conn.cursor() as cur:
            cur.executemany(statement, rows)


def _same_page(old: Callable[[], dict[str, Any]], new: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Assert that both bodies are equal once decoded; return it. Read again if the horizon moved meanwhile."""
    for _ in range(10):
        before, got, after = old(), new(), old()
        if before == after:  # the horizon (the resume cursor) did not move between the three reads
            expected = json.loads(json.dumps(before))
            assert got == expected
            return got
    raise AssertionError("the xmin horizon kept moving")


def _pages(store: LogStore, thread_id: str, **kwargs: Any) -> dict[str, Any]:
    return _same_page(
        lambda: history_body(store.history(thread_id, **kwargs)),
        lambda: json.loads(encoded_history_body(store.history_json(thread_id, **kwargs))),
    )


def _selection_pages(store: LogStore, selection: Selection, **kwargs: Any) -> dict[str, Any]:
    return _same_page(
        lambda: history_body((got := selection_history(store, selection, **kwargs)).page, threads=got.threads),
        lambda: json.loads(encoded_history_body((got := selection_history_json(store, selection, **kwargs)).page,
                                                threads=got.threads)),
    )


def _cursor(text: str | None) -> Cursor | None:
    return None if text is None else Cursor.parse(text)


@pytest.mark.timeout(300)
def test_tricky_records_encode_the_same(store: LogStore, dsn: str, layout: str) -> None:
    """Every edge of a record (NULL or empty level, years 1 to 9999, microseconds, controls, NUL, non-ASCII) decodes the same."""
    _write(store, "tricky", TRICKY)
    times = [dt.datetime(2026, 1, 1, tzinfo=UTC)]
    # What plain SQL can write and logctl never does: a producer without a seq, a NULL thread.
    _sql(dsn, "INSERT INTO thread_logs (thread_id, message, created_at, level, producer_id, seq) VALUES (%s, %s, %s, %s, %s, %s)",
         [("tricky", "producer, no seq", times[0], None, "q", None)], times)
    if layout == "plain":  # no partition holds a NULL created_at
        _sql(dsn, "INSERT INTO thread_logs (thread_id, message, created_at) VALUES (%s, %s, NULL)", [("tricky", "no time")])
    wait_for_horizon(store.dsn, timeout=HORIZON_WAIT)
    body = _pages(store, "tricky")
    assert body["count"] == len(TRICKY) + 1 + (layout == "plain") and body["before"] is None
    by_message = {r["message"]: r for r in body["logs"]}
    assert by_message["year 1"]["created_at"] == "0001-01-02T00:00:00Z"
    assert by_message["year 999"]["created_at"] == "0999-03-04T05:06:07.000008Z"
    assert by_message["year 9999"]["created_at"] == "9999-12-30T23:59:59.999999Z"
    assert by_message["null level"]["level"] == by_message["empty level"]["level"] == "INFO"
    assert by_message["producer, no seq"]["seq"] is None and "seq" not in by_message["plain"]
    if layout == "plain":
        assert by_message["no time"]["created_at"] is None
    for limit in (0, 1, 2, 5, 1000):
        _pages(store, "tricky", limit=limit)
        _pages(store, "tricky", limit=limit, after=ORIGIN)
    assert _pages(store, "nothing here")["logs"] == []
    assert _pages(store, "nothing here", after=ORIGIN)["logs"] == []


@pytest.mark.timeout(300)
@pytest.mark.parametrize("limit", [1, 3, 7])
def test_paging_back_and_forth_gives_the_same_pages(store: LogStore, limit: int) -> None:
    """Walking a thread back with ``before`` and forward with ``after`` yields the same page at every step."""
    _write(store, "walk", [(f"m{i}", LEVELS[i % 4], dt.datetime(2026, 12, 1, tzinfo=UTC) + dt.timedelta(seconds=i), None, None)
                           for i in range(10)])
    store.insert_rows([("walk", f"batch{i}", "INFO", dt.datetime(2026, 12, 1, tzinfo=UTC), "p", i) for i in range(4)])
    wait_for_horizon(store.dsn, timeout=HORIZON_WAIT)
    seen: list[str] = []
    page = _pages(store, "walk", limit=limit)
    while page["before"] is not None:
        seen = [r["message"] for r in page["logs"]] + seen
        page = _pages(store, "walk", limit=limit, before=_cursor(page["before"]))
    seen = [r["message"] for r in page["logs"]] + seen
    assert len(seen) == 14
    forward: list[str] = []
    after: Cursor | None = ORIGIN
    while True:
        page = _pages(store, "walk", limit=limit, after=after)
        forward += [r["message"] for r in page["logs"]]
        if len(page["logs"]) < limit:
            break
        after = _cursor(page["cursor"])
    assert forward == seen
    # a cursor ahead of the horizon stays where it is; one in the middle of a transaction too
    _pages(store, "walk", limit=limit, after=Cursor(2**62, 5))
    _pages(store, "walk", limit=limit, before=Cursor(2**62, 5))
    _pages(store, "walk", limit=limit, before=ORIGIN)


_TEXT = st.text(st.characters(blacklist_categories=["Cs"]), max_size=40)
_TIMES = st.datetimes(
    min_value=dt.datetime(1, 1, 3), max_value=dt.datetime(9999, 12, 29), timezones=st.just(UTC),
) | st.datetimes(min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2026, 1, 2), timezones=st.just(UTC)).map(
    lambda t: t.replace(microsecond=0))
_RECORD = st.tuples(
    _TEXT.map(escape_nul), st.sampled_from([None, "", "INFO", "WARN", "x\ny"]), _TIMES,
    st.none() | _TEXT.filter(lambda s: "\x00" not in s), st.none() | st.integers(0, 2**63 - 1),
)


@pytest.mark.timeout(900)
@settings(max_examples=examples(30), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=st.lists(_RECORD, min_size=0, max_size=8), limit=st.integers(0, 10), data=st.data())
def test_any_records_encode_the_same(store: LogStore, records: list[Any], limit: int, data: st.DataObject) -> None:
    """For any records, the page PostgreSQL encodes decodes to the page Python encodes, with any cursor."""
    thread = f"prop-{data.draw(st.uuids())}"
    # a producer id needs a seq unique to it (the key of resends): number them
    rows = [(m, lv, at, p, i if p is not None else None) for i, (m, lv, at, p, _) in enumerate(records)]
    _write(store, thread, rows)
    wait_for_horizon(store.dsn, timeout=HORIZON_WAIT)
    full = _pages(store, thread)
    cursors = [ORIGIN, *(Cursor.parse(r["cursor"]) for r in full["logs"])]
    pick = data.draw(st.sampled_from(cursors))
    _pages(store, thread, limit=limit, after=pick)
    _pages(store, thread, limit=limit, before=pick)
    _pages(store, thread, limit=limit)


@pytest.mark.timeout(300)
def test_the_hub_serves_the_encoded_page(hub: HubProcess, store: LogStore) -> None:
    """GET /admin/runs/{thread}/logs answers the body history_body would, for every paging parameter."""
    _write(store, "served", TRICKY)
    wait_for_horizon(store.dsn, timeout=HORIZON_WAIT)

    def served(query: str) -> dict[str, Any]:
        status, body = get_json(f"{hub.http}/admin/runs/served/logs?{query}")
        assert status == 200 and isinstance(body, dict)
        return body

    first = _same_page(lambda: history_body(store.history("served", limit=5)), lambda: served("limit=5"))
    _same_page(lambda: history_body(store.history("served", limit=5, before=_cursor(first["before"]))),
               lambda: served(f"limit=5&before={first['before']}"))
    _same_page(lambda: history_body(store.history("served", limit=4, after=ORIGIN)), lambda: served("limit=4&after=0-0"))
    _same_page(lambda: history_body(store.history("served")), lambda: served(""))


def _node_types(plan: dict[str, Any]) -> set[str]:
    return {plan["Node Type"]}.union(*(_node_types(p) for p in plan.get("Plans", [])))


def test_a_page_is_read_in_index_order_with_no_sort_of_the_thread(store: LogStore, dsn: str) -> None:
    """The page query can take its rows in (txid, id) order from the index: a page never sorts all of a thread's rows."""
    from logctl.store.logs import _COLUMNS, _page_rows  # the query itself: no public way to EXPLAIN it

    for columns in (_COLUMNS, "txid, id"):
        for before, after in ((None, None), (None, ORIGIN), (Cursor(2**62, 0), None)):
            query, args = _page_rows(columns, "%s::text::xid8", "t", limit=10, before=before, after=after)
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute("SET enable_sort = off")
                conn.execute("SET enable_incremental_sort = off")
                row = conn.execute(f"EXPLAIN (FORMAT JSON) {query}", ["1000", *args]).fetchone()
            assert row is not None
            nodes = _node_types(row[0][0]["Plan"])
            assert not nodes & {"Sort", "Incremental Sort"}, (columns, before, after, nodes)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("scans", [0, ONE_QUERY_SCANS], ids=["k-way merge", "one query"])
@pytest.mark.parametrize("limit", [1, 4, 1000])
def test_a_selections_pages_encode_the_same(store: LogStore, limit: int, scans: int) -> None:
    """A selection's page (named threads and a glob, merged) decodes the same both ways, by either plan, paging back and forth."""
    _write(store, "job-é", TRICKY[:9])
    _write(store, "job-2", TRICKY[9:])
    _write(store, "named \"x\"", TRICKY[3:6])
    _write(store, "other", TRICKY[:2])
    wait_for_horizon(store.dsn, timeout=HORIZON_WAIT)
    selection = Selection(('named "x"', "nobody"), "job-*")
    page = _selection_pages(store, selection, one_query_scans=scans, limit=limit)
    assert page["threads"] == ['named "x"', "nobody", "job-2", "job-é"]
    count = len(page["logs"])
    while page["before"] is not None:
        page = _selection_pages(store, selection, one_query_scans=scans, limit=limit, before=_cursor(page["before"]))
        count += len(page["logs"])
    assert count == len(TRICKY) + 3
    after: Cursor | None = ORIGIN
    while True:
        page = _selection_pages(store, selection, one_query_scans=scans, limit=limit, after=after)
        if len(page["logs"]) < limit:
            break
        after = _cursor(page["cursor"])
    assert _selection_pages(store, Selection((), "none-*"), one_query_scans=scans, limit=limit)["logs"] == []
