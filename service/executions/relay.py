"""One pass-through request (the provider-compatible routes): the same slot, budget, breaker,
retry and session-to-key rules as an execution, applied before the first byte goes back; then
the upstream answer's bytes pass unchanged while its usage is read for the ledger."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

from adapters.base import Credential, ProviderAdapter
from adapters.relay import RelayAnswer, RelayRequest, once
from contracts.base import AuthMode, ProviderId
from contracts.errors import Cancelled, ProviderError
from contracts.executions import ExecutionState, Usage
from service.executions.attempt import ready_to_send, upstream_answered, upstream_failed
from service.executions.failures import daemon_bug, timed_out
from service.executions.ports import Attempts, Deadlines, Router, new_execution_id
from service.executions.recovery import Recovery
from service.executions.retry import RetryPolicy
from service.executions.slot import take_slot

log = logging.getLogger("kata.relay")


class Relay:
    """A client's provider request bound to a provider, model and credential. `open()` once,
    then pass the answer's body through `passing()`; `close()` in every case."""

    def __init__(
        self,
        route: str,
        upstream: RelayRequest,
        streamed: bool,
        metadata: dict[str, str],
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
        billable: bool = True,
    ) -> None:
        self.id = new_execution_id()
        self.billable = billable
        self.route = route
        self.metadata = metadata
        self.provider = provider
        self.model = model
        self.credential = credential
        self.state = ExecutionState.RUNNING
        self.error: ProviderError | None = None
        self.usage = Usage()
        self.usage_reported = False  # absent, not zero: some endpoints never report counts
        self.duration_ms = 0.0
        self.ended_at: datetime | None = None
        self._upstream = upstream
        self._streamed = streamed
        self._adapter = adapter
        self._router = router
        self._policy = policy
        self._deadlines = deadlines
        self._clock = clock
        self._started = started if started is not None else clock()
        self.started_at = datetime.now(UTC) - timedelta(seconds=clock() - self._started)
        self._first_byte: float | None = None
        self._attempts = Attempts(fallback_applied=fallback_applied)
        self._recovery = Recovery(router, provider, policy, self._attempts, self.id, clock)
        self._exits = contextlib.AsyncExitStack()
        self._admitted = False
        self._task: asyncio.Task[object] | None = None
        self._cancelled = False
        # The last upstream error answer (status, headers, body), passed on unchanged when the
        # rules end the request with that very error.
        self._error_answer: tuple[int, list[tuple[str, str]], bytes] | None = None

    @property
    def auth_mode(self) -> AuthMode:
        return self.credential.mode

    @property
    def fallback_applied(self) -> bool:
        return self._attempts.fallback_applied

    @property
    def first_token_at(self) -> datetime | None:
        if self._first_byte is None:
            return None
        return self.started_at + timedelta(seconds=self._first_byte - self._started)

    def cancel(self) -> None:
        """The client left before the answer began: stop waiting (slot, retries, upstream)."""
        if self._task is not None and self.ended_at is None:
            self._cancelled = True
            self._task.cancel()

    async def open(self) -> RelayAnswer | ProviderError:
        """Wait for a slot (the wait counts against the deadline), then send the request,
        retrying what may be retried; the answer to pass back (an upstream error answer comes
        back read, to pass on unchanged), or the daemon's own error."""
        self._task = asyncio.current_task()
        try:
            return await self._open()
        except asyncio.CancelledError:
            if not self._cancelled or self._task is None:
                raise
            self._task.uncancel()
            return self._fail(_client_left(self.provider))

    async def _open(self) -> RelayAnswer | ProviderError:
        deadline = self._started + self._deadlines.total_s
        if self.billable:  # listings and token counts take no slot
            slot = take_slot(
                self._router.gate(self.provider),
                self.provider,
                self._deadlines,
                lambda: deadline - self._clock(),
                False,  # a pass-through request has no deadline of its own: the queue bounds it
                self._router.admit,
            )
            try:
                async with contextlib.aclosing(slot) as places:
                    async for _ in places:
                        pass  # a pass-through client simply waits
                self._admitted = True
            except ProviderError as refused:
                return self._fail(refused)
        while True:
            self._attempts.count += 1
            try:
                return await self._attempt(deadline)
            except ProviderError as error:
                retry, self.credential = self._recovery.after(
                    error, False, self.credential, deadline
                )
                if isinstance(retry, ProviderError):
                    self._fail(retry)
                    if retry is error and self._error_answer is not None:
                        status, headers, raw = self._error_answer
                        return RelayAnswer(status, headers, once(raw))
                    return retry
                if retry.delay_s:
                    await self._policy.sleep(retry.delay_s)
            except Exception as exc:
                log.exception("pass-through failed inside the daemon", extra={"id": self.id})
                return self._fail(daemon_bug(self.provider, self.id, type(exc).__name__))

    async def _attempt(self, deadline: float) -> RelayAnswer:
        await ready_to_send(self._router, self.provider, self._adapter, self.credential)
        started = self._clock()
        self._error_answer = None
        stack = contextlib.AsyncExitStack()
        # A whole (unstreamed) answer comes only once it is all generated: its headers may take
        # as long as the request may.
        limit = self._deadlines.first_token_s if self._streamed else self._deadlines.total_s
        try:
            async with asyncio.timeout(min(limit, max(0.0, deadline - self._clock()))):
                answer = await stack.enter_async_context(
                    self._adapter.relay(self._upstream, self.credential)
                )
                # A whole answer is read whole here: one that breaks mid-body is a failure
                # before the first byte (retried), not a truncated body sent with a 200.
                whole = answer.status >= 300 or not self._streamed
                raw = await answer.read() if whole else b""
        except TimeoutError:
            await stack.aclose()
            error = timed_out(self.provider, self._deadlines, "first")
            upstream_failed(self._router, self.provider, error, self._clock() - started)
            raise error from None
        except ProviderError as error:
            await stack.aclose()
            upstream_failed(self._router, self.provider, error, self._clock() - started)
            raise
        except BaseException:
            await stack.aclose()
            raise
        if answer.status < 300:
            await self._exits.enter_async_context(stack)
            upstream_answered(self._router, self.provider, self._clock() - started)
            self._router.key_evidence(self.provider, self.credential, None)
            if not self._streamed:
                return RelayAnswer(answer.status, answer.headers, once(raw))
            return answer
        await stack.aclose()
        refused = self._adapter.relay_error(
            answer.status, raw, answer.headers, self.credential.mode
        )
        upstream_failed(self._router, self.provider, refused, self._clock() - started)
        # A redirect is never passed on: the client would follow it past the daemon, to an
        # origin no one configured. The daemon's own error says where it pointed.
        if answer.status >= 400:
            self._error_answer = (answer.status, answer.headers, self._redacted(raw))
        raise refused

    def _redacted(self, raw: bytes) -> bytes:
        secret = self.credential.api_key
        if secret and secret.encode() in raw:
            raw = raw.replace(secret.encode(), b"[redacted]")
        return raw

    async def passing(self, answer: RelayAnswer) -> AsyncIterator[bytes]:
        """The answer's bytes as they arrive, unchanged; usage is read on the way. The idle
        deadline applies between chunks; a client that leaves closes the upstream request."""
        scan = self._adapter.usage_scan(self._streamed, self._upstream.hide_usage_only)
        outcome = ExecutionState.CANCELLED
        try:
            iterator = aiter(answer.body)
            while True:
                try:
                    async with asyncio.timeout(self._deadlines.idle_s):
                        chunk = await anext(iterator)
                except StopAsyncIteration:
                    break
                if self._first_byte is None:
                    self._first_byte = self._clock()
                if passed := scan.feed(chunk):
                    yield passed
            if tail := scan.end():
                yield tail
            outcome = ExecutionState.SUCCEEDED
        except TimeoutError:
            self.error = timed_out(self.provider, self._deadlines, "idle")
            outcome = ExecutionState.FAILED
        except ProviderError as error:
            self.error = error
            outcome = ExecutionState.FAILED
        finally:
            if self.ended_at is None:  # not an upstream error answer passed on
                self.usage = scan.usage
                self.usage_reported = scan.reported
                self.model = scan.model or self.model
            if outcome is ExecutionState.CANCELLED and self.ended_at is None:
                self.error = _client_left(self.provider)
            self._end(outcome)
        if outcome is ExecutionState.FAILED and self._streamed and self.error is not None:
            # Broken after bytes passed: end with the provider's own mid-stream error event,
            # so the client's SDK raises rather than ending on a stream cut short (found by the
            # chaos run, seed 11: the Anthropic SDK's get_final_message() raised AssertionError).
            yield self._adapter.stream_error(self.error)

    def _fail(self, error: ProviderError) -> ProviderError:
        if error.provider is None:
            error.provider = self.provider
        self.error = error
        self._end(
            ExecutionState.CANCELLED if isinstance(error, Cancelled) else ExecutionState.FAILED
        )
        return error

    def _end(self, state: ExecutionState) -> None:
        if self.ended_at is not None:
            return
        self.state = state
        self.ended_at = datetime.now(UTC)
        self.duration_ms = round((self._clock() - self._started) * 1000, 3)
        if self.usage_reported:
            self.usage = self._router.priced(self.model, self.usage)

    async def close(self) -> None:
        """Release the upstream answer and the slot."""
        await self._exits.aclose()
        if self._admitted:
            self._admitted = False
            self._router.gate(self.provider).release()


def _client_left(provider: ProviderId) -> ProviderError:
    return Cancelled("The client closed the connection.", "None needed.", provider=provider)
