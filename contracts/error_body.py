"""The error body every error response, stream error event and provider status carries: its code,
the action a program can offer, and per-field details."""

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
    BUDGET_EXCEEDED = "budget_exceeded"


class ErrorAction(StrEnum):
    """What a program can offer the user to do about an error (the page makes it a button, the
    CLI a command); `remediation` says the same for a person."""

    SET_API_KEY = "set_api_key"
    SIGN_IN = "sign_in"
    SWITCH_AUTH_MODE = "switch_auth_mode"
    CHOOSE_MODEL = "choose_model"
    FIX_REQUEST = "fix_request"
    WAIT = "wait"
    RETRY = "retry"
    CHECK_NETWORK = "check_network"
    RAISE_BUDGET = "raise_budget"
    NONE = "none"


class ErrorDetail(Response):
    """One problem found in a request body, located by its path."""

    loc: list[str | int] = Field(
        description="Path to the offending field, e.g. ['body', 'messages', 0]."
    )
    msg: str
    type: str


class PassedOver(Response):
    """A route's target that failed or could not serve (its error's code and message)."""

    provider: ProviderId
    model: str | None = None
    code: ErrorCode
    message: str


class ErrorBody(Response):
    """The body of every error response, stream `error` event and provider `last_error`."""

    code: ErrorCode
    message: str = Field(description="What went wrong, for a person. Never contains a secret.")
    remediation: str = Field(description="What to do about it, as a sentence for a person.")
    action: ErrorAction = Field(
        default=ErrorAction.NONE, description="What to do about it, for a program."
    )
    retryable: bool = Field(description="Whether the same request may succeed if sent again later.")
    provider: ProviderId | None = None
    request_id: str | None = Field(default=None, description="The daemon's id for the request.")
    retry_after_s: float | None = Field(
        default=None, description="Seconds to wait before retrying."
    )
    upstream_status: int | None = Field(default=None, description="The provider's HTTP status.")
    upstream_request_id: str | None = Field(default=None, description="The provider's request id.")
    details: list[ErrorDetail] | None = Field(default=None, description="Per-field problems.")
    passed_over: list[PassedOver] | None = Field(
        default=None,
        description="On a route, every target that failed or could not serve, and why.",
    )
