"""One execution: stream it from the adapter under deadlines, retry what may be retried before
any output, fall back from a rejected session to the API key, and end exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

from adapters.base import Credential, Finished, ProviderAdapter
from contracts.base import AuthMode, ProviderId
from contracts.errors import Cancelled, ProviderError
from contracts.executions import ExecutionRequest, ExecutionResult, ExecutionState, Timings, Usage
from contracts.stream import DoneEvent, ErrorEvent, ExecutionStreamEvent, QueuedEvent, StartEvent
from service.executions.accumulator import Accumulator, Delta
from service.executions.attempt import Attempt
from service.executions.failures import cancelled, daemon_bug
from service.executions.ports import Attempts, Deadlines, Router, new_execution_id
from service.executions.recovery import Recovery
from service.executions.retry import RetryPolicy
from service.executions.slot import take_slot
from service.usage.prices import plus

log = logging.getLogger("kata.execution")


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
        self._recovery = Recovery(router, provider, policy, self._attempts, self.id, clock)
        self._task: asyncio.Task[object] | None = None
        self._stop_reason: ProviderError | None = None
        self._deadline = 0.0
        self.duration_ms: float = 0.0  # set when it ends
        self._upstream = 0.0
        self._first_token: float | None = None
        self._started = started
        self.started_at = datetime.now(UTC)  # wall clock, for the ledger; reset in _run
        self.ended_at: datetime | None = None
        self.usage = Usage()  # what every attempt used, priced when the execution ends
        self.usage_reported = False  # absent, not zero: some endpoints never report counts
        self._admitted = False

    route: str | None = None  # it came by /v1/executions

    @property
    def metadata(self) -> dict[str, str]:
        """The caller's tags."""
        return self.request.metadata

    @property
    def fallback_applied(self) -> bool:
        """Whether the execution runs (or ran) on the key after its session failed."""
        return self._attempts.fallback_applied

    @property
    def first_token_at(self) -> datetime | None:
        """When the first output reached the daemon."""
        if self._first_token is None:
            return None
        return self.started_at + timedelta(seconds=self._first_token)

    @property
    def auth_mode(self) -> AuthMode:
        """The auth mode the execution runs (or last ran) with."""
        return self.credential.mode

    def cancel(self, reason: ProviderError | None = None) -> bool:
        """Stop the execution; the upstream request is closed and the caller gets `reason`
        (default: cancelled by request) as the terminal error. False when it already ended."""
        if self.state is not ExecutionState.RUNNING:
            return False
        self._stop_reason = reason or cancelled(self.provider)
        if self._task is not None:
            self._task.cancel()
        return True

    async def events(self) -> AsyncIterator[ExecutionStreamEvent]:
        """Start, deltas, retries before output, and exactly one terminal `done` or `error`.

        This is the one place that guarantees the terminal event: whatever any layer raises
        (SDK, credential provider, translation, our own bugs, cancellation, shutdown) ends as
        one `error` event carrying the partial content; nothing follows a terminal event."""
        self._task = asyncio.current_task()
        accumulator = Accumulator()
        if self._stop_reason is not None:  # cancelled before it started (shutdown, cancel)
            yield self._fail(self._stop_reason, accumulator)
            return
        try:
            async with contextlib.aclosing(self._run(accumulator)) as run:
                async for event in run:
                    yield event
                    if isinstance(event, DoneEvent | ErrorEvent):
                        return
            yield self._fail(
                daemon_bug(self.provider, self.id, "ended without an outcome"), accumulator
            )
        except asyncio.CancelledError:
            self.router.health(self.provider).release()
            if self._stop_reason is None:
                # The caller went away: nobody is left to tell, but the ledger records it.
                self._end(ExecutionState.CANCELLED)
                raise
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            yield self._fail(self._stop_reason, accumulator)
        except Exception as exc:
            log.exception("execution failed inside the daemon", extra={"execution_id": self.id})
            yield self._fail(self._bug(type(exc).__name__), accumulator)
        finally:
            if self._admitted:
                self._admitted = False
                self.router.gate(self.provider).release()

    async def _run(self, accumulator: Accumulator) -> AsyncGenerator[ExecutionStreamEvent, None]:
        # Timings count from the request's arrival at the daemon when the route passed it.
        started = self._started if self._started is not None else self._clock()
        self.started_at = datetime.now(UTC) - timedelta(seconds=self._clock() - started)
        self._deadline = started + (self.request.timeout_s or self.deadlines.total_s)
        gate = self.router.gate(self.provider)
        own_deadline = self.request.timeout_s is not None
        slot = take_slot(
            gate, self.provider, self.deadlines, self._time_left, own_deadline, self.router.admit
        )
        try:
            async with contextlib.aclosing(slot) as places:
                async for position in places:
                    yield QueuedEvent(
                        id=self.id, provider=self.provider, position=position, limit=gate.limit
                    )
            self._admitted = True
        except ProviderError as refused:
            yield self._fail(refused, Accumulator())
            return
        yield StartEvent(
            id=self.id,
            provider=self.provider,
            model=self.model,
            auth_mode=self.auth_mode,
            fallback_applied=self._attempts.fallback_applied,
        )
        while True:
            self._attempts.count += 1
            try:
                finished = None
                async for event in self._attempt(accumulator, started):
                    if isinstance(event, Finished):
                        finished = event
                    else:
                        yield event
                assert finished is not None
                self.router.key_evidence(self.provider, self.credential, None)
                yield self._done(finished, accumulator, started)
                return
            except ProviderError as error:
                retry, self.credential = self._recovery.after(
                    error, accumulator.output_seen, self.credential, self._deadline
                )
                if isinstance(retry, ProviderError):
                    yield self._fail(retry, accumulator)
                    return
                yield retry
                if retry.delay_s:
                    await self.policy.sleep(retry.delay_s)

    def _time_left(self) -> float:
        return self._deadline - self._clock()

    async def _attempt(
        self, accumulator: Accumulator, started: float
    ) -> AsyncIterator[Delta | Finished]:
        """One upstream request (see `Attempt`); what it took is added to the execution's."""
        attempt = Attempt(
            self.adapter,
            self.router,
            self.provider,
            self.request,
            self.model,
            self.credential,
            self.deadlines,
            self._deadline,
            self._clock,
        )
        try:
            async for event in attempt.run(accumulator):
                yield event
        finally:
            self._deadline = attempt.deadline
            self._upstream += attempt.upstream_s
            self.usage = plus(self.usage, attempt.usage)
            self.usage_reported = self.usage_reported or attempt.reported
            if self._first_token is None and attempt.first_output is not None:
                self._first_token = attempt.first_output - started

    def _bug(self, what: str) -> ProviderError:
        return daemon_bug(self.provider, self.id, what)

    def _done(self, finished: Finished, accumulator: Accumulator, started: float) -> DoneEvent:
        total = self._clock() - started
        self.duration_ms = round(total * 1000, 3)
        self.model = finished.model or self.model
        self._end(ExecutionState.SUCCEEDED)
        return DoneEvent(
            result=ExecutionResult(
                id=self.id,
                provider=self.provider,
                model=self.model,
                auth_mode=self.auth_mode,
                fallback_applied=self._attempts.fallback_applied,
                content=accumulator.blocks(),
                stop_reason=finished.stop_reason,
                usage=self.usage if self.usage_reported else None,
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

    def _end(self, state: ExecutionState) -> None:
        """The one place an execution's outcome is settled: its state, its end, and what its
        tokens cost (the ledger reads these)."""
        self.state = state
        self.ended_at = datetime.now(UTC)
        if self.usage_reported:
            self.usage = self.router.priced(self.model, self.usage)

    def _fail(self, error: ProviderError, accumulator: Accumulator) -> ErrorEvent:
        self.error = error
        if self._started is not None:
            self.duration_ms = round((self._clock() - self._started) * 1000, 3)
        self._end(
            ExecutionState.CANCELLED if isinstance(error, Cancelled) else ExecutionState.FAILED
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
        return ErrorEvent(
            error=error.body(),
            partial_content=accumulator.blocks(),
            usage=self.usage if self.usage.total_tokens else None,
        )

    async def result(self) -> ExecutionResult:
        """Run to the end and return the whole result, or raise the error."""
        async for event in self.events():
            if isinstance(event, DoneEvent):
                return event.result
            if isinstance(event, ErrorEvent):
                assert self.error is not None
                raise self.error
        raise AssertionError("events() always ends with done or error")
