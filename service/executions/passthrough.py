"""One pass-through request (the provider-compatible routes): the same slot, budget, breaker,
retry and session-to-key rules as an execution, applied before the first byte goes back; then
the upstream answer's bytes pass unchanged while its usage is read for the ledger."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from adapters.passthrough import RelayAnswer, RelayRequest, once
from contracts.base import ProviderId
from contracts.errors import Cancelled, ProviderError
from contracts.executions import ExecutionState
from service.executions.attempt import ready_to_send, upstream_answered, upstream_failed
from service.executions.failures import daemon_bug, timed_out
from service.executions.lifecycle import Binding, Lifecycle

log = logging.getLogger("kata.passthrough")


class PassThrough(Lifecycle):
    """A client's provider request bound to a provider, model and credential. `open()` once,
    then pass the answer's body through `passing()`; `close()` in every case. It adds to the
    lifecycle the request as the client sent it, the answer's bytes, and the upstream's own
    error answer, passed on unchanged when the rules end the request with it."""

    def __init__(
        self,
        bound: Binding,
        route: str,
        upstream: RelayRequest,
        *,
        streamed: bool,
        metadata: dict[str, str],
        billable: bool = True,
    ) -> None:
        super().__init__(bound, metadata=metadata)
        self.path = route
        self.billable = billable
        self._upstream = upstream
        self._streamed = streamed
        self._exits = contextlib.AsyncExitStack()
        self._cancelled = False
        # The last upstream error answer (status, headers, body), passed on unchanged when the
        # rules end the request with that very error.
        self._error_answer: tuple[int, list[tuple[str, str]], bytes] | None = None

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
        if self.billable:  # listings and token counts take no slot
            try:
                async with contextlib.aclosing(self._slot()) as places:
                    async for _ in places:
                        pass  # a pass-through client simply waits
            except ProviderError as refused:
                return self._fail(refused)
        while True:
            self._attempts.count += 1
            try:
                return await self._attempt()
            except ProviderError as error:
                retry = self._recover(error, False)
                if isinstance(retry, ProviderError):
                    self._fail(retry)
                    if retry is error and self._error_answer is not None:
                        status, headers, raw = self._error_answer
                        return RelayAnswer(status, headers, once(raw))
                    return retry
                await self._backoff(retry)
            except Exception as exc:
                log.exception("pass-through failed inside the daemon", extra={"id": self.id})
                return self._fail(daemon_bug(self.provider, self.id, type(exc).__name__))

    async def _attempt(self) -> RelayAnswer:
        await ready_to_send(self.ports, self.provider, self.adapter, self.credential)
        started = self._clock()
        self._error_answer = None
        stack = contextlib.AsyncExitStack()
        # A whole (unstreamed) answer comes only once it is all generated: its headers may take
        # as long as the request may.
        limit = self.deadlines.first_token_s if self._streamed else self.deadlines.total_s
        try:
            async with asyncio.timeout(min(limit, max(0.0, self._time_left()))):
                answer = await stack.enter_async_context(
                    self.adapter.relay(self._upstream, self.credential)
                )
                # A whole answer is read whole here: one that breaks mid-body is a failure
                # before the first byte (retried), not a truncated body sent with a 200.
                whole = answer.status >= 300 or not self._streamed
                raw = await answer.read() if whole else b""
        except TimeoutError:
            await stack.aclose()
            error = timed_out(self.provider, self.deadlines, "first")
            upstream_failed(self.ports, self.provider, error, self._clock() - started)
            raise error from None
        except ProviderError as error:
            await stack.aclose()
            upstream_failed(self.ports, self.provider, error, self._clock() - started)
            raise
        except BaseException:
            await stack.aclose()
            raise
        if answer.status < 300:
            await self._exits.enter_async_context(stack)
            upstream_answered(self.ports, self.provider, self._clock() - started)
            self.ports.key_evidence(self.provider, self.credential, None)
            if not self._streamed:
                return RelayAnswer(answer.status, answer.headers, once(raw))
            return answer
        await stack.aclose()
        refused = self.adapter.relay_error(answer.status, raw, answer.headers, self.credential.mode)
        upstream_failed(self.ports, self.provider, refused, self._clock() - started)
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
        scan = self.adapter.usage_scan(self._streamed, self._upstream.hide_usage_only)
        outcome = ExecutionState.CANCELLED
        try:
            iterator = aiter(answer.body)
            while True:
                try:
                    async with asyncio.timeout(self.deadlines.idle_s):
                        chunk = await anext(iterator)
                except StopAsyncIteration:
                    break
                if self._first_output is None:
                    self._first_output = self._clock()
                if passed := scan.feed(chunk):
                    yield passed
            if tail := scan.end():
                yield tail
            outcome = ExecutionState.SUCCEEDED
        except TimeoutError:
            self.error = timed_out(self.provider, self.deadlines, "idle")
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
            yield self.adapter.error_event(self.error)

    async def close(self) -> None:
        """Release the upstream answer and the slot."""
        await self._exits.aclose()
        self._release()


def _client_left(provider: ProviderId) -> ProviderError:
    return Cancelled("The client closed the connection.", "None needed.", provider=provider)
