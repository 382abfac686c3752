"""The toy wire's one object: everything the daemon asks of a protocol."""

from __future__ import annotations

import json
from typing import Any

from adapters.base import ProviderAdapter
from adapters.capabilities import CapabilityTable
from adapters.fakes.server import FakeServer
from adapters.wire import AdapterOptions, CompatRoute, ErrorShape, FakeCredentials, Wire, WireFormat
from contracts.errors import ProviderError

KEY = "toy-key-0123456789"
MODEL = "toy-1"
ECHO = CapabilityTable(
    sdk_method="toy.echo",
    parameters={
        "temperature": None,
        "top_p": None,
        "stop": None,
        "thinking": None,
        "tools": None,
        "tool_choice": None,
    },
    token_sessions=False,
)
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "The toy API's error shape.",
    "required": ["problem"],
    "properties": {
        "problem": {
            "type": "object",
            "required": ["kind", "text"],
            "properties": {"kind": {"type": "string"}, "text": {"type": "string"}},
        },
        "kata": {"$ref": "#/components/schemas/ErrorBody"},
    },
}


def error_body(error: ProviderError, status: int, request_id: str | None) -> dict[str, Any]:
    """The toy API's error shape, with the daemon's taxonomy beside it."""
    return {
        "problem": {"kind": error.code.value, "text": error.message},
        "kata": error.body(request_id).model_dump(mode="json", exclude_none=True),
    }


def error_event(error: ProviderError) -> bytes:
    """The toy stream's own way of breaking: a last `problem` line."""
    return b"data: " + json.dumps({"problem": {"kind": error.code.value}}).encode() + b"\n\n"


def adapter(options: AdapterOptions) -> ProviderAdapter:
    from tests.toy_wire.adapter import ToyAdapter

    return ToyAdapter(options)


def fake(accepts: FakeCredentials) -> FakeServer:
    from tests.toy_wire.fake import FakeToy

    return FakeToy(set(accepts.api_keys))


WIRE = Wire(
    id="toy",
    display_name="Toy",
    formats=(WireFormat("toy-echo", "Toy Echo", ECHO),),
    key_header="x-toy-key",
    token_header="x-toy-key",
    routes=(
        CompatRoute(
            "POST",
            "/echo",
            billable=True,
            body={"required": ["model", "prompt"], "properties": {"prompt": {"type": "string"}}},
        ),
        CompatRoute("GET", "/models", billable=False),
    ),
    errors=ErrorShape("ToyError", ERROR_SCHEMA, error_body),
    adapter=adapter,
    fake=fake,
    prices=("tests.toy_wire", "prices.json"),
)
