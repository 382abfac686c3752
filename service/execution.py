"""One execution: stream it from the adapter under deadlines, retry what may be retried before
any output, fall back from a rejected session to the API key, and end exactly once."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Protocol

from adapters.base import Credential, Finished, ProviderAdapter
from contracts.base import AuthMode, ProviderId
from contracts.errors import ErrorCode, ProviderError
from contracts.executions import (
    DoneEvent,
    ErrorEvent,
    ExecutionRequest,
    ExecutionResult,
    ExecutionState,
    ExecutionStreamEvent,
    RetryEvent,
    StartEvent,
    Timings,
)
from service.accumulator import Accumulator, Delta
from service.health import HealthTracker
from service.retry import RetryPolicy, retryable

log = logging.getLogger("kata.execution")


def new_execution_id() -> str:
    """A unique id for an execution."""
    return f"exe_{uuid.uuid4().hex[:24]}"


@dataclass(frozen=True)
class Deadlines:
    """How long an execution may take: in all, to its first event, and between events."""

    total_s: float = 600.0
    first_token_s: float = 120.0
    idle_s: float = 60.0


class Router(Protocol):
    """What an execution asks of the runtime when things go wrong."""

    def health(self, provider: ProviderId) -> HealthTracker: ...

    def traffic(self, provider: ProviderId) -> None: ...

    def forget_client(self, provider: ProviderId, credential: Credential) -> None: ...

    def session_rejected(self, provider: ProviderId) -> ProviderError: ...

    def key_rejected(self, provider: ProviderId) -> None: ...

    def fallback_credential(self, provider: ProviderId) -> Credential | None: ...


@dataclass
class Attempts:
    """Bookkeeping across attempts."""

    count: int = 0
    retries: int = 0
    reread_session: bool = False
    fallback_applied: bool = False


class Execution:
    """A request bound to a provider, model and credential; iterate `events()` once."""

    def __init__(
        self,
        request: ExecutionRequest,
        provider: ProviderId,
        model: str,
        credential: Credential,
        fallback_applied: bool,
        adapter: ProviderAdapter,
        router: Router,
        policy: RetryPolicy,
        deadlines: Deadlines,
        clock: Callable[[], float] = time.perf_counter,
        started: float | None = None,
    ) -> None:
        self.id = new_execution_id()
        self.request = request
        self.provider = provider
        self.model = model
        self.credential = credential
        self.adapter = adapter
        self.router = router
        self.policy = policy
        self.deadlines = deadlines
        self.state = ExecutionState.RUNNING
        self.error: ProviderError | None = None
        self._clock = clock
        self._attempts = Attempts(fallback_applied=fallback_applied)
        self._task: asyncio.Task[object] | None = None
        self._cancel_requested = False
        self._upstream = 0.0
        self._first_token: float | None = None
        self._started = started

    @property
    def auth_mode(self) -> AuthMode:
        """The auth mode the execution runs (or last ran) with."""
        return self.credential.mode

    def cancel(self) -> bool:
        """Stop the execution; the upstream request is closed. False when it already ended."""
        if self.state is not ExecutionState.RUNNING:
            return False
        self._cancel_requested = True
        if self._task is not None:
            self._task.cancel()
        return True

    async def events(self) -> AsyncIterator[ExecutionStreamEvent]:
        """Start, deltas, retries before output, and exactly one terminal `done` or `error`."""
        self._task = asyncio.current_task()
        # Timings count from the request's arrival at the daemon when the route passed it.
        started = self._started if self._started is not None else self._clock()
        deadline = started + (self.request.timeout_s or self.deadlines.total_s)
        accumulator = Accumulator()
        yield StartEvent(
            id=self.id,
            provider=self.provider,
            model=self.model,
            auth_mode=self.auth_mode,
            fallback_applied=self._attempts.fallback_applied,
        )
        try:
            while True:
                self._attempts.count += 1
                try:
                    finished = None
                    async for event in self._attempt(deadline, accumulator, started):
                        if isinstance(event, Finished):
                            finished = event
                        else:
                            yield event
                    assert finished is not None
                    yield self._done(finished, accumulator, started)
                    return
                except ProviderError as error:
                    retry = await self._recover(error, accumulator, deadline)
                    if retry is None:
                        yield self._fail(error, accumulator)
                        return
                    yield retry
                    if retry.delay_s:
                        await self.policy.sleep(retry.delay_s)
        except asyncio.CancelledError:
            if not self._cancel_requested:
                self.router.health(self.provider).release()
                raise
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            self.router.health(self.provider).release()
            yield self._fail(self._cancelled(), accumulator)

    async def _attempt(
        self, deadline: float, accumulator: Accumulator, started: float
    ) -> AsyncIterator[Delta | Finished]:
        """One upstream request; raises ProviderError on any failure, timeouts included."""
        health = self.router.health(self.provider)
        wait = health.allow()
        if wait is not None:
            raise self._breaker_open(wait)
        self.router.traffic(self.provider)
        # The first use imports the SDK (about a second): not the provider's time to answer.
        await self.adapter.warm(self.credential)
        attempt_started = self._clock()
        iterator = self.adapter.stream(self.request, self.model, self.credential)
        first = True
        which = "first"
        finished: Finished | None = None
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(None) as bound:
                while True:
                    step = self.deadlines.first_token_s if first else self.deadlines.idle_s
                    limit = min(step, deadline - self._clock())
                    which = "total" if limit < step else ("first" if first else "idle")
                    if limit <= 0:
                        raise self._timeout("total")
                    # The timer runs only while waiting on upstream, never while the consumer
                    # holds a yielded event: it cancels this task, which is also the consumer's.
                    bound.reschedule(loop.time() + limit)
                    waited = self._clock()
                    try:
                        event = await anext(iterator)
                    except StopAsyncIteration:
                        break
                    finally:
                        if not bound.expired():
                            bound.reschedule(None)
                        self._upstream += self._clock() - waited
                    first = False
                    if isinstance(event, Finished):
                        # Read on to the end of the response (its last bytes follow the final
                        # event): a response closed early cannot return its connection to the pool.
                        finished = event
                        continue
                    if self._first_token is None:
                        self._first_token = self._clock() - started
                    accumulator.add(event)
                    yield event
        except TimeoutError:
            timed_out = self._timeout(which)
            health.failure(timed_out, self._clock() - attempt_started)
            self.router.traffic(self.provider)
            raise timed_out from None
        except ProviderError as error:
            health.failure(error, self._clock() - attempt_started)
            self.router.traffic(self.provider)
            raise
        finally:
            await iterator.aclose()
        if finished is not None:
            health.success(self._clock() - attempt_started, explicit=False)
            self.router.traffic(self.provider)
            yield finished
            return
        ended = ProviderError(
            ErrorCode.PROVIDER_UNAVAILABLE,
            "The provider stream ended without a result.",
            "Retry the request.",
            provider=self.provider,
        )
        health.failure(ended)
        raise ended

    async def _recover(
        self, error: ProviderError, accumulator: Accumulator, deadline: float
    ) -> RetryEvent | None:
        """What to do about a failed attempt: a retry event, or None to give up."""
        if accumulator.output_seen or error.code is ErrorCode.CANCELLED:
            return None  # never retry once output reached the client: text would repeat
        rejected = error.upstream_status == 401 or (
            error.code in (ErrorCode.INVALID_AUTH, ErrorCode.SESSION_EXPIRED)
            and error.upstream_status == 403
        )
        if rejected and self.credential.mode is AuthMode.TOKEN_SESSION:
            return self._session_rejected(error)
        if rejected:
            self.router.key_rejected(self.provider)
            return None
        if not retryable(error) or self._attempts.retries >= self.policy.max_retries:
            return None
        delay = self.policy.delay(error, self._attempts.retries)
        if self._clock() + delay >= deadline:
            return None
        self._attempts.retries += 1
        log.info(
            "retrying",
            extra={
                "execution_id": self.id,
                "provider": self.provider.value,
                "code": error.code.value,
                "delay_s": round(delay, 3),
                "attempt": self._attempts.count,
            },
        )
        return RetryEvent(attempt=self._attempts.count, delay_s=round(delay, 3), error=error.body())

    def _session_rejected(self, error: ProviderError) -> RetryEvent | None:
        if not self._attempts.reread_session:
            # Re-read the session once (or let the SDK refresh it): it may have been renewed.
            self._attempts.reread_session = True
            self.router.forget_client(self.provider, self.credential)
            return RetryEvent(attempt=self._attempts.count, delay_s=0.0, error=error.body())
        expired = self.router.session_rejected(self.provider)
        fallback = self.router.fallback_credential(self.provider)
        if fallback is None:
            error.code, error.message, error.remediation = (
                ErrorCode.SESSION_EXPIRED,
                expired.message,
                expired.remediation,
            )
            error.status = expired.status
            return None
        self.credential = fallback
        self._attempts.fallback_applied = True
        log.warning(
            "session rejected; continuing on the API key", extra={"provider": self.provider.value}
        )
        return RetryEvent(attempt=self._attempts.count, delay_s=0.0, error=expired.body())

    def _breaker_open(self, wait: float) -> ProviderError:
        return ProviderError(
            ErrorCode.PROVIDER_UNAVAILABLE,
            "The provider failed repeatedly; requests are paused while it recovers.",
            f"Retry after {wait:.0f} s, or check the provider's status page.",
            provider=self.provider,
            retry_after_s=round(wait, 3),
            should_retry=False,
        )

    def _timeout(self, which: str) -> ProviderError:
        text = {
            "first": f"No response from the provider within {self.deadlines.first_token_s:g} s.",
            "idle": f"The provider sent nothing for {self.deadlines.idle_s:g} s mid-stream.",
            "total": "The request's deadline passed.",
        }[which]
        return ProviderError(
            ErrorCode.TIMEOUT,
            text,
            "Retry, or raise timeout_s for long answers.",
            provider=self.provider,
            should_retry=which == "first",
        )

    def _cancelled(self) -> ProviderError:
        return ProviderError(
            ErrorCode.CANCELLED,
            "The execution was cancelled.",
            "Send the request again if needed.",
            provider=self.provider,
        )

    def _done(self, finished: Finished, accumulator: Accumulator, started: float) -> DoneEvent:
        total = self._clock() - started
        self.state = ExecutionState.SUCCEEDED
        return DoneEvent(
            result=ExecutionResult(
                id=self.id,
                provider=self.provider,
                model=finished.model or self.model,
                auth_mode=self.auth_mode,
                fallback_applied=self._attempts.fallback_applied,
                content=accumulator.blocks(finished.signatures),
                stop_reason=finished.stop_reason,
                usage=finished.usage,
                attempts=self._attempts.count,
                upstream_request_id=finished.upstream_request_id,
                timings=Timings(
                    total_ms=round(total * 1000, 3),
                    first_token_ms=None
                    if self._first_token is None
                    else round(self._first_token * 1000, 3),
                    upstream_ms=round(self._upstream * 1000, 3),
                    overhead_ms=round(max(0.0, total - self._upstream) * 1000, 3),
                ),
            )
        )

    def _fail(self, error: ProviderError, accumulator: Accumulator) -> ErrorEvent:
        self.error = error
        self.state = (
            ExecutionState.CANCELLED if error.code is ErrorCode.CANCELLED else ExecutionState.FAILED
        )
        if error.provider is None:
            error.provider = self.provider
        log.info(
            "execution failed",
            extra={
                "execution_id": self.id,
                "provider": self.provider.value,
                "code": error.code.value,
                "attempts": self._attempts.count,
            },
        )
        return ErrorEvent(error=error.body(), partial_content=accumulator.blocks())

    async def result(self) -> ExecutionResult:
        """Run to the end and return the whole result, or raise the error."""
        async for event in self.events():
            if isinstance(event, DoneEvent):
                return event.result
            if isinstance(event, ErrorEvent):
                assert self.error is not None
                raise self.error
        raise AssertionError("an execution always ends with done or error")
