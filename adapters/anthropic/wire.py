"""The Anthropic Messages wire: Anthropic's own API, and any endpoint that speaks it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from adapters.anthropic.body import MESSAGES, ROLES
from adapters.anthropic.passthrough import error_body
from adapters.anthropic.versions import API_VERSIONS
from adapters.wire import (
    AdapterOptions,
    CompatRoute,
    ErrorShape,
    FakeCredentials,
    Wire,
    WireFormat,
)

if TYPE_CHECKING:
    from adapters.base import ProviderAdapter
    from adapters.fakes.server import FakeServer


_MODEL = {"type": "string", "minLength": 1, "maxLength": 256}
# Each message as the API validates it (adapters/anthropic/fake_shape.py checks the same): a
# role, and content that is text or a list of typed blocks (the block types are the API's).
_MESSAGES = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "required": ["role", "content"],
        "properties": {
            "role": {"type": "string", "enum": list(ROLES)},
            "content": {
                "oneOf": [
                    {"type": "string"},
                    {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["type"],
                            "properties": {"type": {"type": "string"}},
                        },
                    },
                ]
            },
        },
    },
}
_HELLO = {"role": "user", "content": "Hello"}
# What the API requires of each body (from its reference); everything else passes as sent.
ROUTES = (
    CompatRoute(
        "POST",
        "/v1/messages",
        billable=True,
        body={
            "required": ["model", "max_tokens", "messages"],
            "properties": {
                "model": _MODEL,
                # At most what a double holds exactly: the daemon parses JSON as I-JSON.
                "max_tokens": {"type": "integer", "minimum": 1, "maximum": 2**53 - 1},
                "messages": _MESSAGES,
                "stream": {"type": "boolean"},
            },
        },
        example={"max_tokens": 1024, "messages": [_HELLO]},
    ),
    CompatRoute(
        "POST",
        "/v1/messages/count_tokens",
        billable=False,
        body={
            "required": ["model", "messages"],
            "properties": {"model": _MODEL, "messages": _MESSAGES},
        },
        example={"messages": [_HELLO]},
    ),
    CompatRoute("GET", "/v1/models", billable=False),
    CompatRoute("GET", "/v1/models/{model_id}", billable=False),
)

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "The Anthropic API's error shape.",
    "required": ["type", "error"],
    "properties": {
        "type": {"const": "error"},
        "error": {
            "type": "object",
            "required": ["type", "message"],
            "properties": {"type": {"type": "string"}, "message": {"type": "string"}},
        },
        "kata": {"$ref": "#/components/schemas/ErrorBody"},
    },
}


def adapter(options: AdapterOptions) -> ProviderAdapter:
    """The Messages adapter for `options` (imported on first use)."""
    from adapters.anthropic.adapter import AnthropicAdapter

    return AnthropicAdapter(
        options.base_url,
        timeout_s=options.timeout_s,
        provider=options.provider,
        headers=options.headers,
        key_header=options.key_header or WIRE.key_header,
        verify_tls=options.verify_tls,
    )


def fake(accepts: FakeCredentials) -> FakeServer:
    """The fake Messages API: session tokens are `ant` profile tokens; demo mode thinks."""
    from adapters.anthropic.fake import AnthropicAuth, FakeAnthropic

    auth = AnthropicAuth(
        api_keys=set(accepts.api_keys),
        oauth_tokens=set(accepts.session_tokens),
        expired_tokens=set(accepts.expired_tokens),
    )
    return FakeAnthropic(auth, thinking=accepts.demo)


WIRE = Wire(
    id="anthropic",
    display_name="Anthropic",
    formats=(WireFormat("anthropic-messages", "Anthropic Messages", MESSAGES),),
    key_header="x-api-key",
    token_header="x-api-key",
    required_headers={"anthropic-version": API_VERSIONS},
    routes=ROUTES,
    errors=ErrorShape("AnthropicError", ERROR_SCHEMA, error_body),
    adapter=adapter,
    fake=fake,
    prices=("adapters.anthropic", "prices.json"),
    preload=("adapters.anthropic.adapter",),
)
