"""The fall-through rule (issue 37): when a route's request moves on to its next target. One
place decides it, before anything is sent (`skip`) and after a target failed (`moves_on`).

Before anything is sent, a target is passed over at once, never waited on, when it cannot serve
now: no usable credential, its breaker open, its gate paused by a `retry-after` longer than
PAUSE_BOUND_S, its budget spent, or a capability the request uses that it does not take (an
image to a text-only model). After it failed, the request moves on only when nothing reached
the caller yet (a whole request's caller sees nothing before `done`, whatever the target
streamed to the daemon; what that target used is priced at its own model and counted in the
execution's usage) and the failure says another provider may do better: a retryable failure
(after the target's own retries), the provider unavailable, an auth the provider refused, a
model it does not have, or a context window too small (a bigger model next). Never on any other
refused request (a bad request is bad everywhere), never on a cancellation, never after output.
"""

from __future__ import annotations

from adapters.specs import name_of
from contracts.base import ProviderId
from contracts.error_body import ErrorCode, PassedOver
from contracts.errors import ProviderError, ProviderUnavailable, RateLimited
from contracts.routes import Route
from service.executions.failures import breaker_open
from service.providers.health import HealthTracker
from service.usage.governor import Gate

PAUSE_BOUND_S = 5.0  # a longer pause skips the target rather than wait on it
MOVES_ON = frozenset(
    {
        ErrorCode.RATE_LIMITED,
        ErrorCode.PROVIDER_UNAVAILABLE,
        ErrorCode.TIMEOUT,
        ErrorCode.MISSING_AUTH,
        ErrorCode.INVALID_AUTH,
        ErrorCode.SESSION_EXPIRED,
        ErrorCode.MODEL_NOT_FOUND,
        ErrorCode.BUDGET_EXCEEDED,
    }
)
CONTEXT = ("context window", "context length", "too many tokens", "prompt is too long")


def moves_on(error: ProviderError, output_seen: bool) -> bool:
    """Whether a failed target gives way to the next one."""
    if output_seen or error.code is ErrorCode.CANCELLED:
        return False
    if error.code in MOVES_ON or error.retryable:
        return True
    lowered = error.message.lower()
    return error.code is ErrorCode.INVALID_REQUEST and any(mark in lowered for mark in CONTEXT)


def cannot_serve_now(
    provider: ProviderId, health: HealthTracker, gate: Gate
) -> ProviderError | None:
    """Why a route's target cannot serve at once (its breaker open, its gate paused by a
    `retry-after` longer than PAUSE_BOUND_S); None when it can."""
    wait = health.blocked_for()
    if wait is not None:
        return breaker_open(provider, wait, health.open_reason)
    pause = gate.pause_left
    if pause > PAUSE_BOUND_S:
        name = name_of(provider)
        return RateLimited(
            f"{name} is paused for {pause:.0f} s more after it answered 429.",
            "The route goes on to its next target; wait for the pause to end to use this one.",
            provider=provider,
            retry_after_s=round(pause, 3),
        )
    return None


def none_served(
    route: Route, passed: list[PassedOver], last: ProviderError | None
) -> ProviderError:
    """No target of `route` could serve: the last one's error, naming the route, listing why
    each target could not."""
    error = last or ProviderUnavailable(
        "The route has no targets.", "Give the route a target.", status=503
    )
    error.message = (
        f"No target of the route {route.name!r} could serve ({len(passed)} tried); the last: "
        f"{error.message}"
    )
    error.args = (error.message,)
    error.passed_over = list(passed)
    return error
