"""`GET /v1/events`: state changes as server-sent events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header
from sse_starlette import EventSourceResponse, ServerSentEvent

from service.events import Envelope, Resync
from service.http.openapi import sse_content
from service.http.routes.deps import RuntimeDep
from service.runtime import Runtime

router = APIRouter(tags=["events"])

SEND_TIMEOUT_S = 10.0


def _parse_id(value: str | None) -> int | None:
    if value is None or not value.strip().isdigit():
        return None
    return int(value.strip())


def _sse(envelope: Envelope) -> ServerSentEvent:
    return ServerSentEvent(
        data=envelope.event.model_dump_json(), event=envelope.event.type, id=str(envelope.id)
    )


async def _snapshot(runtime: Runtime) -> Envelope:
    snapshot = await runtime.snapshot()
    return Envelope(runtime.bus.last_id, snapshot)


async def _stream(runtime: Runtime, last_event_id: int | None) -> AsyncIterator[ServerSentEvent]:
    await runtime.ready()
    subscription, replay = runtime.bus.subscribe(last_event_id)
    floor = 0  # events already folded into the last snapshot are not sent again
    try:
        if replay is None:
            snapshot = await _snapshot(runtime)
            floor = snapshot.id
            yield _sse(snapshot)
        else:
            for envelope in replay:
                yield _sse(envelope)
        while True:
            item = await subscription.next()
            if isinstance(item, Resync):
                snapshot = await _snapshot(runtime)
                floor = snapshot.id
                yield _sse(snapshot)
            elif item.id > floor:
                yield _sse(item)
    finally:
        subscription.close()


@router.get(
    "/v1/events",
    name="streamEvents",
    summary="State changes as server-sent events",
    description=(
        "A `snapshot` event first, then typed state events with increasing ids. Send "
        "`Last-Event-ID` to resume: missed events are replayed, or a fresh snapshot is sent "
        "when the id is too old. A comment ping keeps the connection alive."
    ),
    response_class=EventSourceResponse,
    responses={
        200: {
            "description": "An endless stream of state events.",
            "content": {"text/event-stream": sse_content("StateEvent")},
        }
    },
)
async def stream_events(
    runtime: RuntimeDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> EventSourceResponse:
    return EventSourceResponse(
        _stream(runtime, _parse_id(last_event_id)),
        ping=runtime.config.sse_ping_s,
        send_timeout=SEND_TIMEOUT_S,
    )
