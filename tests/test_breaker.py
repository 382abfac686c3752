"""The circuit breaker and the retry rules, with injected clocks; a Hypothesis state machine."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from adapters.errors import from_status
from contracts.base import BUILT_IN, AuthMode, ProviderId
from contracts.errors import (
    InvalidAuth,
    InvalidRequest,
    NetworkUnreachable,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
    Timeout,
)
from contracts.providers import BreakerState, HealthStateName
from service.executions.retry import RetryPolicy, backoff
from service.providers.health import HealthTracker

UNAVAILABLE = ProviderUnavailable("down", "wait")
BAD_KEY = InvalidAuth("bad key", "fix")


def _state(tracker: HealthTracker) -> BreakerState:
    return tracker.state  # a call, so the type checker does not narrow across transitions


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_opens_after_five_consecutive_failures_and_recovers_through_one_probe() -> None:
    clock = Clock()
    tracker = HealthTracker(clock)
    assert tracker.snapshot().state is HealthStateName.UNKNOWN
    for _ in range(4):
        assert tracker.allow() is None
        tracker.failure(UNAVAILABLE)
    assert _state(tracker) is BreakerState.CLOSED
    assert tracker.snapshot().state is HealthStateName.DEGRADED
    tracker.failure(UNAVAILABLE)
    assert _state(tracker) is BreakerState.OPEN
    assert tracker.snapshot().state is HealthStateName.UNAVAILABLE
    assert tracker.allow() == 30.0
    clock.t += 30
    assert tracker.allow() is None
    assert _state(tracker) is BreakerState.HALF_OPEN
    assert tracker.allow() is not None, "only one probe while half-open"
    tracker.success(0.01)
    assert _state(tracker) is BreakerState.CLOSED
    assert tracker.snapshot().state is HealthStateName.HEALTHY


def test_cooldown_doubles_to_a_cap() -> None:
    clock = Clock()
    tracker = HealthTracker(clock)
    for _ in range(5):
        tracker.failure(UNAVAILABLE)
    waits = []
    for _ in range(6):
        wait = tracker.allow()
        assert wait is not None
        waits.append(wait)
        clock.t += wait
        assert tracker.allow() is None
        tracker.failure(UNAVAILABLE)
    assert waits == [30.0, 60.0, 120.0, 240.0, 300.0, 300.0]


def test_more_than_half_failing_in_the_window_opens() -> None:
    clock = Clock()
    tracker = HealthTracker(clock)
    for ok in (True, False, True, False, False):
        clock.t += 1
        tracker.success() if ok else tracker.failure(UNAVAILABLE)
    assert _state(tracker) is BreakerState.OPEN


def test_old_outcomes_leave_the_window() -> None:
    clock = Clock()
    tracker = HealthTracker(clock)
    for _ in range(2):
        tracker.failure(UNAVAILABLE)
    tracker.success()
    clock.t += 61
    for ok in (False, True, False):
        tracker.success() if ok else tracker.failure(UNAVAILABLE)
    assert _state(tracker) is BreakerState.CLOSED


def test_caller_errors_do_not_count() -> None:
    tracker = HealthTracker(Clock())
    for _ in range(20):
        tracker.failure(BAD_KEY)
    assert _state(tracker) is BreakerState.CLOSED


@pytest.mark.parametrize("provider", list(BUILT_IN))
def test_one_retry_verdict_for_both_providers(provider: ProviderId) -> None:
    def status(code: int, should: str | None = None) -> ProviderError:
        headers = {} if should is None else {"x-should-retry": should}
        return from_status(
            provider,
            code,
            "x",
            headers=headers,
            error_type=None,
            upstream_request_id=None,
            mode=AuthMode.API_KEY,
        )

    assert all(status(code).retryable for code in (408, 429, 500, 502, 503, 504, 529))
    # 409 is a conflict in the request, not a passing fault: retried only when the provider
    # says so with x-should-retry.
    assert not any(status(code).retryable for code in (400, 401, 403, 404, 409, 413, 422))
    assert not status(503, should="false").retryable
    assert status(409, should="true").retryable
    assert ProviderUnavailable("refused", "y").retryable
    assert Timeout("slow", "y").retryable
    assert RateLimited("quota", "y").retryable
    assert not InvalidRequest("bad", "y").retryable


def test_only_provider_faults_count_against_health() -> None:
    tracker = HealthTracker(Clock())
    quota = RateLimited("quota", "wait", upstream_status=429)
    offline = NetworkUnreachable("no route", "check the network")
    for _ in range(20):
        tracker.failure(quota)
        tracker.failure(offline)
    assert _state(tracker) is BreakerState.CLOSED
    assert tracker.snapshot().consecutive_failures == 0
    for _ in range(5):
        tracker.failure(UNAVAILABLE)
    assert _state(tracker) is BreakerState.OPEN
    assert tracker.snapshot().last_failure == "down"


@given(st.integers(min_value=0, max_value=30), st.floats(min_value=0, max_value=1))
def test_backoff_is_bounded_and_jittered(retries: int, jitter: float) -> None:
    ceiling = min(0.5 * 2**retries, 8.0)
    delay = backoff(retries, jitter)
    assert 0.75 * ceiling <= delay <= ceiling
    assert delay <= 8.0


@given(st.floats(min_value=0.001, max_value=60), st.integers(min_value=0, max_value=5))
def test_provider_retry_after_wins_up_to_sixty_seconds(after: float, retries: int) -> None:
    error = RateLimited("x", "y", retry_after_s=after)
    assert RetryPolicy(rng=lambda: 0.5).delay(error, retries) == after


class BreakerMachine(RuleBasedStateMachine):
    """No traffic while open; at most one probe while half-open; recovery after the cooldown."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = Clock()
        self.tracker = HealthTracker(self.clock)
        self.in_flight = 0

    @rule()
    def request_succeeds(self) -> None:
        if self.tracker.allow() is None:
            self.tracker.success()

    @rule()
    def request_fails(self) -> None:
        if self.tracker.allow() is None:
            self.tracker.failure(UNAVAILABLE)

    @rule(seconds=st.floats(min_value=0, max_value=400))
    def time_passes(self, seconds: float) -> None:
        self.clock.t += seconds

    @precondition(lambda self: self.tracker.state is BreakerState.OPEN)
    @rule()
    def open_means_no_traffic_until_the_cooldown(self) -> None:
        wait = self.tracker.allow()
        if wait is not None:
            assert wait > 0
            assert self.tracker.state is BreakerState.OPEN

    @precondition(lambda self: self.tracker.state is BreakerState.HALF_OPEN)
    @rule()
    def half_open_allows_one_probe(self) -> None:
        first = self.tracker.allow()
        second = self.tracker.allow()
        assert first is None or second is not None
        assert second is not None
        self.tracker.success()

    @precondition(lambda self: self.tracker.state is BreakerState.OPEN)
    @rule()
    def recovers_after_the_longest_cooldown(self) -> None:
        self.clock.t += 300
        assert self.tracker.allow() is None
        self.tracker.success()
        assert self.tracker.state is BreakerState.CLOSED

    @invariant()
    def health_matches_the_breaker(self) -> None:
        health = self.tracker.snapshot()
        assert health.breaker is self.tracker.state
        assert (health.state is HealthStateName.UNAVAILABLE) == (
            self.tracker.state is BreakerState.OPEN
        )


TestBreakerMachine = BreakerMachine.TestCase
TestBreakerMachine.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
