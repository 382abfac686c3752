"""The in-process event bus behind `GET /v1/events`.

Every published state event gets the next id and goes into a ring buffer and into each
subscriber's bounded queue. A subscriber that falls behind is never waited for: its queue is
dropped and it is told to resync, i.e. to take a fresh snapshot, which holds the newest state.
Ids start at the wall clock in milliseconds times 1000, so ids from an earlier
process are always older than this one's and a resume across a restart gets a snapshot.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from contracts.error_body import ErrorBody
from contracts.errors import ProviderError
from contracts.events import DaemonErrorEvent, StateEvent


@dataclass(frozen=True)
class Envelope:
    """A published event and its id."""

    id: int
    event: StateEvent


class Resync:
    """Marker: the subscriber lost events and must be sent a fresh snapshot."""


RESYNC = Resync()


class Subscription:
    """One subscriber's bounded queue; created and read on the event loop."""

    def __init__(self, bus: EventBus, limit: int) -> None:
        self._bus = bus
        self._limit = limit
        self._items: deque[Envelope] = deque()
        self._resync = False
        self._wakeup = asyncio.Event()
        self.dropped = 0

    def _offer(self, envelope: Envelope) -> None:
        if self._resync:
            return
        if len(self._items) >= self._limit:
            self.dropped += len(self._items)
            self._items.clear()
            self._resync = True
        else:
            self._items.append(envelope)
        self._wakeup.set()

    async def next(self) -> Envelope | Resync:
        """The next event, or RESYNC when this subscriber fell behind."""
        while True:
            if self._resync:
                self._resync = False
                return RESYNC
            if self._items:
                return self._items.popleft()
            self._wakeup.clear()
            await self._wakeup.wait()

    def close(self) -> None:
        """Stop receiving events."""
        self._bus._subscribers.discard(self)


class EventBus:
    """Fans state events out to subscribers, keeping the last `buffer` for resumption."""

    def __init__(
        self,
        buffer: int = 1024,
        queue_limit: int = 256,
        clock_ms: Callable[[], float] = lambda: time.time() * 1000,
    ) -> None:
        self._ring: deque[Envelope] = deque(maxlen=buffer)
        self._queue_limit = queue_limit
        self._subscribers: set[Subscription] = set()
        self._last_id = int(clock_ms()) * 1000

    @property
    def last_id(self) -> int:
        """The id of the newest event (or the starting id if none was published)."""
        return self._last_id

    @property
    def subscriber_count(self) -> int:
        """How many subscribers are attached."""
        return len(self._subscribers)

    def history(self) -> list[Envelope]:
        """The events still held for resumption, oldest first."""
        return list(self._ring)

    def publish(self, event: StateEvent) -> int:
        """Publish an event to every subscriber; returns its id. Never blocks."""
        self._last_id += 1
        envelope = Envelope(self._last_id, event)
        self._ring.append(envelope)
        for subscriber in tuple(self._subscribers):
            subscriber._offer(envelope)
        return self._last_id

    def subscribe(self, last_event_id: int | None) -> tuple[Subscription, list[Envelope] | None]:
        """Attach a subscriber. Returns the events to replay after `last_event_id`, or None when
        the subscriber must start from a snapshot (no id, an id too old, or one from the future)."""
        subscription = Subscription(self, self._queue_limit)
        self._subscribers.add(subscription)
        return subscription, self._replay(last_event_id)

    def _replay(self, last_event_id: int | None) -> list[Envelope] | None:
        if last_event_id is None or last_event_id > self._last_id:
            return None
        oldest = self._ring[0].id if self._ring else self._last_id + 1
        if last_event_id < oldest - 1:
            return None
        return [envelope for envelope in self._ring if envelope.id > last_event_id]


class Problems:
    """Daemon-level problems (a damaged file set aside, a ledger started afresh): kept for the
    health view and every snapshot, and each published once as a `daemon_error` event."""

    def __init__(self, bus: EventBus, now: Callable[[], datetime]) -> None:
        self._bus = bus
        self._now = now
        self.items: list[ErrorBody] = []

    def report(self, error: ProviderError) -> None:
        """Keep `error` and tell every subscriber."""
        self.items.append(error.body())
        self._bus.publish(DaemonErrorEvent(at=self._now(), error=error.body()))
