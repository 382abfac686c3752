"""The one place Anthropic SDK exceptions become taxonomy errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from adapters.errors import from_connection, from_status, from_stream_read
from contracts.base import AuthMode, ProviderId
from contracts.errors import ErrorCode, ProviderError

PROVIDER = ProviderId.ANTHROPIC
STREAM_ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


def _detail(body: Any) -> tuple[str | None, str | None]:
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return (str(error.get("type")) if error.get("type") else None, error.get("message"))
    return None, None


def stream_error(body: Any, request_id: str | None, mode: AuthMode | None) -> ProviderError:
    """An `event: error` inside a 200 stream: its type says what it would have been."""
    error = getattr(body, "error", None)
    error_type = getattr(error, "type", None)
    message = getattr(error, "message", None) or "The stream reported an error."
    return from_status(
        PROVIDER,
        STREAM_ERROR_STATUS.get(error_type or "", 500),
        message,
        headers={},
        error_type=error_type,
        upstream_request_id=request_id,
        mode=mode,
    )


@contextmanager
def map_errors(mode: AuthMode | None) -> Iterator[None]:
    """Translate anything the SDK raises; the cause is kept with `from`."""
    import anthropic
    import httpx2

    try:
        yield
    except anthropic.APIStatusError as exc:
        error_type, message = _detail(exc.body)
        status = exc.status_code
        if status < 400:  # an `event: error` inside a 200 stream: its type says what it was
            status = STREAM_ERROR_STATUS.get(error_type or "", 500)
        raise from_status(
            PROVIDER,
            status,
            message or exc.message,
            headers=exc.response.headers,
            error_type=error_type,
            upstream_request_id=exc.request_id,
            mode=mode,
        ) from exc
    except (httpx2.TransportError, ValueError) as exc:  # raised while reading, unwrapped
        raise from_stream_read(PROVIDER, exc) from exc
    except anthropic.APITimeoutError as exc:
        raise from_connection(PROVIDER, True, str(exc)) from exc
    except anthropic.APIConnectionError as exc:
        raise from_connection(PROVIDER, False, str(exc.__cause__ or exc)) from exc
    except anthropic.CredentialsError as exc:
        raise ProviderError(
            ErrorCode.MISSING_AUTH,
            f"The Anthropic session cannot be used: {exc}",
            "Run `ant auth login`, or add an API key.",
            provider=PROVIDER,
        ) from exc
    except anthropic.AnthropicError as exc:
        raise ProviderError(
            ErrorCode.UNEXPECTED_ERROR,
            f"Anthropic client error: {type(exc).__name__}",
            "Retry; report it if it persists.",
            provider=PROVIDER,
        ) from exc
