"""One execution: stream it from the adapter under deadlines, retry what may be retried before
any output, fall back from a rejected session to the API key, and end exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

from adapters.base import Credential, Finished, ProviderAdapter, Signature, UsageSeen
from adapters.specs import NAMES
from adapters.upstream_time import WATCH, UpstreamWatch
from contracts.base import AuthMode, ProviderId
from contracts.errors import (
    BreakerOpen,
    Cancelled,
    ProviderError,
    ProviderUnavailable,
    SessionFailed,
    Timeout,
    UnexpectedError,
)
from contracts.executions import ExecutionRequest, ExecutionResult, ExecutionState, Timings, Usage
from contracts.stream import (
    DoneEvent,
    ErrorEvent,
    ExecutionStreamEvent,
    QueuedEvent,
    RetryEvent,
    StartEvent,
)
from service.executions.accumulator import Accumulator, Delta
from service.executions.ports import Attempts, Deadlines, Router, new_execution_id
from service.executions.retry import RetryPolicy
from service.usage.governor import Gate
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
        self._attempt_usage = Usage()
        self._admitted = False

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
        self._stop_reason = reason or self._cancelled()
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
            yield self._fail(self._bug("ended without an outcome"), accumulator)
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
        if gate.try_enter():
            self._admitted = True
        else:
            async for queued in self._queue(gate):
                yield queued
                if isinstance(queued, ErrorEvent):
                    return
            try:  # the budget may have been spent by those ahead in the queue
                self.router.admit(self.provider)
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
                retry = self._recover(error, accumulator)
                if isinstance(retry, ProviderError):
                    yield self._fail(retry, accumulator)
                    return
                yield retry
                if retry.delay_s:
                    await self.policy.sleep(retry.delay_s)

    async def _queue(self, gate: Gate) -> AsyncIterator[QueuedEvent | ErrorEvent]:
        """Wait for a slot, first in, first out; the wait counts against the deadline. A client
        that leaves (cancels this task) leaves the queue."""
        ticket, position = gate.enqueue()
        try:
            # Inside the try: a consumer that stops at this event (its client left) closes
            # the generator here, and must leave the queue too.
            yield QueuedEvent(
                id=self.id, provider=self.provider, position=position, limit=gate.limit
            )
            async with asyncio.timeout(max(0.0, self._deadline - self._clock())):
                await asyncio.shield(ticket)
        except TimeoutError:
            gate.leave(ticket)
            yield self._fail(self._timeout("queued"), Accumulator())
            return
        except BaseException:
            gate.leave(ticket)
            raise
        self._admitted = True

    async def _attempt(
        self, accumulator: Accumulator, started: float
    ) -> AsyncIterator[Delta | Finished]:
        """One upstream request; raises ProviderError on any failure, timeouts included."""
        health = self.router.health(self.provider)
        wait = health.allow()
        if wait is not None:
            raise self._breaker_open(wait, health.open_reason)
        self.router.traffic(self.provider)
        # Building the client may import the SDK (about a second) and read a session: the
        # daemon's time, not the provider's, so it moves the deadline and never counts as a
        # provider failure.
        warm_started = self._clock()
        try:
            await self.adapter.warm(self.credential)
        except ProviderError:
            health.release()
            raise
        finally:
            self._deadline += self._clock() - warm_started
        deadline = self._deadline
        attempt_started = self._clock()
        self._attempt_usage = Usage()
        upstream = UpstreamWatch(self._clock)
        watch = WATCH.set(upstream)
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
                    try:
                        event = await anext(iterator)
                    except StopAsyncIteration:
                        break
                    finally:
                        if not bound.expired():
                            bound.reschedule(None)
                    if isinstance(event, UsageSeen):
                        # Counts so far, not output: the wait for the first token goes on.
                        self._attempt_usage = event.usage
                        continue
                    first = False
                    if isinstance(event, Signature):
                        accumulator.add(event)
                        continue
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
            if error.upstream_status == 429:
                self.router.gate(self.provider).rate_limited(error.retry_after_s)
            self.router.traffic(self.provider)
            raise
        finally:
            await iterator.aclose()
            WATCH.reset(watch)
            self._upstream += upstream.waited
            if finished is not None:
                self._attempt_usage = finished.usage
            self.usage = plus(self.usage, self._attempt_usage)
        if finished is not None:
            self.router.gate(self.provider).succeeded()
            health.success(self._clock() - attempt_started, explicit=False)
            self.router.traffic(self.provider)
            yield finished
            return
        ended = ProviderUnavailable(
            "The provider stream ended without a result.",
            "Retry the request.",
            provider=self.provider,
        )
        health.failure(ended)
        self.router.traffic(self.provider)
        raise ended

    def _recover(
        self, error: ProviderError, accumulator: Accumulator
    ) -> RetryEvent | ProviderError:
        """What to do about a failed attempt: a retry event, or the error to end with."""
        if accumulator.output_seen or isinstance(error, Cancelled):
            return error  # never retry once output reached the client: text would repeat
        if self.credential.mode is AuthMode.TOKEN_SESSION and _session_refused(error):
            return self._session_failed(error)
        if error.upstream_status == 401:
            self.router.key_evidence(self.provider, self.credential, error)
            return error
        if not error.retryable or isinstance(error, BreakerOpen):
            return error
        if self._attempts.retries >= self.policy.max_retries:
            return error
        delay = self.policy.delay(error, self._attempts.retries)
        if self._clock() + delay >= self._deadline:
            return error
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

    def _session_failed(self, error: ProviderError) -> RetryEvent | ProviderError:
        if not self._attempts.reread_session and not isinstance(error, SessionFailed):
            # A 401: re-read the session once (or let the SDK refresh it), it may be renewed.
            self._attempts.reread_session = True
            self.router.forget_client(self.provider, self.credential)
            return RetryEvent(attempt=self._attempts.count, delay_s=0.0, error=error.body())
        outcome = self.router.session_failed(self.provider, error)
        if isinstance(outcome, ProviderError):
            return outcome
        self.credential, fallback = outcome
        self._attempts.fallback_applied = self._attempts.fallback_applied or fallback
        log.warning(
            "session failed; continuing on the API key", extra={"provider": self.provider.value}
        )
        return RetryEvent(
            attempt=self._attempts.count,
            delay_s=0.0,
            error=error.body(),
            fallback_applied=self._attempts.fallback_applied,
            auth_mode=self.credential.mode,
        )

    def _breaker_open(self, wait: float, reason: str | None) -> ProviderError:
        name = NAMES[self.provider]
        until = (datetime.now(UTC) + timedelta(seconds=wait)).strftime("%H:%M:%SZ")
        why = f" (last: {reason})" if reason else ""
        return BreakerOpen(
            f"{name} failed repeatedly{why}; requests are paused until {until}.",
            f"Wait {wait:.0f} s and retry, or check {name}'s status page.",
            provider=self.provider,
            retry_after_s=round(wait, 3),
        )

    def _bug(self, what: str) -> ProviderError:
        return UnexpectedError(
            f"The daemon failed while running this request ({what}); the details are in its log.",
            f"Retry; if it persists, report the daemon log lines for execution {self.id}.",
            provider=self.provider,
            status=500,
        )

    def _timeout(self, which: str) -> ProviderError:
        text = {
            "first": f"No response from the provider within {self.deadlines.first_token_s:g} s.",
            "idle": f"The provider sent nothing for {self.deadlines.idle_s:g} s mid-stream.",
            "total": "The request's deadline (timeout_s) passed.",
            "queued": "The request's deadline (timeout_s) passed while it waited for a slot "
            f"({NAMES[self.provider]} already runs its limit of concurrent executions).",
        }[which]
        return Timeout(
            text,
            "Retry, or raise timeout_s for long answers.",
            provider=self.provider,
            retryable=which in ("first", "queued"),
        )

    def _cancelled(self) -> ProviderError:
        return Cancelled(
            "The execution was cancelled.",
            "Send the request again if needed.",
            provider=self.provider,
        )

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
                usage=self.usage,
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


def _session_refused(error: ProviderError) -> bool:
    """The provider rejected the session (401) or the SDK could not produce a token."""
    return isinstance(error, SessionFailed) or error.upstream_status == 401
