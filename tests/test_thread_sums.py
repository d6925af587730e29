"""Counts of dropped rows per thread and level, summed over partitions (core/thread_sums.py)."""

from __future__ import annotations

from logctl.core.thread_sums import DroppedSums, count_statements


def test_counts_add_up_per_thread_over_partitions_and_rows_without_a_thread_count_only_in_rows() -> None:
    """Two partitions' counts become one row per thread, in thread_id order; the NULL thread adds to rows only."""
    sums = DroppedSums()
    assert sums.add([("b", 3, 1, 1, 1, 0), ("a", 2, 0, 2, 0, 0), (None, 4, 0, 4, 0, 0)]) == 9
    assert sums.add([("b", 1, 0, 0, 0, 1)]) == 1
    assert (sums.rows, len(sums)) == (10, 2)
    assert sums.columns() == (["a", "b"], [2, 4], [0, 1], [2, 1], [0, 1], [0, 1])
    assert sums.json() == '[["a",2,0,2,0,0],["b",4,1,1,1,1]]'


def test_no_partition_counted_gives_empty_columns() -> None:
    """Nothing counted: no thread, no row."""
    sums = DroppedSums()
    assert (sums.rows, len(sums), sums.columns()) == (0, 0, ([], [], [], [], [], []))


def test_counting_statements_split_big_partitions_and_pack_small_ones() -> None:
    """Statements of about 1,000 pages: a 2,500-page partition over three, the small and empty ones with its
    last range; three of 300 pages in one; every table read once over its whole size."""
    assert count_statements([("a", 2500), ("b", 0), ("c", 10)], 1000) == [
        [("a", 0, 1000)], [("a", 1000, 2000)], [("a", 2000, 3000), ("b", 0, 1000), ("c", 0, 1000)]]
    assert count_statements([("p1", 300), ("p2", 300), ("p3", 300), ("p4", 300)], 1000) == [
        [("p1", 0, 1000), ("p2", 0, 1000), ("p3", 0, 1000)], [("p4", 0, 1000)]]
    assert count_statements([], 1000) == []
