"""Taking a slot from the provider's gate, the same for executions and pass-through requests:
at once when one is free, else in the queue for as long as the request may wait. That is its
own deadline when it set `timeout_s`; otherwise at most `Deadlines.queue_s`, after which it is
refused the way the provider itself refuses (429 with `retry-after`), so SDK clients back off
and retry as they would against the provider."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Callable

from adapters.specs import name_of
from contracts.base import ProviderId
from contracts.errors import ProviderError, RateLimited
from service.executions.failures import timed_out
from service.executions.ports import Deadlines
from service.usage.governor import Gate

# What a refused waiter is told to wait when no pause says longer.
QUEUE_RETRY_AFTER_S = 1.0


async def take_slot(
    gate: Gate,
    provider: ProviderId,
    deadlines: Deadlines,
    time_left: Callable[[], float],
    own_deadline: bool,
    admit: Callable[[ProviderId], None],
) -> AsyncGenerator[int, None]:
    """Ends holding a slot (the caller releases it). Yields the place in the queue once when
    it must wait; raises ProviderError when the wait runs out (`timeout` when the request's own
    deadline passed, `rate_limited` when it waited `queue_s` with no deadline of its own) or
    when `admit` refuses after the wait (the budget spent by those ahead), holding no slot."""
    if gate.try_enter():
        return
    bounded_by_queue = False

    def wait_s() -> float:
        nonlocal bounded_by_queue
        left = time_left()
        bounded_by_queue = not own_deadline and deadlines.queue_s < left
        return min(left, deadlines.queue_s) if bounded_by_queue else left

    try:
        async with contextlib.aclosing(gate.queue(wait_s)) as places:
            async for position in places:
                yield position
    except TimeoutError:
        if bounded_by_queue:
            raise queue_full(gate, provider, deadlines.queue_s) from None
        raise timed_out(provider, deadlines, "queued") from None
    try:
        admit(provider)
    except ProviderError:
        gate.release()
        raise


def queue_full(gate: Gate, provider: ProviderId, waited_s: float) -> ProviderError:
    """A request without a deadline of its own waited its longest for a slot."""
    state = gate.state()
    name = name_of(provider)
    return RateLimited(
        f"{name} already runs its limit of {state.effective_limit} concurrent executions "
        f"and this request waited {waited_s:g} s for a slot ({state.queued} still wait).",
        "Retry after the retry-after wait, or raise max_concurrent in the provider's settings.",
        provider=provider,
        retry_after_s=max(QUEUE_RETRY_AFTER_S, gate.pause_left),
    )
