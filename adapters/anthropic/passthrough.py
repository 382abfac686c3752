"""Anthropic's side of pass-through: reading usage from Messages answers as they pass, and the
Messages API's own error shape for the daemon's errors (so the SDK raises its own types)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from adapters.anthropic.translate import merged_usage
from adapters.passthrough import RelayAnswer, RelayRequest, UsageScan, once
from contracts.errors import ProviderError

if TYPE_CHECKING:
    from anthropic import AsyncAnthropic

# What the Anthropic SDK raises for each status; the daemon's errors are sent with these.
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    503: "overloaded_error",
    504: "timeout_error",
}


def read_event(event: Any, scan: UsageScan) -> None:
    """`message_start` and `message_delta` events, or a whole `message`."""
    kind = event.type
    if kind == "message_start":
        message = event.message
        scan.model = scan.model or getattr(message, "model", None)
        scan.usage = merged_usage(scan.usage, getattr(message, "usage", None))
    elif kind == "message_delta":
        scan.usage = merged_usage(scan.usage, event.usage)
    elif kind == "message":
        scan.model = event.model or scan.model
        scan.usage = merged_usage(scan.usage, event.usage)


def error_body(error: ProviderError, status: int, request_id: str | None = None) -> dict[str, Any]:
    """The Messages API's error shape, with the daemon's taxonomy in `kata` (which the SDK
    keeps in the exception's `body` and otherwise ignores)."""
    return {
        "type": "error",
        "error": {"type": ERROR_TYPES.get(status, "api_error"), "message": error.message},
        "kata": error.body(request_id).model_dump(mode="json", exclude_none=True),
    }


def error_event(error: ProviderError, status: int) -> bytes:
    """A stream's last event when it breaks after bytes have passed: the `error` event the
    Messages API itself sends mid-stream, so the SDK raises instead of ending quietly."""
    return b"event: error\ndata: " + json.dumps(error_body(error, status)).encode() + b"\n\n"


@asynccontextmanager
async def sdk_relay(client: AsyncAnthropic, request: RelayRequest) -> AsyncIterator[RelayAnswer]:
    """A token session's pass-through, through the SDK (whose credential provider reads the
    profile and refreshes its token): the raw answer, unread, or the error answer it raised."""
    import anthropic
    import httpx2

    options: Any = {
        "headers": {**request.headers, "accept-encoding": "identity"},
        "params": dict(parse_qsl(request.query)),
    }
    try:
        if request.method == "GET":
            response = await client.get(
                request.path, cast_to=httpx2.Response, options=options, stream=True
            )
        else:
            response = await client.post(
                request.path,
                cast_to=httpx2.Response,
                content=request.body,
                options=options,
                stream=True,
            )
    except anthropic.APIStatusError as error:
        failed = error.response
        yield RelayAnswer(failed.status_code, list(failed.headers.items()), once(failed.content))
        return
    try:
        yield RelayAnswer(
            response.status_code, list(response.headers.items()), response.aiter_raw()
        )
    finally:
        await response.aclose()
