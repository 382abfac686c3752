"""The OpenAI wire: OpenAI's own API (Responses, and the Codex backend for a ChatGPT-plan
sign-in), and any endpoint that speaks Responses or Chat Completions (Ollama, vLLM, LM Studio,
llama.cpp, OpenRouter, Azure OpenAI, gateways)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from adapters.openai.chat import CHAT, CHAT_ROLES
from adapters.openai.passthrough import error_body
from adapters.openai.responses import RESPONSES
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

# The built-in provider's request API, unless the environment asks for Chat Completions.
WIRE_API_ENV = "KATA_PROVIDERS_OPENAI_WIRE_API"
CODEX_BASE_URL_ENV = "KATA_PROVIDERS_CODEX_BASE_URL"

_MODEL = {"type": "string", "minLength": 1, "maxLength": 256}
# Each chat message as the API validates it (adapters/openai/fake_shape.py checks the same):
# an object with one of the API's roles; what else it holds depends on the role.
_MESSAGES = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "required": ["role"],
        "properties": {"role": {"type": "string", "enum": list(CHAT_ROLES)}},
    },
}
# What the API requires of each body (from its reference); everything else passes as sent.
ROUTES = (
    CompatRoute(
        "POST",
        "/responses",
        billable=True,
        body={
            "required": ["model"],
            "properties": {
                "model": _MODEL,
                "input": {"oneOf": [{"type": "string"}, {"type": "array"}]},
                "stream": {"type": "boolean"},
            },
        },
        example={"input": "Hello"},
    ),
    CompatRoute(
        "POST",
        "/chat/completions",
        billable=True,
        body={
            "required": ["model", "messages"],
            "properties": {"model": _MODEL, "messages": _MESSAGES, "stream": {"type": "boolean"}},
        },
        example={"messages": [{"role": "user", "content": "Hello"}]},
    ),
    CompatRoute("GET", "/models", billable=False),
    CompatRoute("GET", "/models/{model_id}", billable=False),
)

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "The OpenAI API's error shape.",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "code": {"type": ["string", "null"]},
                "kata": {"$ref": "#/components/schemas/ErrorBody"},
            },
        }
    },
}


def adapter(options: AdapterOptions) -> ProviderAdapter:
    """The adapter for `options`: Chat Completions for the `openai-chat` format, else Responses
    (the built-in provider reads its environment for either, and for the Codex backend)."""
    from adapters.openai.adapter import OpenAIAdapter
    from adapters.openai.codex import CODEX_BASE_URL

    wire_api = "chat" if options.format == "openai-chat" else "responses"
    if options.built_in:
        wire_api = options.env.get(WIRE_API_ENV, wire_api)
    return OpenAIAdapter(
        options.base_url,
        options.timeout_s,
        wire_api=wire_api,
        codex_base_url=options.env.get(CODEX_BASE_URL_ENV, CODEX_BASE_URL),
        provider=options.provider,
        headers=options.headers,
        key_header=options.key_header or WIRE.key_header,
        verify_tls=options.verify_tls,
    )


def fake(accepts: FakeCredentials) -> FakeServer:
    """The fake OpenAI API: session tokens are ChatGPT-plan Codex sign-ins."""
    from adapters.openai.fake import FakeOpenAI, OpenAIAuth

    auth = OpenAIAuth(
        api_keys=set(accepts.api_keys),
        chatgpt_tokens=set(accepts.session_tokens),
        expired_chatgpt_tokens=set(accepts.expired_tokens),
    )
    return FakeOpenAI(auth)


WIRE = Wire(
    id="openai",
    display_name="OpenAI",
    formats=(
        WireFormat("openai-chat", "OpenAI Chat Completions", CHAT),
        WireFormat("openai-responses", "OpenAI Responses", RESPONSES),
    ),
    key_header="authorization",
    routes=ROUTES,
    errors=ErrorShape("OpenAIError", ERROR_SCHEMA, error_body),
    adapter=adapter,
    fake=fake,
    sdk_path="/v1",
    prices=("adapters.openai", "prices.json"),
    preload=("adapters.openai.adapter",),
)
