"""The wave governor: at most `max_concurrent` executions per provider upstream at once; the
rest wait first in, first out.

The rule, stated once (`_pump`): after every change (a slot taken or given back, a waiter gone,
a 429, a setting, a timer) the gate admits waiters while a slot is free and no pause holds, and
if any still wait on something only time changes (a pause's end, the limit growing back) it arms
one timer for that moment. A timer that fires early (uvloop's do, by up to a millisecond) finds
the pause still on and arms again. So a waiter is never left with capacity free and nobody to
wake it.

Recovery, as TCP's congestion control does it: a 429 halves the effective limit (never below
1; the 429s of one wave, within `CUT_GUARD_S` of the last cut, count once) and holds new starts
until its `retry-after`. While the limit is cut, each round of `limit` successes adds one, so a
steady trickle of 429s holds the limit near what the provider allows rather than at 1; and each
`RECOVERY_WINDOW_S` without a 429 doubles what the cut left, whether or not requests arrive:
from 1 of 8 back to 8 in three quiet windows (15 s) at most. Both stop at the setting.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import AsyncGenerator, Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from contracts.usage import GovernorState

RECOVERY_WINDOW_S = 5.0
CUT_GUARD_S = 1.0
# Timers are armed a little late on purpose: one that fires early costs a second timer.
TIMER_SLACK_S = 0.002


class Timer(Protocol):
    """What arming a timer returns (an asyncio.TimerHandle, or a test's)."""

    def cancel(self) -> None: ...


class Gate:
    """One provider's admissions; every method runs on the event loop."""

    def __init__(
        self,
        max_concurrent: Callable[[], int],
        on_change: Callable[[], object] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
        window_s: float = RECOVERY_WINDOW_S,
        call_later: Callable[[float, Callable[[], None]], Timer] | None = None,
    ) -> None:
        self._max = max_concurrent
        self._on_change = on_change
        self._clock = clock
        self._window_s = window_s
        self._call_later = call_later
        self._floor: int | None = None  # the limit the last cut left, while below the setting
        self._added = 0  # what rounds of successes have added since the cut
        self._credit = 0  # successes towards the next +1 (a round: as many as the limit)
        self._cut_at = float("-inf")
        self._paused_until = float("-inf")
        self._timer: Timer | None = None
        self._timer_at: float | None = None
        self.in_flight = 0
        self._waiting: collections.deque[asyncio.Future[None]] = collections.deque()

    @property
    def limit(self) -> int:
        """The effective limit now: what the last cut left, doubled by each quiet window since,
        plus one for each round of successes; at most the setting."""
        ceiling = self._ceiling()
        if self._floor is None:
            return ceiling
        windows = int((self._clock() - self._cut_at) // self._window_s)
        return min(ceiling, (self._floor << min(windows, 16)) + self._added)

    @property
    def queued(self) -> int:
        """How many wait for a slot."""
        return len(self._waiting)

    @property
    def pause_left(self) -> float:
        """Seconds a 429's `retry-after` still holds new starts (0: none)."""
        return max(0.0, self._paused_until - self._clock())

    @property
    def timer_at(self) -> float | None:
        """When the armed timer will pump (a clock reading), if one is armed."""
        return self._timer_at

    def try_enter(self) -> bool:
        """Take a slot now if one is free and nobody waits ahead."""
        if self._waiting or self.in_flight >= self.limit or self.pause_left:
            return False
        self.in_flight += 1
        return True

    def enqueue(self) -> tuple[asyncio.Future[None], int]:
        """Join the queue: a future resolved when a slot is this one's, and the position."""
        ticket: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(ticket)
        position = len(self._waiting)
        self._pump(changed=position == 1)
        return ticket, position

    async def queue(self, wait_s: Callable[[], float]) -> AsyncGenerator[int, None]:
        """Wait for a slot, first in, first out: yields the place in the queue once, then ends
        when a slot is granted; raises TimeoutError when `wait_s()` (read after the yield)
        runs out first. A consumer that leaves (cancels, or closes this generator) leaves the
        queue, and a slot already granted to it goes back."""
        ticket, position = self.enqueue()
        try:
            # Inside the try: a consumer that stops at its place (its client left) closes the
            # generator here, and must leave the queue too.
            yield position
            async with asyncio.timeout(max(0.0, wait_s())):
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
        try:
            self._waiting.remove(ticket)
        except ValueError:
            return
        self._pump(changed=not self._waiting)

    def release(self) -> None:
        """An admitted execution ended: its slot goes to the next in line."""
        self.in_flight = max(0, self.in_flight - 1)
        if self._waiting:
            self._pump()

    def rate_limited(self, retry_after_s: float | None) -> None:
        """The provider answered 429: halve the limit, and hold new starts for its wait."""
        now = self._clock()
        if now - self._cut_at >= CUT_GUARD_S:
            self._floor = max(1, self.limit // 2)
            self._cut_at = now
            self._added = self._credit = 0
        if retry_after_s is not None and retry_after_s > 0:
            self._paused_until = max(self._paused_until, now + retry_after_s)
        self._pump(changed=True)

    def succeeded(self) -> None:
        """A request went through: while the limit is cut, a round of successes adds one."""
        if self._floor is None:
            return
        self._credit += 1
        if self._credit >= self.limit:
            self._credit = 0
            self._added += 1
            self._pump(changed=True)

    def wake(self) -> None:
        """The setting changed: admit whoever now fits."""
        self._pump(changed=True)

    def state(self) -> GovernorState:
        """For the provider's status."""
        pause = self.pause_left
        return GovernorState(
            max_concurrent=self._max(),
            effective_limit=self.limit,
            in_flight=self.in_flight,
            queued=self.queued,
            paused_until=datetime.now(UTC) + timedelta(seconds=pause) if pause > 0 else None,
        )

    def close(self) -> None:
        """Disarm the timer (the daemon is stopping)."""
        self._disarm()

    def _pump(self, changed: bool = False) -> None:
        """The one rule: admit while a slot is free and no pause holds; then, if anyone still
        waits on time alone, arm the timer for the moment that changes."""
        waiting = self._waiting
        now = self._clock()
        limit = self.limit
        if self._floor is not None and limit >= self._ceiling():
            self._floor = None  # fully recovered: the limit is the setting again
        admitted = False
        while waiting and self.in_flight < limit and now >= self._paused_until:
            ticket = waiting.popleft()
            if ticket.done():
                continue
            self.in_flight += 1
            ticket.set_result(None)
            admitted = True
        self._arm(now)
        if changed or (admitted and not waiting):
            self._on_change()

    def _arm(self, now: float) -> None:
        wake_at: float | None = None
        if self._waiting:
            if now < self._paused_until:
                wake_at = self._paused_until
            elif self._floor is not None:  # full at a cut limit, which time will raise
                windows = int((now - self._cut_at) // self._window_s)
                wake_at = self._cut_at + (windows + 1) * self._window_s
        if wake_at == self._timer_at:
            return
        self._disarm()
        if wake_at is not None:
            delay = max(0.0, wake_at - now) + TIMER_SLACK_S
            call_later = self._call_later or asyncio.get_running_loop().call_later
            self._timer = call_later(delay, self._ring)
            self._timer_at = wake_at

    def _ceiling(self) -> int:
        return max(1, self._max())

    def _ring(self) -> None:
        self._timer = self._timer_at = None
        self._pump(changed=True)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._timer_at = None
