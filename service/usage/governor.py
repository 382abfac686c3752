"""The wave governor: at most `max_concurrent` executions per provider upstream at once; the
rest wait first in, first out. A 429 halves the provider's effective limit (never below 1) and
holds new starts until its `retry-after`; each quiet success window gives one back."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import AsyncGenerator, Callable
from datetime import UTC, datetime, timedelta

from contracts.usage import GovernorState

SUCCESS_WINDOW_S = 10.0


class Gate:
    """One provider's admissions; every method runs on the event loop."""

    def __init__(
        self,
        max_concurrent: Callable[[], int],
        on_change: Callable[[], object] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
        window_s: float = SUCCESS_WINDOW_S,
    ) -> None:
        self._max = max_concurrent
        self._on_change = on_change
        self._clock = clock
        self._window_s = window_s
        self._reduced: int | None = None  # the effective limit while below the setting
        self._changed_at = clock()
        self._paused_until = 0.0
        self._resume: asyncio.TimerHandle | None = None
        self.in_flight = 0
        self._waiting: collections.deque[asyncio.Future[None]] = collections.deque()

    @property
    def limit(self) -> int:
        """The effective limit now."""
        ceiling = max(1, self._max())
        return ceiling if self._reduced is None else min(self._reduced, ceiling)

    def try_enter(self) -> bool:
        """Take a slot now if one is free and nobody waits ahead."""
        if self._waiting or not self._open():
            return False
        self.in_flight += 1
        return True

    def enqueue(self) -> tuple[asyncio.Future[None], int]:
        """Join the queue: a future resolved when a slot is this one's, and the position."""
        ticket: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(ticket)
        if len(self._waiting) == 1:
            self._on_change()
        return ticket, len(self._waiting)

    async def queue(self, time_left: Callable[[], float]) -> AsyncGenerator[int, None]:
        """Wait for a slot, first in, first out: yields the place in the queue once, then ends
        when a slot is granted; raises TimeoutError when `time_left()` runs out first. A
        consumer that leaves (cancels, or closes this generator) leaves the queue."""
        ticket, position = self.enqueue()
        try:
            # Inside the try: a consumer that stops at its place (its client left) closes the
            # generator here, and must leave the queue too.
            yield position
            async with asyncio.timeout(max(0.0, time_left())):
                await asyncio.shield(ticket)
        except BaseException:
            self.leave(ticket)
            raise

    def leave(self, ticket: asyncio.Future[None]) -> None:
        """A waiter gave up (its client left, its deadline passed). If the slot had already
        been handed to it, the slot goes back."""
        if ticket.done() and not ticket.cancelled():
            self.release()
            return
        ticket.cancel()
        with contextlib.suppress(ValueError):
            self._waiting.remove(ticket)
        if not self._waiting:
            self._on_change()

    def release(self) -> None:
        """An admitted execution ended: its slot goes to the next in line."""
        self.in_flight = max(0, self.in_flight - 1)
        self._admit()

    def rate_limited(self, retry_after_s: float | None) -> None:
        """The provider answered 429: halve the limit, and hold new starts for its wait."""
        self._reduced = max(1, self.limit // 2)
        self._changed_at = self._clock()
        if retry_after_s:
            self._paused_until = max(self._paused_until, self._clock() + retry_after_s)
            if self._resume is not None:
                self._resume.cancel()
            self._resume = asyncio.get_running_loop().call_later(retry_after_s, self._admit)
        self._on_change()

    def succeeded(self) -> None:
        """A request went through: after a quiet window, the limit grows back by one."""
        if self._reduced is None or self._clock() - self._changed_at < self._window_s:
            return
        self._changed_at = self._clock()
        self._reduced += 1
        if self._reduced >= max(1, self._max()):
            self._reduced = None
        self._admit()
        self._on_change()

    def state(self) -> GovernorState:
        """For the provider's status."""
        pause = self._paused_until - self._clock()
        return GovernorState(
            max_concurrent=self._max(),
            effective_limit=self.limit,
            in_flight=self.in_flight,
            queued=sum(1 for ticket in self._waiting if not ticket.done()),
            paused_until=datetime.now(UTC) + timedelta(seconds=pause) if pause > 0 else None,
        )

    def _open(self) -> bool:
        return self.in_flight < self.limit and self._clock() >= self._paused_until

    def _admit(self) -> None:
        admitted = False
        while self._waiting and self._open():
            ticket = self._waiting.popleft()
            if ticket.done():
                continue
            self.in_flight += 1
            ticket.set_result(None)
            admitted = True
        if admitted and not self._waiting:
            self._on_change()

    def wake(self) -> None:
        """The setting changed: admit whoever now fits."""
        self._admit()
