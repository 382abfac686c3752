"""The one place OpenAI SDK exceptions become taxonomy errors."""

from __future__ import annotations

import sys
from contextlib import AbstractContextManager
from typing import Any

from adapters.base import Credential
from adapters.errors import boundary, from_status
from adapters.specs import name_of
from adapters.transport_errors import from_transport
from contracts.base import ProviderId
from contracts.errors import (
    InvalidRequest,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
    UnexpectedError,
)

PROVIDER = ProviderId.OPENAI


def error_detail(body: Any) -> tuple[str | None, str | None]:
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            kind = error.get("code") or error.get("type")
            return (str(kind) if kind else None, error.get("message") or error.get("detail"))
    return None, None


def map_errors(
    credential: Credential, host: str | None = None, provider: ProviderId = PROVIDER
) -> AbstractContextManager[None]:
    """The boundary every OpenAI SDK call runs inside (see `adapters.errors.boundary`);
    `provider` is whose endpoint speaks this wire (OpenAI's, or one a user added)."""
    mode = credential.mode

    def map_sdk(exc: Exception) -> ProviderError | None:
        if "openai" not in sys.modules:  # the direct path: the SDK was never loaded
            return None
        import openai

        if isinstance(exc, openai.APIStatusError):
            error_type, message = error_detail(exc.body)
            return from_status(
                provider,
                exc.status_code,
                message or exc.message,
                headers=exc.response.headers,
                error_type=error_type,
                upstream_request_id=exc.request_id,
                mode=mode,
            )
        if isinstance(exc, openai.APIConnectionError):
            return from_transport(provider, exc.__cause__ or exc, host)
        return None

    return boundary(provider, map_sdk, secrets=(credential.api_key,), host=host)


def stream_failure(
    code: str | None, message: str | None, provider: ProviderId = ProviderId.OPENAI
) -> ProviderError:
    """A failure reported inside a 200 stream (`error` event or `response.failed`)."""
    code = code or ""
    text = message or "the provider reported an error mid-stream"
    name = name_of(provider)
    if "rate_limit" in code or code in ("insufficient_quota", "usage_limit_reached"):
        return RateLimited(
            f"{name} is rate limiting: {text}",
            "Wait and retry.",
            provider=provider,
        )
    if code in ("server_error", "overloaded", "service_unavailable", ""):
        return ProviderUnavailable(
            f"{name} failed mid-stream: {text}",
            "Retry shortly.",
            provider=provider,
        )
    if "context" in code or "context" in text.lower():
        return InvalidRequest(
            f"The request exceeds the model's context window: {text}",
            "Shorten the conversation.",
            provider=provider,
        )
    return UnexpectedError(
        f"{name} failed mid-stream ({code}): {text}",
        "Retry; report it if it persists.",
        provider=provider,
    )
