"""One `POST /v1/executions` request: stream it from the adapter under deadlines, retry what may
be retried before any output, fall back from a rejected session to the API key, and end with
exactly one terminal event (the lifecycle it shares with pass-through is `lifecycle.py`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator

from pydantic import JsonValue

from adapters.base import Finished
from contracts.error_body import PassedOver
from contracts.errors import ProviderError
from contracts.executions import ExecutionRequest, ExecutionResult, ExecutionState, Timings
from contracts.options import JsonSchemaFormat
from contracts.routes import RouteTarget
from contracts.stream import (
    DoneEvent,
    ErrorEvent,
    ExecutionStreamEvent,
    FallbackEvent,
    QueuedEvent,
    StartEvent,
)
from service.executions.accumulator import Accumulator, Delta
from service.executions.attempt import Attempt
from service.executions.failures import cancelled, daemon_bug
from service.executions.fall_through import moves_on
from service.executions.lifecycle import Binding, Lifecycle
from service.executions.structured import parsed
from service.executions.targets import RouteTargets, passed_over
from service.usage.prices import plus

log = logging.getLogger("kata.execution")


class Execution(Lifecycle):
    """A `POST /v1/executions` request bound to a provider, model and credential; iterate
    `events()` once. It adds to the lifecycle the request, its stream of events (exactly one
    terminal), and its timings."""

    def __init__(
        self, request: ExecutionRequest, bound: Binding, targets: RouteTargets | None = None
    ) -> None:
        super().__init__(bound, metadata=request.metadata, timeout_s=request.timeout_s)
        self.request = request
        self.targets = targets  # a route's targets not yet tried; None without a route
        self._failure: ProviderError | None = None
        self._stop_reason: ProviderError | None = None
        self._upstream = 0.0

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
        accumulator = Accumulator(self.provider)
        if self._stop_reason is not None:  # cancelled before it started (shutdown, cancel)
            yield self._error(self._stop_reason, accumulator)
            return
        try:
            async with contextlib.aclosing(self._run(accumulator)) as run:
                async for event in run:
                    yield event
                    if isinstance(event, DoneEvent | ErrorEvent):
                        return
            yield self._error(self._bug("ended without an outcome"), accumulator)
        except asyncio.CancelledError:
            self.ports.health(self.provider).release()
            if self._stop_reason is None:
                # The caller went away: nobody is left to tell, but the ledger records it.
                self._end(ExecutionState.CANCELLED)
                raise
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            yield self._error(self._stop_reason, accumulator)
        except Exception as exc:
            log.exception("execution failed inside the daemon", extra={"execution_id": self.id})
            yield self._error(self._bug(type(exc).__name__), accumulator)
        finally:
            self._release()

    async def _run(self, accumulator: Accumulator) -> AsyncGenerator[ExecutionStreamEvent, None]:
        for passed in self.passed_over:  # targets the route passed over before this one
            yield self._fallback(passed)
        announced = False
        while True:
            self._failure = None
            async for event in self._serve(accumulator, announce=not announced):
                yield event
                if isinstance(event, DoneEvent | ErrorEvent):
                    return
            announced = True
            failure = self._failure
            assert failure is not None
            onward = self._onward(failure, accumulator)
            if onward is None:
                yield self._error(failure, accumulator)
                return
            yield onward

    async def _serve(
        self, accumulator: Accumulator, announce: bool
    ) -> AsyncGenerator[ExecutionStreamEvent, None]:
        """The current target: its slot, attempts and recovery. Ends with `done`, or with the
        failure left in `_failure` (the route may go on)."""
        gate = self.ports.gate(self.provider)
        try:
            async with contextlib.aclosing(self._slot()) as places:
                async for position in places:
                    yield QueuedEvent(
                        id=self.id, provider=self.provider, position=position, limit=gate.limit
                    )
        except ProviderError as refused:
            self._failure = refused
            return
        if announce:
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
                async for event in self._attempt(accumulator):
                    if isinstance(event, Finished):
                        finished = event
                    else:
                        yield event
                assert finished is not None
                self.ports.key_evidence(self.provider, self.credential, None)
                yield self._done(finished, accumulator)
                return
            except ProviderError as error:
                retry = self._recover(error, accumulator.output_seen)
                if isinstance(retry, ProviderError):
                    self._failure = retry
                    return
                yield retry
                await self._backoff(retry)

    def _onward(self, failure: ProviderError, accumulator: Accumulator) -> FallbackEvent | None:
        """The route's next target after `failure`, as the event that says so; None when the
        request ends with `failure` (no route, the rule says it does not move on, or no target
        is left: then the failure lists every target passed over)."""
        if self.targets is None:
            return None
        # A whole request's caller has seen nothing yet, whatever the target streamed to us.
        if not moves_on(failure, accumulator.output_seen and self.request.stream):
            return None
        self.passed_over.append(
            passed_over(RouteTarget(provider=self.provider, model=self.model), failure)
        )
        nxt = self.targets.next(self.passed_over)
        if nxt is None:
            failure.passed_over = list(self.passed_over)
            return None
        bound, self.request = nxt
        self._rebind(bound)
        accumulator.reset(self.provider)
        return self._fallback(self.passed_over[-1])

    def _fallback(self, passed: PassedOver) -> FallbackEvent:
        return FallbackEvent(
            id=self.id, passed_over=passed, provider=self.provider, model=self.model
        )

    async def _attempt(self, accumulator: Accumulator) -> AsyncIterator[Delta | Finished]:
        """One upstream request (see `Attempt`); what it took is added to the execution's."""
        attempt = Attempt(
            self.adapter,
            self.ports,
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
            if self._first_output is None:
                self._first_output = attempt.first_output

    def _bug(self, what: str) -> ProviderError:
        return daemon_bug(self.provider, self.id, what)

    def _done(self, finished: Finished, accumulator: Accumulator) -> DoneEvent | ErrorEvent:
        self.model = finished.model or self.model
        accumulator.model = self.model
        content = accumulator.blocks()
        answer: JsonValue | None = None
        if isinstance(self.request.response_format, JsonSchemaFormat):
            outcome = parsed(self.request, content, finished.stop_reason, self.provider)
            if isinstance(outcome, ProviderError):
                return self._error(outcome, accumulator)
            answer = outcome
        self._end(ExecutionState.SUCCEEDED)
        total_ms = self.duration_ms
        first = self._first_output
        return DoneEvent(
            result=ExecutionResult(
                id=self.id,
                provider=self.provider,
                model=self.model,
                auth_mode=self.auth_mode,
                fallback_applied=self._attempts.fallback_applied,
                content=content,
                stop_reason=finished.stop_reason,
                usage=self.usage if self.usage_reported else None,
                attempts=self._attempts.count,
                upstream_request_id=finished.upstream_request_id,
                parsed=answer,
                route=self.route,
                fallbacks=list(self.passed_over),
                timings=Timings(
                    total_ms=total_ms,
                    first_token_ms=None
                    if first is None
                    else round((first - self._started) * 1000, 3),
                    upstream_ms=round(self._upstream * 1000, 3),
                    overhead_ms=round(max(0.0, total_ms - self._upstream * 1000), 3),
                ),
            )
        )

    def _error(self, error: ProviderError, accumulator: Accumulator) -> ErrorEvent:
        """End with `error`: the terminal event, with what was streamed before it."""
        self._fail(error)
        accumulator.model = self.model
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
