"""When to try again: one retry value for every retry loop in logctl. Pure.

Modelled on psycopg_pool's ``AttemptWithBackoff``. A :class:`RetryPolicy` says how delays
grow (exponential from ``base``, capped at ``cap``) and how much of each delay jitter may
take away (``spread``). An :class:`Attempt` is where one loop stands: how many failures
in a row, the delay to wait now, and an optional give-up deadline. It never reads a clock
or draws a random number: the caller passes ``now`` and ``jitter`` (e.g. ``rng.random()``)::

    attempt = Attempt(POLICY)                    # nothing has failed yet
    ...                                          # a try fails:
    attempt = attempt.failed(now, jitter=rng.random())
    if attempt.gave_up(now): raise ...
    sleep(attempt.delay)
    ...                                          # a try succeeds:
    attempt = attempt.reset()
"""

from __future__ import annotations

import dataclasses
import math

__all__ = ["Attempt", "RetryPolicy"]


@dataclasses.dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Delays of ``base * 2**(n-1)`` seconds after the n-th failure in a row, at most ``cap``.

    Jitter (a number in [0, 1] drawn by the caller) shortens a delay by up to ``spread``
    of it: 0 means no jitter, 0.5 picks a point in the upper half of the step ("equal
    jitter"). Delays spread out but never collapse to zero.
    """

    base: float
    cap: float
    spread: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.base) and self.base > 0):
            raise ValueError(f"the retry base must be a positive number of seconds, not {self.base}")
        if not (math.isfinite(self.cap) and self.cap >= self.base):
            raise ValueError(f"the retry cap must be at least the base ({self.base}), not {self.cap}")
        if not 0.0 <= self.spread < 1.0:
            raise ValueError(f"the retry spread must lie in [0, 1), not {self.spread}")

    def delay(self, failures: int, jitter: float = 0.0) -> float:
        """Seconds to wait after ``failures`` failures in a row (0 before any)."""
        if not 0.0 <= jitter <= 1.0:
            raise ValueError(f"jitter must lie in [0, 1], not {jitter}")
        if failures <= 0:
            return 0.0
        step = min(self.cap, self.base * 2.0 ** min(failures - 1, 62))
        return step * (1.0 - self.spread * jitter)


@dataclasses.dataclass(frozen=True, slots=True)
class Attempt:
    """One retry loop's position: ``failures`` in a row, the ``delay`` to wait now, and
    ``give_up_at`` (a time on the caller's clock, or None: never give up)."""

    policy: RetryPolicy
    failures: int = 0
    delay: float = 0.0
    give_up_at: float | None = None

    @classmethod
    def until(cls, policy: RetryPolicy, deadline: float | None) -> Attempt:
        """A fresh attempt that gives up at ``deadline`` (None: never)."""
        return cls(policy, give_up_at=deadline)

    def failed(self, now: float, jitter: float = 0.0) -> Attempt:
        """The attempt after one more failure at ``now``: its delay never runs past the deadline."""
        failures = self.failures + 1
        delay = self.policy.delay(failures, jitter)
        if self.give_up_at is not None:
            delay = max(0.0, min(delay, self.give_up_at - now))
        return Attempt(self.policy, failures, delay, self.give_up_at)

    def reset(self) -> Attempt:
        """The attempt after a success: no failures, no delay, the same deadline."""
        return Attempt(self.policy, give_up_at=self.give_up_at)

    def gave_up(self, now: float) -> bool:
        """Whether the deadline has passed at ``now`` (never, without one)."""
        return self.give_up_at is not None and now >= self.give_up_at

    def retry_at(self, now: float) -> float:
        """When to try again, on the clock that gave ``now``."""
        return now + self.delay
