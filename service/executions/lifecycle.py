"""What every execution shares, whichever route it came by: its id and state, its slot in the
provider's gate, the recovery rule after a failed attempt, its usage and price, and the one
place its outcome is settled. `Execution` (`POST /v1/executions`) and `PassThrough` (the
compatible routes) add only what differs: what an attempt is, and what the caller gets."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from adapters.base import Credential, ProviderAdapter
from contracts.base import AuthMode, ProviderId
from contracts.error_body import PassedOver
from contracts.errors import Cancelled, ProviderError
from contracts.executions import ExecutionState, Usage
from contracts.stream import RetryEvent
from service.executions.ports import Attempts, Deadlines, Ports, new_execution_id
from service.executions.recovery import Recovery
from service.executions.retry import RetryPolicy
from service.executions.slot import take_slot
from service.usage.prices import with_earlier


@dataclass(frozen=True)
class Binding:
    """What the dispatcher bound a request to: its provider, model and credential (and whether
    that credential is already the fallback), the adapter that speaks the provider's wire, and
    the rules it runs under."""

    provider: ProviderId
    model: str
    credential: Credential
    fallback_applied: bool
    adapter: ProviderAdapter
    ports: Ports
    policy: RetryPolicy
    deadlines: Deadlines
    started: float | None = None  # a perf_counter reading: when the request reached the daemon
    clock: Callable[[], float] = time.perf_counter


class Lifecycle:
    """One execution from its slot to its recorded end; the meter reads what it settled."""

    path: str | None = None  # the compatible path it came by; None for /v1/executions

    def __init__(
        self, bound: Binding, *, metadata: dict[str, str], timeout_s: float | None = None
    ) -> None:
        provider, clock, deadlines = bound.provider, bound.clock, bound.deadlines
        self.id = new_execution_id()
        self.route: str | None = None  # the route it takes, if any
        self.passed_over: list[PassedOver] = []  # the route's targets passed over, and why
        self.provider = provider
        self.model = bound.model
        self.credential = bound.credential
        self.adapter = bound.adapter
        self.ports = bound.ports
        self.policy = bound.policy
        self.deadlines = deadlines
        self.metadata = metadata
        self.state = ExecutionState.RUNNING
        self.error: ProviderError | None = None
        self.usage = Usage()  # what every attempt used, priced when it ends
        self.usage_reported = False  # absent, not zero: some endpoints never report counts
        # What the targets a route passed over used, each priced at its own model. The whole
        # execution (one ledger row, one budget) is the serving provider's.
        self.earlier: list[Usage] = []
        self.duration_ms = 0.0  # set when it ends
        self.ended_at: datetime | None = None
        self._clock = clock
        # Counted from the request's arrival at the daemon when the route passed it.
        self._started = bound.started if bound.started is not None else clock()
        self.started_at = datetime.now(UTC) - timedelta(seconds=clock() - self._started)
        self._deadline = self._started + (timeout_s or deadlines.total_s)  # a clock reading
        self._own_deadline = timeout_s is not None
        self._first_output: float | None = None  # a clock reading
        self._attempts = Attempts(fallback_applied=bound.fallback_applied)
        self._recovery = Recovery(
            bound.ports, provider, bound.policy, self._attempts, self.id, clock
        )
        self._admitted = False
        self._task: asyncio.Task[object] | None = None

    @property
    def auth_mode(self) -> AuthMode:
        """The auth mode it runs (or last ran) with."""
        return self.credential.mode

    @property
    def fallback_applied(self) -> bool:
        """Whether it runs (or ran) on the key after its session failed."""
        return self._attempts.fallback_applied

    @property
    def first_token_at(self) -> datetime | None:
        """When the first output reached the daemon."""
        if self._first_output is None:
            return None
        return self.started_at + timedelta(seconds=self._first_output - self._started)

    def _rebind(self, bound: Binding) -> None:
        """Go on with another target (a route's next): its provider, model, credential and
        adapter, its own retries and recovery; the deadline and the count of attempts go on."""
        self._release()
        if self.usage_reported and self.usage.total_tokens:
            self.earlier.append(self.ports.priced(self.model, self.usage))
        self.usage = Usage()
        self.provider = bound.provider
        self.model = bound.model
        self.credential = bound.credential
        self.adapter = bound.adapter
        count = self._attempts.count
        self._attempts = Attempts(count=count, fallback_applied=bound.fallback_applied)
        self._recovery = Recovery(
            bound.ports, bound.provider, bound.policy, self._attempts, self.id, self._clock
        )

    def _time_left(self) -> float:
        return self._deadline - self._clock()

    async def _slot(self) -> AsyncGenerator[int, None]:
        """Take a slot from the provider's gate (the wait counts against the deadline): the
        place in the queue while it waits; raises ProviderError when it is refused."""
        slot = take_slot(
            self.ports.gate(self.provider),
            self.provider,
            self.deadlines,
            self._time_left,
            self._own_deadline,
            self.ports.admit,
        )
        async with contextlib.aclosing(slot) as places:
            async for position in places:
                yield position
        self._admitted = True

    def _release(self) -> None:
        """Give the slot back (once)."""
        if self._admitted:
            self._admitted = False
            self.ports.gate(self.provider).release()

    def _recover(self, error: ProviderError, output_seen: bool) -> RetryEvent | ProviderError:
        """After a failed attempt, the recovery rule's answer: the retry to make (with the
        credential it uses from now on), or the error to end with."""
        retry, self.credential = self._recovery.after(
            error, output_seen, self.credential, self._deadline
        )
        return retry

    async def _backoff(self, retry: RetryEvent) -> None:
        if retry.delay_s:
            await self.policy.sleep(retry.delay_s)

    def _fail(self, error: ProviderError) -> ProviderError:
        """End with `error` (cancelled, or failed)."""
        if error.provider is None:
            error.provider = self.provider
        self.error = error
        self._end(
            ExecutionState.CANCELLED if isinstance(error, Cancelled) else ExecutionState.FAILED
        )
        return error

    def _end(self, state: ExecutionState) -> None:
        """The one place an outcome is settled (once): its state, its end, and what its tokens
        cost (the ledger reads these)."""
        if self.ended_at is not None:
            return
        self.state = state
        self.ended_at = datetime.now(UTC)
        self.duration_ms = round((self._clock() - self._started) * 1000, 3)
        if self.usage_reported:
            self.usage = with_earlier(self.ports.priced(self.model, self.usage), self.earlier)
