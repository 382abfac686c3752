"""One execution: route it, stream it from the adapter, accumulate it, time it, end it once."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

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
    StartEvent,
    Timings,
)
from service.accumulator import Accumulator

if TYPE_CHECKING:
    from service.resolver import Resolution

log = logging.getLogger("kata.execution")


def new_execution_id() -> str:
    """A unique, sortable-enough id for an execution."""
    return f"exe_{uuid.uuid4().hex[:24]}"


class Execution:
    """A request bound to a provider, model and credential; iterate `events()` once."""

    def __init__(
        self,
        request: ExecutionRequest,
        provider: ProviderId,
        model: str,
        credential: Credential,
        resolution: Resolution,
        adapter: ProviderAdapter,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.id = new_execution_id()
        self.request = request
        self.provider = provider
        self.model = model
        self.credential = credential
        self.resolution = resolution
        self.adapter = adapter
        self.state = ExecutionState.RUNNING
        self.error: ProviderError | None = None
        self._clock = clock
        self._task: asyncio.Task[object] | None = None
        self._cancel_requested = False

    @property
    def auth_mode(self) -> AuthMode:
        """The auth mode this execution runs with."""
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
        """Start, deltas, and exactly one terminal `done` or `error` event."""
        self._task = asyncio.current_task()
        started = self._clock()
        upstream = 0.0
        first_token: float | None = None
        accumulator = Accumulator()
        yield StartEvent(
            id=self.id,
            provider=self.provider,
            model=self.model,
            auth_mode=self.auth_mode,
            fallback_applied=self.resolution.fallback_applied,
        )
        iterator = self.adapter.stream(self.request, self.model, self.credential)
        finished: Finished | None = None
        try:
            while True:
                waited = self._clock()
                try:
                    event = await anext(iterator)
                except StopAsyncIteration:
                    break
                finally:
                    upstream += self._clock() - waited
                if isinstance(event, Finished):
                    finished = event
                    continue
                if first_token is None:
                    first_token = self._clock() - started
                accumulator.add(event)
                yield event
            if finished is None:
                raise ProviderError(
                    ErrorCode.PROVIDER_UNAVAILABLE,
                    "The provider stream ended without a result.",
                    "Retry the request.",
                    provider=self.provider,
                )
        except asyncio.CancelledError:
            await iterator.aclose()
            if not self._cancel_requested:
                raise
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            yield self._fail(self._cancelled(), accumulator)
            return
        except ProviderError as error:
            await iterator.aclose()
            yield self._fail(error, accumulator)
            return
        total = self._clock() - started
        self.state = ExecutionState.SUCCEEDED
        yield DoneEvent(
            result=ExecutionResult(
                id=self.id,
                provider=self.provider,
                model=finished.model or self.model,
                auth_mode=self.auth_mode,
                fallback_applied=self.resolution.fallback_applied,
                content=accumulator.blocks(finished.signatures),
                stop_reason=finished.stop_reason,
                usage=finished.usage,
                attempts=1,
                upstream_request_id=finished.upstream_request_id,
                timings=Timings(
                    total_ms=round(total * 1000, 3),
                    first_token_ms=None if first_token is None else round(first_token * 1000, 3),
                    upstream_ms=round(upstream * 1000, 3),
                    overhead_ms=round(max(0.0, total - upstream) * 1000, 3),
                ),
            )
        )

    def _cancelled(self) -> ProviderError:
        return ProviderError(
            ErrorCode.CANCELLED,
            "The execution was cancelled.",
            "Send the request again if needed.",
            provider=self.provider,
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
