"""Exponential, capped delays: what the hub's writer and ``LISTEN`` loops still use. Pure.

Every client-side retry loop uses :class:`~logctl.core.retry.Attempt`; the hub's loops
move to it too once the store and hub refactors have landed.
"""

from __future__ import annotations

__all__ = ["exponential"]


def exponential(attempt: int, *, base: float, cap: float) -> float:
    """``base * 2**attempt`` seconds (``attempt`` counts from 0), at most ``cap``."""
    if attempt < 0:
        raise ValueError(f"attempt must be zero or more, not {attempt}")
    return min(cap, base * 2.0 ** min(attempt, 62))
