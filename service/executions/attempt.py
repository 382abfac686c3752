"""One attempt: a single upstream request under the execution's deadlines, with what it tells
provider health, the governor and the usage count. It raises ProviderError on any failure,
timeouts included; whether to try again is the execution's recovery rule, not this module's."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from adapters.base import (
    AdapterEvent,
    Credential,
    EncryptedReasoning,
    Finished,
    ProviderAdapter,
    Redacted,
    Signature,
    UsageSeen,
)
from adapters.upstream_time import WATCH, UpstreamWatch
from contracts.base import ProviderId
from contracts.errors import ProviderError, ProviderUnavailable
from contracts.executions import ExecutionRequest, Usage
from service.executions.accumulator import Accumulator, Delta
from service.executions.failures import breaker_open, timed_out
from service.executions.ports import Deadlines, Ports


class Attempt:
    """Run once with `run()`; then `deadline`, `usage`, `upstream_s` and `first_output` say
    what it took."""

    def __init__(
        self,
        adapter: ProviderAdapter,
        ports: Ports,
        provider: ProviderId,
        request: ExecutionRequest,
        model: str,
        credential: Credential,
        deadlines: Deadlines,
        deadline: float,
        clock: Callable[[], float],
    ) -> None:
        self._adapter = adapter
        self._ports = ports
        self._provider = provider
        self._request = request
        self._model = model
        self._credential = credential
        self._deadlines = deadlines
        self._clock = clock
        self.deadline = deadline  # a clock reading; moved on by the time spent warming up
        self.usage = Usage()
        self.reported = False  # whether the provider reported any token counts
        self.upstream_s = 0.0  # time spent waiting on the provider
        self.first_output: float | None = None  # when the first output arrived
        self.whole = deadlines.whole(request.stream, request.max_tokens)

    async def run(self, accumulator: Accumulator) -> AsyncIterator[Delta | Finished]:
        """The attempt's deltas, then its `Finished`; raises ProviderError on any failure."""
        started = self._clock()
        try:
            await ready_to_send(self._ports, self._provider, self._adapter, self._credential)
        finally:
            # Warming up is the daemon's time, not the provider's: it moves the deadline.
            self.deadline += self._clock() - started
        started = self._clock()
        upstream = UpstreamWatch(self._clock)
        watch = WATCH.set(upstream)
        iterator = self._adapter.stream(
            self._request, self._model, self._credential, whole=self.whole
        )
        finished: Finished | None = None
        try:
            async for event in self._bounded(iterator):
                if isinstance(event, UsageSeen):
                    # Counts so far, not output: the wait for the first token goes on.
                    self.usage = event.usage
                    self.reported = True
                elif isinstance(event, Signature | Redacted | EncryptedReasoning):
                    accumulator.add(event)
                elif isinstance(event, Finished):
                    # Read on to the end of the response (its last bytes follow the final
                    # event): a response closed early cannot return its connection to the pool.
                    finished = event
                else:
                    if self.first_output is None:
                        self.first_output = self._clock()
                    accumulator.add(event)
                    yield event
        except DeadlinePassed as passed:
            waited = self._deadlines.whole_s(self._request.max_tokens)
            error = timed_out(self._provider, self._deadlines, passed.which, waited)
            upstream_failed(self._ports, self._provider, error, self._clock() - started)
            raise error from None
        except ProviderError as error:
            upstream_failed(self._ports, self._provider, error, self._clock() - started)
            raise
        finally:
            await iterator.aclose()
            WATCH.reset(watch)
            self.upstream_s = upstream.waited
            if finished is not None and finished.usage is not None:
                self.usage = finished.usage
                self.reported = True
        if finished is None:
            ended = ProviderUnavailable(
                "The provider stream ended without a result.",
                "Retry the request.",
                provider=self._provider,
            )
            upstream_failed(self._ports, self._provider, ended, None)
            raise ended
        upstream_answered(self._ports, self._provider, self._clock() - started)
        yield finished

    async def _bounded(self, iterator: AsyncIterator[AdapterEvent]) -> AsyncIterator[AdapterEvent]:
        """The adapter's events; raises DeadlinePassed when the deadline that applies while
        waiting for the next one (`first`, or `whole` for an answer asked for whole, then
        `idle`, and `total` throughout) passes."""
        first = True
        deadlines = self._deadlines
        opening = "whole" if self.whole else "first"
        first_step = (
            deadlines.whole_s(self._request.max_tokens) if self.whole else deadlines.first_token_s
        )
        which = opening
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(None) as bound:
                while True:
                    step = first_step if first else deadlines.idle_s
                    limit = min(step, self.deadline - self._clock())
                    which = "total" if limit < step else (opening if first else "idle")
                    if limit <= 0:
                        raise DeadlinePassed("total")
                    # The timer runs only while waiting on upstream, never while the consumer
                    # holds a yielded event: it cancels this task, which is also the consumer's.
                    bound.reschedule(loop.time() + limit)
                    try:
                        event = await anext(iterator)
                    except StopAsyncIteration:
                        return
                    finally:
                        if not bound.expired():
                            bound.reschedule(None)
                    first = first and isinstance(event, UsageSeen)
                    yield event
        except TimeoutError:
            raise DeadlinePassed(which) from None


async def ready_to_send(
    ports: Ports, provider: ProviderId, adapter: ProviderAdapter, credential: Credential
) -> None:
    """Before any upstream request: the breaker must allow it, and the adapter must have what
    `credential` needs (which may import the SDK and read a session). A warm-up failure is
    the daemon's, never counted against the provider."""
    health = ports.health(provider)
    wait = health.allow()
    if wait is not None:
        raise breaker_open(provider, wait, health.open_reason)
    ports.traffic(provider)
    try:
        await adapter.warm(credential)
    except ProviderError:
        health.release()
        raise


def upstream_failed(
    ports: Ports, provider: ProviderId, error: ProviderError, latency_s: float | None
) -> None:
    """What a failed upstream request tells health (and, for a 429, the governor)."""
    ports.health(provider).failure(error, latency_s)
    if error.upstream_status == 429:
        ports.gate(provider).rate_limited(error.retry_after_s)
    ports.traffic(provider)


def upstream_answered(ports: Ports, provider: ProviderId, latency_s: float) -> None:
    """What a successful upstream request tells the governor and health."""
    ports.gate(provider).succeeded()
    ports.health(provider).success(latency_s, explicit=False)
    ports.traffic(provider)


class DeadlinePassed(Exception):
    """The deadline named `which` passed while waiting on the provider."""

    def __init__(self, which: str) -> None:
        super().__init__(which)
        self.which = which
