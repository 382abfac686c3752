"""The governor's one rule, proved by a machine: Hypothesis drives a gate through any sequence
of acquire / release / success / 429 (any retry-after) / a waiter leaving / the clock moving
(timers firing up to a few milliseconds early, as uvloop's do) / the setting changing; after
every step it checks that no waiter is stranded: someone waits only while every slot is
taken, or while a pause holds and a timer is armed to end it. At the end, time and releases
alone admit everyone.

Found by this machine (the bugs issue 26 reported): a timer that fired early (uvloop) or was
replaced by a shorter retry-after left waiters with nothing in flight and no timer.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from service.usage.governor import Gate

EARLY_S = 0.003  # how early a timer may fire here: more than uvloop's millisecond, on purpose


@dataclass
class FakeTimer:
    fires_at: float
    callback: Callable[[], None]
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True


class GateMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.now = 1000.0
        self.setting = 8
        self.timers: list[FakeTimer] = []
        self.early = False
        self.gate = Gate(
            lambda: self.setting, clock=lambda: self.now, window_s=5.0, call_later=self._later
        )
        self.holders = 0
        self.waiters: list[asyncio.Future[None]] = []

    def _later(self, delay: float, callback: Callable[[], None]) -> FakeTimer:
        fires_at = self.now + delay
        if self.early:  # early, but never at once (time moves on between two firings)
            fires_at = max(self.now + delay / 4, fires_at - EARLY_S)
        timer = FakeTimer(fires_at, callback)
        self.timers.append(timer)
        return timer

    def _settle(self) -> None:
        """Granted waiters become holders."""
        for ticket in [t for t in self.waiters if t.done()]:
            self.waiters.remove(ticket)
            self.holders += 1

    def _run(self, action: Callable[[], object]) -> None:
        async def step() -> None:
            action()

        self.loop.run_until_complete(step())
        self._settle()

    @rule()
    def acquire(self) -> None:
        def go() -> None:
            if self.gate.try_enter():
                self.holders += 1
            else:
                ticket, _ = self.gate.enqueue()
                self.waiters.append(ticket)

        self._run(go)

    @precondition(lambda self: self.holders > 0)
    @rule()
    def release(self) -> None:
        self.holders -= 1
        self._run(self.gate.release)

    @precondition(lambda self: self.holders > 0)
    @rule()
    def succeeded(self) -> None:
        self._run(self.gate.succeeded)

    @rule(retry_after=st.none() | st.floats(0, 120, allow_nan=False))
    def rate_limited(self, retry_after: float | None) -> None:
        self._run(lambda: self.gate.rate_limited(retry_after))

    @precondition(lambda self: bool(self.waiters))
    @rule(data=st.data())
    def waiter_leaves(self, data: st.DataObject) -> None:
        ticket = data.draw(st.sampled_from(self.waiters))
        self.waiters.remove(ticket)
        self._run(lambda: self.gate.leave(ticket))

    @rule(setting=st.integers(1, 16))
    def setting_changes(self, setting: int) -> None:
        self.setting = setting
        self._run(self.gate.wake)

    @rule(early=st.booleans())
    def timers_fire_early(self, early: bool) -> None:
        self.early = early

    @rule(dt=st.floats(0, 30, allow_nan=False))
    def time_passes(self, dt: float) -> None:
        self._advance(self.now + dt)

    def _advance(self, until: float) -> None:
        while True:
            due = [t for t in self.timers if not t.cancelled and t.fires_at <= until]
            if not due:
                break
            timer = min(due, key=lambda t: t.fires_at)
            self.timers.remove(timer)
            self.now = max(self.now, timer.fires_at)
            self._run(timer.callback)
        self.now = max(self.now, until)
        self.timers = [t for t in self.timers if not t.cancelled]

    @invariant()
    def nobody_is_stranded(self) -> None:
        gate = self.gate
        assert gate.in_flight == self.holders, "a slot leaked or was given twice"
        assert gate.queued == len(self.waiters)
        if gate.queued:
            # Either every slot is taken (a release will pump), or a timer is armed for the
            # pause's end or is already due (it rings TIMER_SLACK_S late, on purpose).
            full = gate.in_flight >= gate.limit
            timer = gate.timer_at
            waiting_on_time = timer is not None and (gate.pause_left > 0 or timer <= self.now)
            assert full or waiting_on_time, f"stranded: {gate.state()}, timer {timer}"

    def teardown(self) -> None:
        # Liveness: with the clock moving and holders finishing, every waiter gets a slot.
        for _ in range(200):
            if not self.waiters:
                break
            self._advance(self.now + 1.0)
            if self.holders:
                self.holders -= 1
                self._run(self.gate.release)
        assert not self.waiters, f"waiters never admitted: {self.gate.state()}"
        self._advance(self.now + 200)
        assert self.gate.limit == self.setting, "the limit never climbed back"
        self.loop.close()


# Deterministic in `make test`; KATA_GOVERNOR_EXAMPLES=5000 explores further (and at random).
_EXAMPLES = int(os.environ.get("KATA_GOVERNOR_EXAMPLES", "0"))
GateMachine.TestCase.settings = settings(
    max_examples=_EXAMPLES or 400,
    stateful_step_count=60,
    deadline=None,
    derandomize=not _EXAMPLES,
    database=None,
)
test_the_governor_never_strands_a_waiter = GateMachine.TestCase
