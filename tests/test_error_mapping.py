"""Upstream failures to the taxonomy: the shared rules both adapters use."""

from __future__ import annotations

import email.utils
import time

import pytest

from adapters.errors import from_status, retry_after
from adapters.transport_errors import from_transport
from contracts.base import AuthMode, ProviderId
from contracts.error_body import ErrorCode
from contracts.errors import NetworkUnreachable, ProviderUnavailable, Timeout


@pytest.mark.parametrize(
    ("status", "message", "mode", "code"),
    [
        (401, "invalid x-api-key", AuthMode.API_KEY, ErrorCode.INVALID_AUTH),
        (403, "permission denied", AuthMode.API_KEY, ErrorCode.INVALID_AUTH),
        (401, "OAuth token has expired.", AuthMode.TOKEN_SESSION, ErrorCode.SESSION_EXPIRED),
        (
            401,
            "Provided authentication token is expired.",
            AuthMode.TOKEN_SESSION,
            ErrorCode.SESSION_EXPIRED,
        ),
        (401, "revoked", AuthMode.TOKEN_SESSION, ErrorCode.INVALID_AUTH),
        (429, "slow down", AuthMode.API_KEY, ErrorCode.RATE_LIMITED),
        (529, "Overloaded", AuthMode.API_KEY, ErrorCode.PROVIDER_UNAVAILABLE),
        (500, "boom", AuthMode.API_KEY, ErrorCode.PROVIDER_UNAVAILABLE),
        (503, "unavailable", AuthMode.API_KEY, ErrorCode.PROVIDER_UNAVAILABLE),
        (504, "gateway timeout", AuthMode.API_KEY, ErrorCode.TIMEOUT),
        (400, "messages.0: bad shape", AuthMode.API_KEY, ErrorCode.INVALID_REQUEST),
        (404, "model: nope", AuthMode.API_KEY, ErrorCode.MODEL_NOT_FOUND),
        (418, "teapot", AuthMode.API_KEY, ErrorCode.UNEXPECTED_ERROR),
    ],
)
def test_statuses_map_to_codes_with_remediation(
    status: int, message: str, mode: AuthMode, code: ErrorCode
) -> None:
    error = from_status(
        ProviderId.ANTHROPIC,
        status,
        message,
        headers={},
        error_type=None,
        upstream_request_id="req_1",
        mode=mode,
    )
    assert error.code is code
    assert error.remediation
    assert error.upstream_status == status
    assert error.upstream_request_id == "req_1"
    assert error.status != 401


def test_context_overflow_is_named() -> None:
    error = from_status(
        ProviderId.OPENAI,
        400,
        "This model's maximum context length is 128000 tokens",
        headers={},
        error_type="context_length_exceeded",
        upstream_request_id=None,
        mode=AuthMode.API_KEY,
    )
    assert error.code is ErrorCode.INVALID_REQUEST
    assert "context window" in error.message


def test_model_not_found_code_on_a_400() -> None:
    error = from_status(
        ProviderId.OPENAI,
        400,
        "The model does not exist",
        headers={},
        error_type="model_not_found",
        upstream_request_id=None,
        mode=AuthMode.API_KEY,
    )
    assert error.code is ErrorCode.MODEL_NOT_FOUND


def test_retry_after_forms() -> None:
    assert retry_after({"retry-after-ms": "250"}) == 0.25
    assert retry_after({"retry-after": "7"}) == 7.0
    assert retry_after({"retry-after-ms": "nonsense", "retry-after": "2.5"}) == 2.5
    future = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 28 <= (retry_after({"retry-after": future}) or 0) <= 31
    assert retry_after({"retry-after": "tomorrow-ish"}) is None
    assert retry_after({}) is None


def test_rate_limit_wait_is_capped_at_sixty_seconds() -> None:
    error = from_status(
        ProviderId.ANTHROPIC,
        429,
        "x",
        headers={"retry-after": "600"},
        error_type=None,
        upstream_request_id=None,
        mode=AuthMode.API_KEY,
    )
    assert error.retry_after_s == 60.0


def test_transport_failures_tell_the_network_from_the_provider() -> None:
    import httpx2

    slow = from_transport(ProviderId.OPENAI, httpx2.ReadTimeout("read timeout"), "api.openai.com")
    assert isinstance(slow, Timeout)
    assert slow.provider_fault
    for cause, reason in (
        (httpx2.ConnectError("[Errno -2] Name or service not known"), "DNS"),
        (httpx2.ConnectError("[Errno 111] Connection refused"), "refused"),
        (httpx2.ConnectError("[Errno 101] Network is unreachable"), "unreachable"),
        (httpx2.ConnectTimeout("timed out"), "timed out"),
    ):
        error = from_transport(ProviderId.OPENAI, cause, "api.openai.com")
        assert isinstance(error, NetworkUnreachable)
        assert not error.provider_fault
        assert error.retryable
        assert "api.openai.com" in error.message
        assert reason in error.message
        assert "network" in error.remediation
    broken = from_transport(ProviderId.ANTHROPIC, httpx2.RemoteProtocolError("peer closed"), None)
    assert type(broken) is ProviderUnavailable
    assert broken.provider_fault


def test_a_403_is_a_permission_problem_not_a_rejected_key() -> None:
    error = from_status(
        ProviderId.ANTHROPIC,
        403,
        "permission denied",
        headers={},
        error_type="permission_error",
        upstream_request_id=None,
        mode=AuthMode.API_KEY,
    )
    assert error.code is ErrorCode.INVALID_AUTH
    assert "permission" in error.remediation


@pytest.mark.parametrize(
    ("location", "said"),
    [
        (
            "https://cdn.example.com/v1/chat?sig=s3cr3t-signature&token=t0k3n",
            "https://cdn.example.com",
        ),
        ("https://user:pw@other.example.com:8443/x", "https://other.example.com:8443"),
        ("/v2/chat/completions?token=t0k3n", "another path on the same server"),
    ],
)
def test_a_redirect_is_refused_saying_only_where_it_points(location: str, said: str) -> None:
    error = from_status(
        ProviderId("gateway"),
        307,
        "",
        headers={"location": location},
        error_type=None,
        upstream_request_id=None,
        mode=AuthMode.API_KEY,
    )
    assert error.code is ErrorCode.INVALID_REQUEST
    assert said in error.message
    assert "does not follow redirects" in error.message
    for secret in ("s3cr3t", "t0k3n", "pw@", "user:"):
        assert secret not in error.message
