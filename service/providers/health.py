"""Provider health from real traffic and explicit checks, with a circuit breaker.

    closed --(5 consecutive retryable failures, or >50% of >=5 requests in 60 s)--> open
    open   --(cooldown: 30 s, doubling per re-open, capped at 300 s)--> half_open
    half_open --(the one probe succeeds)--> closed;  --(it fails)--> open, longer cooldown

Only the provider's own faults count (`ProviderError.provider_fault`: 5xx, overloaded, timeouts,
broken streams). A 429 is the user's quota, a failed connection is the user's network, a bad key
or request is the caller's: none of them opens the breaker or marks the provider unwell.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from contracts.errors import ProviderError
from contracts.providers import BreakerState, HealthStateName, ProviderHealth


class HealthTracker:
    """One provider's breaker and health record. All times come from the injected clocks."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        *,
        consecutive_threshold: int = 5,
        window_s: float = 60.0,
        min_requests: int = 5,
        base_cooldown_s: float = 30.0,
        max_cooldown_s: float = 300.0,
    ) -> None:
        self._clock = clock
        self._now = now
        self._threshold = consecutive_threshold
        self._window_s = window_s
        self._min_requests = min_requests
        self._base = base_cooldown_s
        self._max = max_cooldown_s
        self.state = BreakerState.CLOSED
        self._outcomes: deque[tuple[float, bool]] = deque()
        self._consecutive = 0
        self._opens = 0
        self._open_until = 0.0
        self._cooldown_until: datetime | None = None
        self._probing = False
        self._checked_at: datetime | None = None
        self._latency_ms: float | None = None
        self._last_ok: bool | None = None
        self.open_reason: str | None = None

    def allow(self) -> float | None:
        """None when a request may go; else seconds until the breaker lets one through."""
        if self.state is BreakerState.OPEN:
            wait = self._open_until - self._clock()
            if wait > 0:
                return wait
            self.state = BreakerState.HALF_OPEN
        if self.state is BreakerState.HALF_OPEN:
            if self._probing:
                return max(1.0, self._open_until - self._clock())
            self._probing = True
        return None

    def blocked_for(self) -> float | None:
        """Seconds until the breaker lets a request through, without taking the half-open
        probe (`allow` takes it); None when one may go now."""
        if self.state is BreakerState.OPEN and self._open_until > self._clock():
            return self._open_until - self._clock()
        if self.state is BreakerState.HALF_OPEN and self._probing:
            return max(1.0, self._open_until - self._clock())
        return None

    def release(self) -> None:
        """A request that was let through ended with no verdict (e.g. cancelled)."""
        self._probing = False

    def success(self, latency_s: float | None = None, *, explicit: bool = True) -> None:
        """The provider answered well. Ordinary traffic (`explicit=False`) stamps `checked_at`
        only when the health it shows changes, so a busy provider is not a stream of events."""
        stamp = (
            explicit
            or self._last_ok is not True
            or self._consecutive
            or (self.state is not BreakerState.CLOSED)
        )
        self._record(True, latency_s if stamp else None, stamp=bool(stamp))
        self._consecutive = 0
        self.open_reason = None
        if self.state is not BreakerState.CLOSED:
            self.state, self._opens = BreakerState.CLOSED, 0
        self._probing = False

    def failure(self, error: ProviderError, latency_s: float | None = None) -> None:
        """A request failed; only the provider's own faults count toward opening."""
        if not error.provider_fault:
            if error.upstream_status is not None:
                # The provider answered: it is up, the request or credential was at fault.
                self._checked_at = self._now()
                if latency_s is not None:
                    self._latency_ms = round(latency_s * 1000, 3)
            self._probing = False
            return
        self._record(False, latency_s)
        self._consecutive += 1
        self.open_reason = error.message
        if self.state is BreakerState.HALF_OPEN or self._should_open():
            self._open()
        self._probing = False

    def _record(self, ok: bool, latency_s: float | None, *, stamp: bool = True) -> None:
        moment = self._clock()
        self._outcomes.append((moment, ok))
        while self._outcomes and moment - self._outcomes[0][0] > self._window_s:
            self._outcomes.popleft()
        if stamp:
            self._checked_at = self._now()
        self._last_ok = ok
        if latency_s is not None:
            self._latency_ms = round(latency_s * 1000, 3)

    def _should_open(self) -> bool:
        if self.state is not BreakerState.CLOSED:
            return False
        if self._consecutive >= self._threshold:
            return True
        failures = sum(1 for _, ok in self._outcomes if not ok)
        return len(self._outcomes) >= self._min_requests and failures * 2 > len(self._outcomes)

    def _open(self) -> None:
        self._opens += 1
        cooldown = min(self._base * 2 ** (self._opens - 1), self._max)
        self.state = BreakerState.OPEN
        self._open_until = self._clock() + cooldown
        self._cooldown_until = self._now() + timedelta(seconds=cooldown)

    def key(self) -> tuple[object, ...]:
        """What the status shows, cheaply: equal keys mean equal snapshots."""
        return (
            self.state,
            self._last_ok,
            self._consecutive,
            self._checked_at,
            self._latency_ms,
            self._cooldown_until,
        )

    def snapshot(self) -> ProviderHealth:
        """The health record as the status shows it."""
        if self.state is BreakerState.OPEN:
            state = HealthStateName.UNAVAILABLE
        elif self._last_ok is None:
            state = HealthStateName.UNKNOWN
        elif self.state is BreakerState.HALF_OPEN or self._consecutive or not self._last_ok:
            state = HealthStateName.DEGRADED
        else:
            state = HealthStateName.HEALTHY
        cooldown_until = self._cooldown_until if self.state is not BreakerState.CLOSED else None
        return ProviderHealth(
            state=state,
            breaker=self.state,
            checked_at=self._checked_at,
            latency_ms=self._latency_ms,
            consecutive_failures=self._consecutive,
            cooldown_until=cooldown_until,
            last_failure=self.open_reason if state is not HealthStateName.HEALTHY else None,
        )
