"""The error taxonomy: codes, the one error body, and the HTTP status each code answers with.

Error tree (every error the daemon reports is a `ProviderError`; the class carries the code, the
HTTP status and whether the same request may succeed later):

    ProviderError                          retryable  status
      Unauthorized         unauthorized        no       401  the daemon's own token
      InvalidRequest       invalid_request     no       400  (422 schema; 413/415/421/403 edge)
      ModelNotFound        model_not_found     no       404
      AuthError                                no       424
        MissingAuth        missing_auth                      no credential for the provider
        InvalidAuth        invalid_auth                      the provider rejected the credential
        SessionExpired     session_expired                   expired or rejected session
          SessionFailed                                      the SDK could not produce a token
      RateLimited          rate_limited        yes      429  the user's quota, not ill health
      BudgetExceeded       budget_exceeded     no       429  the user's own daily budget is spent
      Cancelled            cancelled           no       409
      ProviderUnavailable  provider_unavailable yes     503  5xx, overloaded, broken stream
        NetworkUnreachable                                   no connection (DNS, refused)
        BreakerOpen                                          paused while the provider recovers
      Timeout              timeout             yes      504
      UnexpectedError      unexpected_error    no       502

Only ProviderUnavailable and Timeout (not their network or breaker kin) are the provider's fault
and count against its health. A provider's `x-should-retry` overrides the class's verdict.

HTTP 401 is reserved for the daemon's own token; upstream auth problems answer 424 so a client can
never confuse "your daemon token is wrong" with "your Anthropic key is wrong".
"""

from __future__ import annotations

from typing import Any, ClassVar

from contracts.base import ProviderId
from contracts.error_body import ErrorAction, ErrorBody, ErrorCode, ErrorDetail, PassedOver


class ProviderError(Exception):
    """An error in the taxonomy, raised anywhere and rendered once at the HTTP edge.

    The class says what kind of error it is: its code, the HTTP status it answers with and
    whether the same request may succeed later. Build one with its class
    (`RateLimited("...", "...")`) or, where the code is data, with `ProviderError.of(code, ...)`.
    """

    code: ClassVar[ErrorCode] = ErrorCode.UNEXPECTED_ERROR
    default_status: ClassVar[int] = 502
    default_retryable: ClassVar[bool] = False
    # Whether the provider's health should count this failure against it.
    provider_fault: ClassVar[bool] = False
    default_action: ClassVar[ErrorAction] = ErrorAction.NONE

    def __init__(
        self,
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
        action: ErrorAction | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.remediation = remediation
        self.provider = provider
        # One verdict for clients and for the daemon's own retry loop alike. A provider's
        # explicit word (`x-should-retry`) overrides what the class says.
        self.retryable = self.default_retryable if retryable is None else retryable
        self.retry_after_s = retry_after_s
        self.upstream_status = upstream_status
        self.upstream_request_id = upstream_request_id
        self.details = details
        self.status = self.default_status if status is None else status
        self.action = self.default_action if action is None else action

    @staticmethod
    def of(code: ErrorCode, message: str, remediation: str, **kwargs: Any) -> ProviderError:
        """An error of the class that carries `code`."""
        return ERROR_CLASSES[code](message, remediation, **kwargs)

    # On a route: every target that failed or could not serve before this error ended it.
    passed_over: list[PassedOver] | None = None

    def body(self, request_id: str | None = None) -> ErrorBody:
        """The wire form of this error."""
        return ErrorBody(
            code=self.code,
            message=self.message,
            remediation=self.remediation,
            action=self.action,
            retryable=self.retryable,
            provider=self.provider,
            request_id=request_id,
            retry_after_s=self.retry_after_s,
            upstream_status=self.upstream_status,
            upstream_request_id=self.upstream_request_id,
            details=self.details,
            passed_over=self.passed_over,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code.value!r}, message={self.message!r})"


class Unauthorized(ProviderError):
    """The daemon's own token is missing or wrong."""

    code = ErrorCode.UNAUTHORIZED
    default_status = 401


class InvalidRequest(ProviderError):
    """The request cannot be served as sent."""

    default_action = ErrorAction.FIX_REQUEST

    code = ErrorCode.INVALID_REQUEST
    default_status = 400


