"""The recovery rule: after a failed attempt, retry it, re-read the session, fall back from a
rejected session to the API key, or end with the error. The one place this is decided."""

from __future__ import annotations

import logging
from collections.abc import Callable

from adapters.base import Credential
from contracts.base import AuthMode, ProviderId
from contracts.errors import BreakerOpen, Cancelled, ProviderError, SessionFailed
from contracts.stream import RetryEvent
from service.executions.ports import Attempts, Ports
from service.executions.retry import RetryPolicy

log = logging.getLogger("kata.execution")

Outcome = tuple[RetryEvent | ProviderError, Credential]


class Recovery:
    """One per execution; `attempts` is the execution's own count, shared."""

    def __init__(
        self,
        ports: Ports,
        provider: ProviderId,
        policy: RetryPolicy,
        attempts: Attempts,
        execution_id: str,
        clock: Callable[[], float],
    ) -> None:
        self._ports = ports
        self._provider = provider
        self._policy = policy
        self._attempts = attempts
        self._id = execution_id
        self._clock = clock

    def after(
        self, error: ProviderError, output_seen: bool, credential: Credential, deadline: float
    ) -> Outcome:
        """A retry event (with the credential to retry with) or the error to end with."""
        if output_seen or isinstance(error, Cancelled):
            return error, credential  # never retry once output reached the client: it would repeat
        if credential.mode is AuthMode.TOKEN_SESSION and _session_refused(error):
            return self._session_failed(error, credential)
        if error.upstream_status == 401:
            self._ports.key_evidence(self._provider, credential, error)
            return error, credential
        if not error.retryable or isinstance(error, BreakerOpen):
            return error, credential
        if self._attempts.retries >= self._policy.max_retries:
            return error, credential
        delay = self._policy.delay(error, self._attempts.retries)
        if self._clock() + delay >= deadline:
            return error, credential
        self._attempts.retries += 1
        log.info(
            "retrying",
            extra={
                "execution_id": self._id,
                "provider": self._provider.value,
                "code": error.code.value,
                "delay_s": round(delay, 3),
                "attempt": self._attempts.count,
            },
        )
        retry = RetryEvent(
            attempt=self._attempts.count, delay_s=round(delay, 3), error=error.body()
        )
        return retry, credential

    def _session_failed(self, error: ProviderError, credential: Credential) -> Outcome:
        if not self._attempts.reread_session and not isinstance(error, SessionFailed):
            # A 401: re-read the session once (or let the SDK refresh it), it may be renewed.
            self._attempts.reread_session = True
            self._ports.forget_client(self._provider, credential)
            retry = RetryEvent(attempt=self._attempts.count, delay_s=0.0, error=error.body())
            return retry, credential
        outcome = self._ports.session_failed(self._provider, error)
        if isinstance(outcome, ProviderError):
            return outcome, credential
        credential, fallback = outcome
        self._attempts.fallback_applied = self._attempts.fallback_applied or fallback
        log.warning(
            "session failed; continuing on the API key", extra={"provider": self._provider.value}
        )
        retry = RetryEvent(
            attempt=self._attempts.count,
            delay_s=0.0,
            error=error.body(),
            fallback_applied=self._attempts.fallback_applied,
            auth_mode=credential.mode,
        )
        return retry, credential


def _session_refused(error: ProviderError) -> bool:
    """The provider rejected the session (401) or the SDK could not produce a token."""
    return isinstance(error, SessionFailed) or error.upstream_status == 401
