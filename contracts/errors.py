"""The error taxonomy: codes, the one error body, and the HTTP status each code answers with.

Error tree (every error the daemon reports is a `ProviderError` carrying an `ErrorBody`):

    ProviderError
      code=unauthorized          401  the daemon's own token is missing or wrong
      code=invalid_request       400  bad input; 422 schema, 413/415/421/403 at the edge
      code=model_not_found       404
      code=missing_auth          424  no credential for the provider
      code=invalid_auth          424  the provider rejected the credential
      code=session_expired       424  the token session expired and could not be renewed
      code=rate_limited          429
      code=cancelled             409
      code=provider_unavailable  503
      code=timeout               504
      code=unexpected_error      502

HTTP 401 is reserved for the daemon's own token; upstream auth problems answer 424 so a client can
never confuse "your daemon token is wrong" with "your Anthropic key is wrong".
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from contracts.base import ProviderId, Response


class ErrorCode(StrEnum):
    """Every error code the daemon can answer with. The shell switches on these."""

    MISSING_AUTH = "missing_auth"
    INVALID_AUTH = "invalid_auth"
    SESSION_EXPIRED = "session_expired"
    RATE_LIMITED = "rate_limited"
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    UNEXPECTED_ERROR = "unexpected_error"
    INVALID_REQUEST = "invalid_request"
    MODEL_NOT_FOUND = "model_not_found"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    UNAUTHORIZED = "unauthorized"


HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.INVALID_REQUEST: 400,
    ErrorCode.MODEL_NOT_FOUND: 404,
    ErrorCode.MISSING_AUTH: 424,
    ErrorCode.INVALID_AUTH: 424,
    ErrorCode.SESSION_EXPIRED: 424,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.CANCELLED: 409,
    ErrorCode.PROVIDER_UNAVAILABLE: 503,
    ErrorCode.TIMEOUT: 504,
    ErrorCode.UNEXPECTED_ERROR: 502,
}

RETRYABLE: frozenset[ErrorCode] = frozenset(
    {ErrorCode.RATE_LIMITED, ErrorCode.PROVIDER_UNAVAILABLE, ErrorCode.TIMEOUT}
)


class ErrorDetail(Response):
    """One problem found in a request body, located by its path."""

    loc: list[str | int] = Field(
        description="Path to the offending field, e.g. ['body', 'messages', 0]."
    )
    msg: str
    type: str


class ErrorBody(Response):
    """The body of every error response, stream `error` event and provider `last_error`."""

    code: ErrorCode
    message: str = Field(description="What went wrong, for a person. Never contains a secret.")
    remediation: str = Field(description="What to do about it.")
    retryable: bool = Field(description="Whether the same request may succeed if sent again later.")
    provider: ProviderId | None = None
    request_id: str | None = Field(default=None, description="The daemon's id for the request.")
    retry_after_s: float | None = Field(
        default=None, description="Seconds to wait before retrying."
    )
    upstream_status: int | None = Field(default=None, description="The provider's HTTP status.")
    upstream_request_id: str | None = Field(default=None, description="The provider's request id.")
    details: list[ErrorDetail] | None = Field(default=None, description="Per-field problems.")


class ProviderError(Exception):
    """An error in the taxonomy, raised anywhere and rendered once at the HTTP edge."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        remediation: str,
        *,
        provider: ProviderId | None = None,
        retryable: bool | None = None,
        retry_after_s: float | None = None,
        upstream_status: int | None = None,
        upstream_request_id: str | None = None,
        details: list[ErrorDetail] | None = None,
        status: int | None = None,
        should_retry: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.remediation = remediation
        self.provider = provider
        self.retryable = code in RETRYABLE if retryable is None else retryable
        self.retry_after_s = retry_after_s
        self.upstream_status = upstream_status
        self.upstream_request_id = upstream_request_id
        self.details = details
        self.status = HTTP_STATUS[code] if status is None else status
        # The provider's own `x-should-retry` verdict; used by the retry loop, never sent.
        self.should_retry = should_retry

    def body(self, request_id: str | None = None) -> ErrorBody:
        """The wire form of this error."""
        return ErrorBody(
            code=self.code,
            message=self.message,
            remediation=self.remediation,
            retryable=self.retryable,
            provider=self.provider,
            request_id=request_id,
            retry_after_s=self.retry_after_s,
            upstream_status=self.upstream_status,
            upstream_request_id=self.upstream_request_id,
            details=self.details,
        )

    def __repr__(self) -> str:
        return f"ProviderError(code={self.code.value!r}, message={self.message!r})"