def bound_reached(message: str, remediation: str, field: str) -> InvalidRequest:
    """A bound on what the daemon keeps has been reached (prices, added providers): 422 naming
    the body field, as any other refused value. The bound is on what is stored, not on one
    request."""
    detail = ErrorDetail(loc=["body", field], msg=message, type="too_long")
    return InvalidRequest(message, remediation, status=422, details=[detail])


class ModelNotFound(ProviderError):
    """The provider does not know the model."""

    default_action = ErrorAction.CHOOSE_MODEL

    code = ErrorCode.MODEL_NOT_FOUND
    default_status = 404


class AuthError(ProviderError):
    """No usable credential for the provider (424: never confused with the daemon's 401)."""

    default_status = 424


class MissingAuth(AuthError):
    """No credential is configured."""

    default_action = ErrorAction.SET_API_KEY

    code = ErrorCode.MISSING_AUTH


class InvalidAuth(AuthError):
    """The provider rejected the credential."""

    default_action = ErrorAction.SET_API_KEY

    code = ErrorCode.INVALID_AUTH


class SessionExpired(AuthError):
    """The token session expired or was rejected, and could not be renewed."""

    default_action = ErrorAction.SIGN_IN

    code = ErrorCode.SESSION_EXPIRED


class SessionFailed(SessionExpired):
    """The SDK's credential provider could not produce a token (unreadable profile, a refresh
    the provider refused). Recovery treats it like a rejected session."""


class RateLimited(ProviderError):
    """The user's quota: retry after a wait; never the provider's ill health."""

    default_action = ErrorAction.WAIT

    code = ErrorCode.RATE_LIMITED
    default_status = 429
    default_retryable = True


class BudgetExceeded(ProviderError):
    """The provider's daily budget (settings) is spent: refused before any upstream call. Not
    retryable until the day turns or the budget is raised."""

    default_action = ErrorAction.RAISE_BUDGET

    code = ErrorCode.BUDGET_EXCEEDED
    default_status = 429


class Cancelled(ProviderError):
    """The execution was cancelled (by the client, or by shutdown)."""

    code = ErrorCode.CANCELLED
    default_status = 409


class ProviderUnavailable(ProviderError):
    """The provider failed: 5xx, overloaded, a broken stream."""

    default_action = ErrorAction.RETRY

    code = ErrorCode.PROVIDER_UNAVAILABLE
    default_status = 503
    default_retryable = True
    provider_fault = True


class NetworkUnreachable(ProviderUnavailable):
    """No connection could be made (DNS, refused, unreachable): the user's network, not the
    provider's health."""

    default_action = ErrorAction.CHECK_NETWORK

    provider_fault = False


class BreakerOpen(ProviderUnavailable):
    """Requests are paused while a failing provider recovers. Retryable by the client after
    `retry_after_s`; the daemon's own loop does not wait that long."""

    default_action = ErrorAction.WAIT

    provider_fault = False


class Timeout(ProviderError):
    """The provider did not answer in time."""

    default_action = ErrorAction.RETRY

    code = ErrorCode.TIMEOUT
    default_status = 504
    default_retryable = True
    provider_fault = True


class UnexpectedError(ProviderError):
    """The provider answered in a way the daemon did not expect, or the daemon failed."""

    default_action = ErrorAction.RETRY

    code = ErrorCode.UNEXPECTED_ERROR
    default_status = 502


ERROR_CLASSES: dict[ErrorCode, type[ProviderError]] = {
    ErrorCode.UNAUTHORIZED: Unauthorized,
    ErrorCode.INVALID_REQUEST: InvalidRequest,
    ErrorCode.MODEL_NOT_FOUND: ModelNotFound,
    ErrorCode.MISSING_AUTH: MissingAuth,
    ErrorCode.INVALID_AUTH: InvalidAuth,
    ErrorCode.SESSION_EXPIRED: SessionExpired,
    ErrorCode.RATE_LIMITED: RateLimited,
    ErrorCode.BUDGET_EXCEEDED: BudgetExceeded,
    ErrorCode.CANCELLED: Cancelled,
    ErrorCode.PROVIDER_UNAVAILABLE: ProviderUnavailable,
    ErrorCode.TIMEOUT: Timeout,
    ErrorCode.UNEXPECTED_ERROR: UnexpectedError,
}
