"""Provider HTTP failures to the taxonomy: the rules both adapters share.

Each adapter catches its own SDK's exceptions in one `map_errors()` and calls `from_status` or
`from_connection` here, so the two providers can never disagree on what a status means.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping

from contracts.base import AuthMode, ProviderId
from contracts.errors import ErrorCode, ProviderError

NAMES = {ProviderId.ANTHROPIC: "Anthropic", ProviderId.OPENAI: "OpenAI"}
MAX_RETRY_AFTER_S = 60.0
SHOULD_RETRY = {"true": True, "false": False}
CONTEXT_MARKERS = (
    "context length",
    "context window",
    "too many tokens",
    "prompt is too long",
    "maximum context",
    "context_length_exceeded",
)


def retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait, from `retry-after-ms`, else `retry-after` as seconds or an HTTP date."""
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def from_status(
    provider: ProviderId,
    status: int,
    message: str,
    *,
    headers: Mapping[str, str],
    error_type: str | None,
    upstream_request_id: str | None,
    mode: AuthMode | None,
) -> ProviderError:
    """The taxonomy error for an HTTP error answer from the provider."""
    name = NAMES[provider]

    def make(
        code: ErrorCode, text: str, remediation: str, wait: float | None = None
    ) -> ProviderError:
        return ProviderError(
            code,
            text,
            remediation,
            provider=provider,
            upstream_status=status,
            upstream_request_id=upstream_request_id,
            retry_after_s=None if wait is None else min(wait, MAX_RETRY_AFTER_S),
            should_retry=SHOULD_RETRY.get(headers.get("x-should-retry", "").lower()),
        )

    lowered = f"{message} {error_type or ''}".lower()
    if status in (401, 403):
        if mode is AuthMode.TOKEN_SESSION and "expired" in lowered:
            return make(
                ErrorCode.SESSION_EXPIRED,
                f"{name} says the session has expired: {message}",
                "Sign in again with the provider's CLI, or add an API key and allow fallback.",
            )
        what = "session" if mode is AuthMode.TOKEN_SESSION else "API key"
        return make(
            ErrorCode.INVALID_AUTH,
            f"{name} rejected the {what} ({status}): {message}",
            f"Check the {what} for {name}; replace it on the settings page if it was revoked.",
        )
    if status == 429:
        return make(
            ErrorCode.RATE_LIMITED,
            f"{name} is rate limiting: {message}",
            "Wait and retry, or lower the request rate.",
            retry_after(headers),
        )
    if status == 404 or error_type == "model_not_found":
        return make(
            ErrorCode.MODEL_NOT_FOUND,
            f"{name} does not know that model: {message}",
            "Pick a model from GET /v1/models.",
        )
    if status in (400, 409, 413, 422):
        if any(marker in lowered for marker in CONTEXT_MARKERS):
            return make(
                ErrorCode.INVALID_REQUEST,
                f"The request exceeds the model's context window: {message}",
                "Shorten the conversation or lower max_tokens.",
            )
        return make(
            ErrorCode.INVALID_REQUEST,
            f"{name} refused the request ({status}): {message}",
            "Fix the request as the message says.",
        )
    if status in (408, 504):
        return make(
            ErrorCode.TIMEOUT,
            f"{name} timed out ({status}): {message}",
            "Retry; if it persists, use a smaller request.",
        )
    if status >= 500:
        return make(
            ErrorCode.PROVIDER_UNAVAILABLE,
            f"{name} is unavailable ({status}): {message}",
            "Retry shortly; the daemon backs off on its own.",
            retry_after(headers),
        )
    return make(
        ErrorCode.UNEXPECTED_ERROR,
        f"{name} answered {status}: {message}",
        "Retry; report it if it persists.",
    )


def from_stream_read(provider: ProviderId, exc: Exception) -> ProviderError:
    """An error raised while reading a stream, which the SDKs pass through unwrapped: a broken
    or timed-out connection, or an event that is not JSON."""
    import httpx2

    if isinstance(exc, httpx2.TimeoutException):
        return from_connection(provider, True, str(exc))
    if isinstance(exc, httpx2.TransportError):
        return from_connection(provider, False, f"the connection broke ({type(exc).__name__})")
    return ProviderError(
        ErrorCode.UNEXPECTED_ERROR,
        f"{NAMES[provider]} sent a malformed stream event.",
        "Retry the request; report it if it persists.",
        provider=provider,
    )


def from_connection(provider: ProviderId, timed_out: bool, detail: str) -> ProviderError:
    """The taxonomy error for a request that got no HTTP answer."""
    name = NAMES[provider]
    if timed_out:
        return ProviderError(
            ErrorCode.TIMEOUT,
            f"{name} did not answer in time.",
            "Retry, or raise timeout_s.",
            provider=provider,
        )
    return ProviderError(
        ErrorCode.PROVIDER_UNAVAILABLE,
        f"Cannot reach {name}: {detail}",
        "Check the network or the provider's base URL (ANTHROPIC_BASE_URL / OPENAI_BASE_URL).",
        provider=provider,
    )
