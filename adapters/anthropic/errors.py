"""The one place Anthropic SDK exceptions become taxonomy errors."""

from __future__ import annotations

import sys
from contextlib import AbstractContextManager
from typing import Any

from adapters.base import Credential
from adapters.errors import boundary, from_status, session_failed
from adapters.sessions import SessionKind
from adapters.specs import ANTHROPIC
from adapters.transport_errors import from_transport
from contracts.base import AuthMode, ProviderId
from contracts.errors import ProviderError

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


def error_detail(body: Any) -> tuple[str | None, str | None]:
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return (str(error.get("type")) if error.get("type") else None, error.get("message"))
    return None, None


def stream_failure(
    body: Any, request_id: str | None, mode: AuthMode | None, provider: ProviderId = PROVIDER
) -> ProviderError:
    """An `event: error` inside a 200 stream: its type says what it would have been."""
    error = getattr(body, "error", None)
    error_type = getattr(error, "type", None)
    message = getattr(error, "message", None) or "The stream reported an error."
    return from_status(
        provider,
        STREAM_ERROR_STATUS.get(error_type or "", 500),
        message,
        headers={},
        error_type=error_type,
        upstream_request_id=request_id,
        mode=mode,
    )


RENEW = ANTHROPIC.renew[SessionKind.ANTHROPIC_PROFILE]


def map_errors(
    credential: Credential, host: str | None = None, provider: ProviderId = PROVIDER
) -> AbstractContextManager[None]:
    """The boundary every Anthropic SDK call runs inside (see `adapters.errors.boundary`);
    `provider` is whose endpoint speaks this wire."""
    mode = credential.mode

    def map_sdk(exc: Exception) -> ProviderError | None:
        if "anthropic" not in sys.modules:  # the direct path: the SDK was never loaded
            return None
        import anthropic
        from anthropic.lib.credentials import WorkloadIdentityError

        if isinstance(exc, anthropic.APIStatusError):
            error_type, message = error_detail(exc.body)
            status = exc.status_code
            if status < 400:  # an `event: error` inside a 200 stream: its type says what it was
                status = STREAM_ERROR_STATUS.get(error_type or "", 500)
            return from_status(
                provider,
                status,
                message or exc.message,
                headers=exc.response.headers,
                error_type=error_type,
                upstream_request_id=exc.request_id,
                mode=mode,
            )
        if isinstance(exc, anthropic.APIConnectionError):
            return from_transport(provider, exc.__cause__ or exc, host)
        if mode is AuthMode.TOKEN_SESSION and isinstance(
            exc, anthropic.CredentialsError | WorkloadIdentityError
        ):
            return session_failed(PROVIDER, exc, RENEW)
        return None

    return boundary(provider, map_sdk, secrets=(credential.api_key,), host=host)
