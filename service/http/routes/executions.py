"""`POST /v1/executions` (JSON or SSE) and `POST /v1/executions/{id}/cancel`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request, Response
from starlette.routing import Route

from contracts.executions import CancelResult, ExecutionRequest, ExecutionResult
from service.executions.execution import Execution
from service.http.http_errors import error_responses
from service.http.openapi import sse_content
from service.http.routes.deps import RuntimeDep, no_unknown_query
from service.http.sse_stream import EventStream, encode
from service.http.strict_json import parse_body
from service.runtime import Runtime

router = APIRouter(tags=["executions"])

STREAM_DOC = {
    "description": (
        "With `stream: false`, the whole result. With `stream: true`, server-sent events: "
        "`start`, deltas, and exactly one terminal `done` (the whole result) or `error`."
    ),
    "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/ExecutionResult"}},
        "text/event-stream": sse_content("ExecutionStreamEvent"),
    },
}


REQUEST_DOC = {
    "required": True,
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ExecutionRequest"}}},
}


async def _whole(execution: Execution, request: Request) -> ExecutionResult:
    """The whole result; a client that leaves first cancels the execution (and so closes the
    upstream request) at once instead of letting it run to its end. The execution runs in this
    task; only the watch for the client leaving is a task of its own."""
    watcher = asyncio.ensure_future(_disconnected(request))
    watcher.add_done_callback(lambda task: task.cancelled() or execution.cancel())
    try:
        return await execution.result()
    finally:
        watcher.cancel()


async def _disconnected(request: Request) -> None:
    # The body has been read: the next message the server sends is the client leaving.
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def _sse(execution: Execution) -> AsyncIterator[bytes]:
    async for event in execution.events():
        yield encode(event.type, event.model_dump_json())


@router.post(
    "/v1/executions",
    name="createExecution",
    summary="Run one model request, whole or streamed",
    response_model=ExecutionResult,
    responses={200: STREAM_DOC, **error_responses(404, 409, 424, 429, 502, 503, 504)},
    openapi_extra={"requestBody": REQUEST_DOC},
)
async def create_execution(request: Request) -> Response:
    # Parsed here rather than by FastAPI so that a large body is validated off the event loop;
    # the runtime is read directly (one dependency less to solve on the hottest route).
    runtime: Runtime = request.app.state.runtime
    body = await parse_body(request, ExecutionRequest)
    execution = await runtime.prepare(body, request.scope["state"].get("started"))
    if body.stream:
        # Recorded once the response is over, even if the client left before it began.
        async def ended() -> None:
            runtime.dispatcher.finished(execution)

        return EventStream(_sse(execution), on_end=ended)
    try:
        result = await _whole(execution, request)
    finally:
        runtime.dispatcher.finished(execution)
    # Serialised here, once: the result is already a validated contract. The header counts
    # everything from the request's first byte but the provider's time, recording the
    # execution and serialising the answer included (the body's figure is fixed before both).
    body_json = result.model_dump_json()
    # The first-byte mark: the edge's outermost layer (RequestLog) sets it on every request.
    started = request.scope["state"]["started"]
    overhead = (time.perf_counter() - started) * 1000 - result.timings.upstream_ms
    return Response(
        body_json,
        media_type="application/json",
        headers={"x-kata-overhead-ms": f"{overhead:.3f}"},
    )


async def _create_execution_direct(request: Request) -> Response:
    # The unknown-query check the router's dependency makes for every other route.
    await no_unknown_query(request)
    return await create_execution(request)


# The hottest route, served straight by Starlette's router ahead of FastAPI's: the same
# function, without FastAPI's route matching and dependency solving (measured: about 0.2 ms of
# CPU a request). The FastAPI route above stays for the OpenAPI document and is never reached;
# a test checks which one serves.
DIRECT_ROUTES = [Route("/v1/executions", _create_execution_direct, methods=["POST"])]


@router.post(
    "/v1/executions/{execution_id}/cancel",
    name="cancelExecution",
    summary="Cancel a running execution; its upstream request is closed",
    responses=error_responses(404, 409),
)
async def cancel_execution(execution_id: str, runtime: RuntimeDep) -> CancelResult:
    return runtime.dispatcher.cancel(execution_id)
