"""The one retry loop's rules: how long to wait.

What is retried is the error's own verdict (`ProviderError.retryable`: its class, or the
provider's `x-should-retry` when it gave one), the same for both providers, in and out of
streams. Waits: the provider's `retry-after-ms` / `retry-after` (up to 60 s), else
`min(0.5 * 2^n, 8)` seconds less up to 25% jitter. Never once output has reached the client.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from contracts.errors import ProviderError

MAX_RETRY_AFTER_S = 60.0


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
