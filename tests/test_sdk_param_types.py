"""Every request field and content block the daemon builds, checked against the installed SDKs'
own param types (`tests/sdk_params.py`): an SDK upgrade that renames or drops one fails here."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from anthropic.types.message_create_params import MessageCreateParamsStreaming
from openai.types.chat.completion_create_params import CompletionCreateParamsStreaming
from openai.types.responses.response_create_params import ResponseCreateParamsStreaming

from adapters.anthropic.body import build_params
from adapters.openai.chat import chat_params
from adapters.openai.responses import responses_params
from contracts.base import ProviderId
from contracts.executions import ExecutionRequest
from tests.sdk_params import check, unknown_keys

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode()
PDF = base64.b64encode(b"%PDF-1.7\n" + b"0" * 16).decode()
SCHEMA = {
    "type": "object",
    "properties": {"a": {"type": "string"}},
    "required": ["a"],
    "additionalProperties": False,
}


def _richest(**extra: Any) -> ExecutionRequest:
    """A request using every field and block: reasoning, media both ways, structured output,
    caching, tools, and a conversation with each provider's thinking and a tool round."""
    user = [
        {"type": "text", "text": "look"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
        {
            "type": "document",
            "title": "a.pdf",
            "source": {"type": "base64", "media_type": "application/pdf", "data": PDF},
        },
    ]
    assistant = [
        {"type": "thinking", "thinking": "hm", "signature": "sig", "provider": "anthropic"},
        {"type": "redacted_thinking", "data": "opaque", "provider": "anthropic"},
        {
            "type": "thinking",
            "thinking": "summary",
            "item_id": "rs_1",
            "encrypted_content": "enc",
            "provider": "openai",
        },
        {"type": "tool_call", "id": "call 1!", "name": "lookup", "arguments": {"q": "x"}},
    ]
    result = [{"type": "tool_result", "tool_call_id": "call 1!", "content": "found"}]
    return ExecutionRequest.model_validate(
        {
            "system": "You review specs.",
            "messages": [
                {"role": "user", "content": user},
                {"role": "assistant", "content": assistant},
                {"role": "user", "content": result},
            ],
            "tools": [{"name": "lookup", "input_schema": {"type": "object"}}],
            "tool_choice": "auto",
            "max_tokens": 4096,
            "response_format": {"type": "json_schema", "name": "out", "schema": SCHEMA},
            "cache": {"ttl": "1h", "key": "wave-1"},
            **extra,
        }
    )


@pytest.mark.parametrize(
    "reasoning",
    [{"effort": "high"}, {"budget_tokens": 2048, "summary": "none"}, {"effort": "none"}],
)
def test_the_messages_body_is_what_the_sdk_takes(reasoning: dict[str, Any]) -> None:
    params = build_params(_richest(reasoning=reasoning), "claude-x", ProviderId.ANTHROPIC)
    check(params, MessageCreateParamsStreaming)
    kinds = [b["type"] for m in params["messages"] for b in m["content"]]
    assert "redacted_thinking" in kinds
    assert "thinking" in kinds  # its maker's: sent back; OpenAI's: not


@pytest.mark.parametrize("codex", [False, True])
def test_the_responses_body_is_what_the_sdk_takes(codex: bool) -> None:
    request = _richest(reasoning={"effort": "high"}, top_p=0.5)
    params = responses_params(request, "gpt-x", codex=codex)
    check(params, ResponseCreateParamsStreaming)
    kinds = [item["type"] for item in params["input"]]
    assert kinds.count("reasoning") == 1  # OpenAI's own reasoning only


def test_the_chat_body_is_what_the_sdk_takes() -> None:
    request = _richest(reasoning={"effort": "high"}, top_p=0.5)
    request = request.model_copy(update={"messages": request.messages})
    params = chat_params(request, "gpt-x", cache_by_default=True)
    check(params, CompletionCreateParamsStreaming)


def test_the_check_can_fail() -> None:
    params = build_params(_richest(), "claude-x")
    params["thinking"] = {"type": "adaptive", "budget": 1}
    params["messages"][0]["content"][1]["source"]["extra"] = 1
    assert unknown_keys(params, MessageCreateParamsStreaming) == [
        ".messages[0].content[1].source.extra",
        ".thinking.budget",
    ]
