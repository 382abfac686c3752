"""The one retry loop's rules: what is retried, and how long to wait.

Retried: connection failures and timeouts, and HTTP 408, 409, 429, 500, 502, 503, 504 and 529,
unless the provider said `x-should-retry: false` (and always when it said `true`). Never other
4xx. Waits: the provider's `retry-after-ms` / `retry-after` (up to 60 s), else
`min(0.5 * 2^n, 8)` seconds less up to 25% jitter. Never once output has reached the client.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from contracts.errors import ErrorCode, ProviderError

RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})
MAX_RETRY_AFTER_S = 60.0


def retryable(error: ProviderError) -> bool:
    """Whether the same request may be sent again."""
    if error.should_retry is not None:
        return error.should_retry
    if error.upstream_status is None:
        return error.code in (ErrorCode.PROVIDER_UNAVAILABLE, ErrorCode.TIMEOUT)
    return error.upstream_status in RETRY_STATUSES


def backoff(retries_so_far: int, jitter: float) -> float:
    """Exponential backoff: 0.5 s, 1 s, 2 s ... capped at 8 s, less `jitter` (0..1) x 25%."""
    return float(min(0.5 * 2.0**retries_so_far, 8.0) * (1 - 0.25 * jitter))


@dataclass(frozen=True)
class RetryPolicy:
    """How many retries, and the sleep and randomness to use (injectable for tests)."""

    max_retries: int = 2
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    rng: Callable[[], float] = field(default=random.random)

    def delay(self, error: ProviderError, retries_so_far: int) -> float:
        """Seconds to wait before the next attempt."""
        if error.retry_after_s is not None and 0 < error.retry_after_s <= MAX_RETRY_AFTER_S:
            return error.retry_after_s
        return backoff(retries_so_far, self.rng())
