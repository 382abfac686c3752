"""State events: the bus on its own, and `GET /v1/events` over a real socket."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from contracts.base import ProviderId
from contracts.errors import RateLimited
from contracts.events import ProviderErrorEvent
from service.events import EventBus, Resync
from tests.support import LiveServer, read_sse


def _event(n: int = 0) -> ProviderErrorEvent:
    error = RateLimited(f"event {n}", "wait", provider=ProviderId.OPENAI)
    return ProviderErrorEvent(at=datetime.now(UTC), provider=ProviderId.OPENAI, error=error.body())


def test_ids_increase_and_start_above_any_earlier_process() -> None:
    earlier = EventBus(clock_ms=lambda: 1_000.0)
    for n in range(50):
        earlier.publish(_event(n))
    later = EventBus(clock_ms=lambda: 1_001.0)
    ids = [later.publish(_event(n)) for n in range(3)]
    assert ids == sorted(ids)
    assert len(set(ids)) == 3
    assert ids[0] > earlier.last_id


def test_resume_replays_only_what_was_missed() -> None:
    bus = EventBus(buffer=10)
    ids = [bus.publish(_event(n)) for n in range(5)]
    _, replay = bus.subscribe(ids[2])
    assert replay is not None
    assert [e.id for e in replay] == ids[3:]
    _, nothing = bus.subscribe(ids[-1])
    assert nothing == []


@pytest.mark.parametrize("case", ["none", "too_old", "future"])
def test_resume_falls_back_to_a_snapshot(case: str) -> None:
    bus = EventBus(buffer=3)
    ids = [bus.publish(_event(n)) for n in range(10)]
    last = {"none": None, "too_old": ids[2], "future": ids[-1] + 100}[case]
    _, replay = bus.subscribe(last)
    assert replay is None


async def test_a_slow_subscriber_never_blocks_others_and_is_told_to_resync() -> None:
    bus = EventBus(queue_limit=4)
    slow, _ = bus.subscribe(None)
    fast, _ = bus.subscribe(None)
    received: list[int] = []
    for n in range(20):
        bus.publish(_event(n))
        item = await asyncio.wait_for(fast.next(), 1)
        assert not isinstance(item, Resync)
        received.append(item.id)
    assert len(received) == 20
    first = await asyncio.wait_for(slow.next(), 1)
    assert isinstance(first, Resync)
    assert slow.dropped > 0
    newest = bus.publish(_event(99))
    after = await asyncio.wait_for(slow.next(), 1)
    assert not isinstance(after, Resync)
    assert after.id == newest


def test_closing_a_subscription_detaches_it() -> None:
    bus = EventBus()
    subscription, _ = bus.subscribe(None)
    assert bus.subscriber_count == 1
    subscription.close()
    assert bus.subscriber_count == 0


@contextlib.contextmanager
def _events(live: LiveServer, headers: dict[str, str] | None = None) -> Iterator[Iterator[str]]:
    """Open `GET /v1/events` for real and yield its lines."""
    with (
        live.client() as client,
        client.stream("GET", "/v1/events", headers=headers or {}) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        yield response.iter_lines()


def test_stream_starts_with_a_snapshot_then_typed_events_in_order(live: LiveServer) -> None:
    with _events(live) as lines:
        [snapshot] = read_sse(lines, 1)
        assert snapshot.event == "snapshot"
        body = snapshot.json()
        assert {p["id"] for p in body["providers"]} == {"anthropic", "openai"}
        assert body["daemon"]["status"] == "ok"
        published = [live.call(lambda n=n: live.runtime.publish(_event(n))) for n in range(3)]  # type: ignore[misc]
        events = read_sse(lines, 3)
    assert [e.event for e in events] == ["provider_error"] * 3
    assert [int(e.id or 0) for e in events] == published
    assert int(snapshot.id or 0) < published[0]
    assert [e.json()["error"]["message"] for e in events] == ["event 0", "event 1", "event 2"]


def test_last_event_id_resumes_without_loss(live: LiveServer) -> None:
    with _events(live) as lines:
        read_sse(lines, 1)
        first = live.call(lambda: live.runtime.publish(_event(1)))
        [seen] = read_sse(lines, 1)
    assert int(seen.id or 0) == first
    missed = [live.call(lambda n=n: live.runtime.publish(_event(n))) for n in (2, 3)]  # type: ignore[misc]
    with _events(live, {"Last-Event-ID": str(first)}) as lines:
        resumed = read_sse(lines, 2)
    assert [int(e.id or 0) for e in resumed] == missed
    assert all(e.event == "provider_error" for e in resumed)


@pytest.mark.parametrize("last_id", ["1", "not-a-number", "99999999999999999999"])
def test_an_unusable_last_event_id_gets_a_fresh_snapshot(live: LiveServer, last_id: str) -> None:
    live.call(lambda: live.runtime.publish(_event(0)))
    with _events(live, {"Last-Event-ID": last_id}) as lines:
        [first] = read_sse(lines, 1)
    assert first.event == "snapshot"


def test_pings_keep_the_stream_alive(live: LiveServer) -> None:
    live.runtime.config = dataclasses.replace(live.config, sse_ping_s=0.2)
    comments: list[str] = []
    with _events(live) as lines:
        read_sse(lines, 1)
        for line in lines:
            if line.startswith(":"):
                comments.append(line)
                break
    assert comments
    assert comments[0].startswith(": ping")


def test_events_need_the_token(live: LiveServer) -> None:
    response = httpx.get(f"{live.url}/v1/events", timeout=5)
    assert response.status_code == 401
