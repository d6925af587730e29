"""Counts in words for messages people read: ``1 record``, ``2 records``. Pure."""

from __future__ import annotations

__all__ = ["plural"]


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``count`` and ``noun``, the noun in the plural (``nouns``, default ``noun + "s"``) unless count is 1."""
    return f"{count} {noun if count == 1 else (nouns or noun + 's')}"
