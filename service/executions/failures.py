"""The errors an execution raises itself (rather than maps from a provider): a paused provider,
a deadline passed, a cancellation, and a failure inside the daemon. Each names its remedy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from adapters.specs import name_of
from contracts.base import ProviderId
from contracts.errors import BreakerOpen, Cancelled, ProviderError, Timeout, UnexpectedError
from service.executions.ports import Deadlines


def breaker_open(provider: ProviderId, wait: float, reason: str | None) -> ProviderError:
    """The provider's breaker is open for `wait` more seconds."""
    name = name_of(provider)
    until = (datetime.now(UTC) + timedelta(seconds=wait)).strftime("%H:%M:%SZ")
    why = f" (last: {reason})" if reason else ""
    return BreakerOpen(
        f"{name} failed repeatedly{why}; requests are paused until {until}.",
        f"Wait {wait:.0f} s and retry, or check {name}'s status page.",
        provider=provider,
        retry_after_s=round(wait, 3),
    )


def daemon_bug(provider: ProviderId, execution_id: str, what: str) -> ProviderError:
    """Something in the daemon itself failed; the log has the traceback."""
    return UnexpectedError(
        f"The daemon failed while running this request ({what}); the details are in its log.",
        f"Retry; if it persists, report the daemon log lines for execution {execution_id}.",
        provider=provider,
        status=500,
    )


def timed_out(
    provider: ProviderId, deadlines: Deadlines, which: str, waited_s: float = 0.0
) -> ProviderError:
    """A deadline passed: `first` token, `whole` answer (after `waited_s`), `idle` mid-stream,
    `total`, or `queued` for a slot."""
    text = {
        "first": f"No response from the provider within {deadlines.first_token_s:g} s.",
        "whole": f"No answer from the provider within {waited_s:.0f} s (the allowance for "
        "a whole answer of this max_tokens).",
        "idle": f"The provider sent nothing for {deadlines.idle_s:g} s mid-stream.",
        "total": "The request's deadline (timeout_s) passed.",
        "queued": "The request's deadline (timeout_s) passed while it waited for a slot "
        f"({name_of(provider)} already runs its limit of concurrent executions).",
    }[which]
    return Timeout(
        text,
        "Retry, or raise timeout_s for long answers.",
        provider=provider,
        retryable=which in ("first", "whole", "queued"),
    )


def cancelled(provider: ProviderId) -> ProviderError:
    """Cancelled by request."""
    return Cancelled(
        "The execution was cancelled.",
        "Send the request again if needed.",
        provider=provider,
    )
