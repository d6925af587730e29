"""The one retry value (core/retry.py): delays, jitter and the give-up deadline, without a clock."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logctl.client.send import SEND_RETRY
from logctl.client.shipper import RETRY as SHIPPER_RETRY
from logctl.core.retry import Attempt, RetryPolicy
from logctl.tail.client import RECONNECT

policies = st.builds(
    RetryPolicy,
    base=st.floats(0.001, 10.0),
    cap=st.floats(10.0, 600.0),
    spread=st.floats(0.0, 0.99),
)
jitters = st.floats(0.0, 1.0)


def test_shipper_delays_double_from_base_to_cap_in_the_upper_half_of_each_step() -> None:
    """The shipper waits 0.05 s after its first failure, doubling to 5 s; jitter keeps at least half a step."""
    assert SHIPPER_RETRY.delay(1, jitter=0.0) == pytest.approx(0.05)
    assert SHIPPER_RETRY.delay(1, jitter=1.0) == pytest.approx(0.025)
    assert SHIPPER_RETRY.delay(4, jitter=0.0) == pytest.approx(0.4)
    assert SHIPPER_RETRY.delay(100, jitter=0.0) == pytest.approx(5.0)
    assert SEND_RETRY.delay(10_000, jitter=1.0) == pytest.approx(0.5)


def test_tail_reconnect_delays_grow_to_ten_seconds_and_jitter_only_shortens_them() -> None:
    """The viewer waits 0.25, 0.5, 1, 2 … s up to 10 s; jitter takes at most a fifth off."""
    delays = [RECONNECT.delay(n) for n in range(1, 10)]
    assert delays[:4] == [0.25, 0.5, 1.0, 2.0]
    assert max(delays) == 10.0
    assert RECONNECT.delay(3, jitter=0.99) < RECONNECT.delay(3)
    assert RECONNECT.delay(3, jitter=1.0) == pytest.approx(0.8)
    assert RECONNECT.delay(0) == 0.0


def test_a_policy_refuses_nonsense() -> None:
    """A non-positive base, a cap below the base, a spread outside [0, 1) and jitter outside [0, 1] are errors."""
    for kwargs in ({"base": 0.0, "cap": 1.0}, {"base": 2.0, "cap": 1.0}, {"base": 1.0, "cap": 2.0, "spread": 1.0},
                   {"base": float("nan"), "cap": 1.0}, {"base": 1.0, "cap": float("inf")}):
        with pytest.raises(ValueError):
            RetryPolicy(**kwargs)
    with pytest.raises(ValueError):
        RECONNECT.delay(1, jitter=1.5)


@given(policies, st.lists(jitters, min_size=1, max_size=80))
def test_delays_stay_between_the_jittered_floor_and_the_cap_and_never_reach_zero(
    policy: RetryPolicy, draws: list[float]
) -> None:
    """Each delay lies in [(1 - spread) * step, step] with step = min(cap, base * 2**(n-1)), so never 0."""
    attempt = Attempt(policy)
    for n, jitter in enumerate(draws, start=1):
        attempt = attempt.failed(float(n), jitter=jitter)
        step = min(policy.cap, policy.base * 2.0 ** (n - 1))
        assert attempt.failures == n
        assert (1.0 - policy.spread) * step * (1 - 1e-12) <= attempt.delay <= step * (1 + 1e-12)
        assert attempt.delay > 0
        assert attempt.retry_at(float(n)) == float(n) + attempt.delay


@given(policies, st.integers(1, 70))
def test_without_jitter_the_delay_never_shrinks_as_failures_grow(policy: RetryPolicy, n: int) -> None:
    """With no jitter, the (n+1)-th delay is at least the n-th: backoff is monotone up to the cap."""
    assert policy.delay(n + 1) >= policy.delay(n)
    assert policy.delay(n) <= policy.cap


@given(policies, st.lists(st.tuples(st.booleans(), jitters), max_size=40))
def test_a_success_starts_over_from_the_base_delay(policy: RetryPolicy, steps: list[tuple[bool, float]]) -> None:
    """After reset() the next failure waits the first step again, whatever happened before."""
    attempt = Attempt(policy)
    for ok, jitter in steps:
        attempt = attempt.reset() if ok else attempt.failed(0.0, jitter=jitter)
    again = attempt.reset()
    assert (again.failures, again.delay) == (0, 0.0)
    assert again.failed(0.0, jitter=0.0).delay == pytest.approx(policy.base)


@given(policies, st.floats(0.0, 100.0), st.lists(st.tuples(st.floats(0.0, 5.0), jitters), min_size=1, max_size=40))
def test_delays_never_run_past_the_deadline_and_the_attempt_gives_up_there(
    policy: RetryPolicy, deadline: float, steps: list[tuple[float, float]]
) -> None:
    """With a give-up deadline, now + delay never passes it, and gave_up(now) is true exactly from it on."""
    attempt = Attempt.until(policy, deadline)
    now = 0.0
    for elapsed, jitter in steps:
        now += elapsed
        attempt = attempt.failed(now, jitter=jitter)
        assert attempt.delay >= 0.0
        assert now + attempt.delay <= max(deadline, now) + 1e-9
        assert attempt.gave_up(now) == (now >= deadline)
        now += attempt.delay
    assert attempt.reset().give_up_at == deadline


def test_without_a_deadline_an_attempt_never_gives_up() -> None:
    """Attempt(policy) keeps retrying for ever: gave_up is false at any time."""
    attempt = Attempt(RECONNECT).failed(1e12)
    assert not attempt.gave_up(1e18)
    assert attempt.delay == pytest.approx(0.25)
