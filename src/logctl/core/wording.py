"""Counts in words for messages people read: ``1 record``, ``2 records``. Pure."""

from __future__ import annotations

__all__ = ["plural"]


def plural(count: int, noun: str, nouns: str | None = None, *, grouped: bool = False) -> str:
    """``count`` and ``noun``, the noun in the plural (``nouns``, default ``noun + "s"``) unless count is 1.

    ``grouped`` writes the count with thousands separators: ``12,345 records``.
    """
    number = f"{count:,}" if grouped else str(count)
    return f"{number} {noun if count == 1 else (nouns or noun + 's')}"
