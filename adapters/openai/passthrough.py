"""OpenAI's side of pass-through: reading usage from Responses and Chat Completions answers as
they pass, and the API's own error shape for the daemon's errors."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from adapters.openai.shared import usage_of
from adapters.passthrough import RelayRequest, UsageScan
from contracts.errors import ProviderError

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    404: "invalid_request_error",
    429: "rate_limit_exceeded",
}


def read_event(event: Any, scan: UsageScan) -> None:
    """A Responses stream event (`response.*`, which carries the response), a Chat Completions
    chunk (the last one carries usage when the client asked for it), or a whole answer."""
    response = event.response
    source = response if response is not None else event
    scan.model = getattr(source, "model", None) or scan.model
    usage = getattr(source, "usage", None)
    if usage is not None:
        scan.usage = usage_of(usage)


def asking_for_usage(request: RelayRequest, body: Mapping[str, Any]) -> RelayRequest:
    """Chat Completions streams carry usage only when `stream_options.include_usage` is true,
    and most tools leave it out: the ledger and budgets would see no tokens. The daemon sets
    it, and the answer's usage-only chunk (which the client did not ask for) is read and not
    passed on. `stream_options` that is not an object is left for the provider to refuse."""
    options = body.get("stream_options")
    if (
        request.path != "/chat/completions"
        or body.get("stream") is not True
        or not (options is None or isinstance(options, dict))
        or (options or {}).get("include_usage") is True
    ):
        return request
    asked = {**body, "stream_options": {**(options or {}), "include_usage": True}}
    raw = json.dumps(asked, ensure_ascii=False, separators=(",", ":")).encode()
    return replace(request, body=raw, hide_usage_only=True)


def usage_only(event: Any) -> bool:
    """The chunk `include_usage` adds: no choices, only usage."""
    return event.choices == [] and event.usage is not None


def error_body(error: ProviderError, status: int, request_id: str | None = None) -> dict[str, Any]:
    """The API's error shape, with the daemon's taxonomy in `kata` (kept by the SDK in the
    exception's `body`, otherwise ignored)."""
    return {
        "error": {
            "message": error.message,
            "type": ERROR_TYPES.get(
                status, "invalid_request_error" if status < 500 else "server_error"
            ),
            "param": None,
            "code": error.code.value,
            # Inside `error`: the SDK's exception keeps only this object as its `body`.
            "kata": error.body(request_id).model_dump(mode="json", exclude_none=True),
        },
    }


def error_event(error: ProviderError, status: int) -> bytes:
    """A stream's last event when it breaks after bytes have passed: a data chunk holding an
    `error` object, which the SDK raises as `APIError` (Chat Completions and Responses alike)."""
    return b"data: " + json.dumps(error_body(error, status)).encode() + b"\n\n"
