"""Retry delays: exponential and capped, with any jitter drawn by the caller. Pure.

The producer's shipper, the viewer's reconnects, the hub's writer and its ``LISTEN``
connection all wait this way before trying again; only their base, cap and jitter differ.
"""

from __future__ import annotations

__all__ = ["backoff", "exponential", "reconnect_delay"]


def exponential(attempt: int, *, base: float, cap: float) -> float:
    """``base * 2**attempt`` seconds (``attempt`` counts from 0), at most ``cap``."""
    if attempt < 0:
        raise ValueError(f"attempt must be zero or more, not {attempt}")
    return min(cap, base * 2.0 ** min(attempt, 62))


def backoff(attempt: int, *, jitter: float, base: float = 0.05, cap: float = 5.0) -> float:
    """Delay before retry number ``attempt`` (0-based): exponential, capped, "equal jitter".

    ``jitter`` in ``[0, 1]`` (e.g. ``random.random()``) picks a point in the upper half of
    the exponential step, so retries spread out but never collapse to zero.
    """
    if not 0.0 <= jitter <= 1.0:
        raise ValueError(f"jitter must lie in [0, 1], not {jitter}")
    return exponential(attempt, base=base, cap=cap) * (0.5 + 0.5 * jitter)


def reconnect_delay(attempt: int, *, base: float = 0.25, cap: float = 10.0, jitter: float = 0.0) -> float:
    """Seconds to wait before reconnect attempt ``attempt`` (1-based): exponential, capped.

    ``jitter`` in [0, 1) (the caller draws it) shortens the delay by up to a fifth, so that
    many clients that lost the same hub do not come back in lock step.
    """
    if attempt <= 0:
        return 0.0
    return exponential(attempt - 1, base=base, cap=cap) * (1.0 - 0.2 * jitter)
