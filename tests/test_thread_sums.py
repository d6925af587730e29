"""Counts of dropped rows per thread and level, summed over partitions (core/thread_sums.py)."""

from __future__ import annotations

from logctl.core.thread_sums import DroppedSums


def test_counts_add_up_per_thread_over_partitions_and_rows_without_a_thread_count_only_in_rows() -> None:
    """Two partitions' counts become one row per thread, in thread_id order; the NULL thread adds to rows only."""
    sums = DroppedSums()
    assert sums.add([("b", 3, 1, 1, 1, 0), ("a", 2, 0, 2, 0, 0), (None, 4, 0, 4, 0, 0)]) == 9
    assert sums.add([("b", 1, 0, 0, 0, 1)]) == 1
    assert (sums.rows, len(sums)) == (10, 2)
    assert sums.columns() == (["a", "b"], [2, 4], [0, 1], [2, 1], [0, 1], [0, 1])


def test_no_partition_counted_gives_empty_columns() -> None:
    """Nothing counted: no thread, no row."""
    sums = DroppedSums()
    assert (sums.rows, len(sums), sums.columns()) == (0, 0, ([], [], [], [], [], []))
