"""One attempt: a single upstream request under the execution's deadlines, with what it tells
provider health, the governor and the usage count. It raises ProviderError on any failure,
timeouts included; whether to try again is the execution's recovery rule, not this module's."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from adapters.base import (
    AdapterEvent,
    Credential,
    Finished,
    ProviderAdapter,
    Signature,
    UsageSeen,
)
from adapters.upstream_time import WATCH, UpstreamWatch
from contracts.base import ProviderId
from contracts.errors import ProviderError, ProviderUnavailable
from contracts.executions import ExecutionRequest, Usage
from service.executions.accumulator import Accumulator, Delta
from service.executions.failures import breaker_open, timed_out
from service.executions.ports import Deadlines, Router


class Attempt:
    """Run once with `run()`; then `deadline`, `usage`, `upstream_s` and `first_output` say
    what it took."""

    def __init__(
        self,
        adapter: ProviderAdapter,
        router: Router,
        provider: ProviderId,
        request: ExecutionRequest,
        model: str,
        credential: Credential,
        deadlines: Deadlines,
        deadline: float,
        clock: Callable[[], float],
    ) -> None:
        self._adapter = adapter
        self._router = router
        self._provider = provider
        self._request = request
        self._model = model
        self._credential = credential
        self._deadlines = deadlines
        self._clock = clock
        self.deadline = deadline  # a clock reading; moved on by the time spent warming up
        self.usage = Usage()
        self.upstream_s = 0.0  # time spent waiting on the provider
        self.first_output: float | None = None  # when the first output arrived

    async def run(self, accumulator: Accumulator) -> AsyncIterator[Delta | Finished]:
        """The attempt's deltas, then its `Finished`; raises ProviderError on any failure."""
        health = self._router.health(self._provider)
        wait = health.allow()
        if wait is not None:
            raise breaker_open(self._provider, wait, health.open_reason)
        self._router.traffic(self._provider)
        # Building the client may import the SDK (about a second) and read a session: the
        # daemon's time, not the provider's, so it moves the deadline and never counts as a
        # provider failure.
        warm_started = self._clock()
        try:
            await self._adapter.warm(self._credential)
        except ProviderError:
            health.release()
            raise
        finally:
            self.deadline += self._clock() - warm_started
        started = self._clock()
        upstream = UpstreamWatch(self._clock)
        watch = WATCH.set(upstream)
        iterator = self._adapter.stream(self._request, self._model, self._credential)
        finished: Finished | None = None
        try:
            async for event in self._bounded(iterator):
                if isinstance(event, UsageSeen):
                    # Counts so far, not output: the wait for the first token goes on.
                    self.usage = event.usage
                elif isinstance(event, Signature):
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
            error = timed_out(self._provider, self._deadlines, passed.which)
            health.failure(error, self._clock() - started)
            self._router.traffic(self._provider)
            raise error from None
        except ProviderError as error:
            health.failure(error, self._clock() - started)
            if error.upstream_status == 429:
                self._router.gate(self._provider).rate_limited(error.retry_after_s)
            self._router.traffic(self._provider)
            raise
        finally:
            await iterator.aclose()
            WATCH.reset(watch)
            self.upstream_s = upstream.waited
            if finished is not None:
                self.usage = finished.usage
        if finished is None:
            ended = ProviderUnavailable(
                "The provider stream ended without a result.",
                "Retry the request.",
                provider=self._provider,
            )
            health.failure(ended)
            self._router.traffic(self._provider)
            raise ended
        self._router.gate(self._provider).succeeded()
        health.success(self._clock() - started, explicit=False)
        self._router.traffic(self._provider)
        yield finished

    async def _bounded(self, iterator: AsyncIterator[AdapterEvent]) -> AsyncIterator[AdapterEvent]:
        """The adapter's events; raises DeadlinePassed when the deadline that applies while
        waiting for the next one (`first`, `idle` or `total`) passes."""
        first = True
        which = "first"
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(None) as bound:
                while True:
                    step = self._deadlines.first_token_s if first else self._deadlines.idle_s
                    limit = min(step, self.deadline - self._clock())
                    which = "total" if limit < step else ("first" if first else "idle")
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


class DeadlinePassed(Exception):
    """The deadline named `which` passed while waiting on the provider."""

    def __init__(self, which: str) -> None:
        super().__init__(which)
        self.which = which
