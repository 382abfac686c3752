"""One rule for conversations handed between providers (`adapters/handoff.py`), end to end: the
fakes check what the real APIs check (Anthropic the signature of each thinking block and the
data of each redacted one, OpenAI the encrypted content of each reasoning item and that every
function call output has its call), so a conversation that goes Anthropic → OpenAI → Anthropic
keeps its tool calls and its Anthropic reasoning, and OpenAI reasoning survives a tool call."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from adapters.anthropic.body import TOOL_ID
from adapters.handoff import call_id, goes_back, maker
from adapters.openai.shared import CALL_ID
from contracts.base import ProviderId
from contracts.content import RedactedThinkingBlock, ThinkingBlock
from tests.support import Upstreams

WEATHER = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


def _run(http: httpx.Client, provider: str, messages: list[Any], **extra: Any) -> dict[str, Any]:
    body = {"provider": provider, "messages": messages, "tools": [WEATHER], **extra}
    answer = http.post("/v1/executions", json=body)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def _sent(fake: Any, path: str) -> dict[str, Any]:
    body: dict[str, Any] = [r for r in fake.requests if r.path.endswith(path)][-1].json()
    return body


def test_anthropic_to_openai_and_back_keeps_tool_calls_and_reasoning(
    http: httpx.Client, fakes: Upstreams
) -> None:
    think = {"reasoning": {"effort": "high"}}
    messages: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
    first = _run(http, "anthropic", messages, **think)  # thinks, then calls the tool
    assert [b["type"] for b in first["content"]] == ["thinking", "tool_call"]
    call = first["content"][1]
    messages += [
        {"role": "assistant", "content": first["content"]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_call_id": call["id"], "content": "18C"}],
        },
    ]
    second = _run(http, "openai", messages, **think)  # continues on OpenAI
    sent = _sent(fakes.openai, "/responses")["input"]
    assert [i["type"] for i in sent] == ["message", "function_call", "function_call_output"]
    assert sent[1]["call_id"] == sent[2]["call_id"] == call["id"]  # paired, as given
    assert "thinking" not in str(sent)  # Anthropic's thinking is not OpenAI's to read
    messages += [
        {"role": "assistant", "content": second["content"]},
        {"role": "user", "content": "And tomorrow?"},
    ]
    _run(http, "anthropic", messages, **think)  # back: the fake checks every signature
    back = _sent(fakes.anthropic, "/v1/messages")["messages"]
    assert back[1]["content"][0] == {
        "type": "thinking",
        "thinking": first["content"][0]["thinking"],
        "signature": first["content"][0]["signature"],
    }
    # OpenAI's reasoning from turn two does not go to Anthropic: its proof would be refused.
    assert all(b["type"] != "thinking" for b in back[3]["content"])
    assert back[1]["content"][1]["id"] == call["id"]


def test_openai_reasoning_survives_a_tool_call_on_responses(
    http: httpx.Client, fakes: Upstreams
) -> None:
    think = {"reasoning": {"effort": "high"}}
    messages: list[Any] = [{"role": "user", "content": "Weather in Oslo?"}]
    first = _run(http, "openai", messages, **think)
    assert [b["type"] for b in first["content"]] == ["thinking", "tool_call"]
    reasoning, call = first["content"]
    messages += [
        {"role": "assistant", "content": first["content"]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_call_id": call["id"], "content": "2C"}],
        },
    ]
    _run(http, "openai", messages, **think)  # the fake checks the encrypted content
    sent = _sent(fakes.openai, "/responses")["input"]
    assert sent[1] == {
        "type": "reasoning",
        "id": reasoning["item_id"],
        "summary": [{"type": "summary_text", "text": reasoning["thinking"]}],
        "encrypted_content": reasoning["encrypted_content"],
    }
    assert [i["type"] for i in sent[2:]] == ["function_call", "function_call_output"]


def test_redacted_thinking_is_kept_returned_and_sent_back(
    http: httpx.Client, fakes: Upstreams
) -> None:
    messages: list[Any] = [{"role": "user", "content": "!redacted think hard"}]
    body = {"provider": "anthropic", "messages": messages, "reasoning": {"effort": "high"}}
    first = http.post("/v1/executions", json=body).json()
    redacted = [b for b in first["content"] if b["type"] == "redacted_thinking"]
    assert redacted[0]["data"].startswith("fake-redacted:")
    assert redacted[0]["provider"] == "anthropic"
    messages += [
        {"role": "assistant", "content": first["content"]},
        {"role": "user", "content": "go on"},
    ]
    again = http.post("/v1/executions", json={**body, "messages": messages})
    assert again.status_code == 200, again.text  # the fake checked the data
    sent = _sent(fakes.anthropic, "/v1/messages")["messages"][1]["content"]
    assert {"type": "redacted_thinking", "data": redacted[0]["data"]} in sent


def test_tool_call_ids_another_api_refuses_are_mapped_and_stay_paired(
    http: httpx.Client, fakes: Upstreams
) -> None:
    odd = "call/with spaces:and-a-very-long-tail-" + "x" * 70  # neither API takes it as it is
    messages: list[Any] = [
        {"role": "user", "content": "Weather?"},
        {
            "role": "assistant",
            "content": [{"type": "tool_call", "id": odd, "name": "get_weather", "arguments": {}}],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_call_id": odd, "content": "sunny"}],
        },
    ]
    _run(http, "anthropic", messages)
    parts = _sent(fakes.anthropic, "/v1/messages")["messages"]
    use, result = parts[1]["content"][0], parts[2]["content"][0]
    assert use["id"] == result["tool_use_id"] == call_id(odd, TOOL_ID, "toolu_")
    assert re.fullmatch(r"toolu_[0-9a-f]{24}", use["id"])
    _run(http, "openai", messages)
    items = _sent(fakes.openai, "/responses")["input"]
    assert items[1]["call_id"] == items[2]["call_id"] == call_id(odd, CALL_ID, "call_")


def test_only_another_providers_thinking_leaves_nothing_to_send(http: httpx.Client) -> None:
    foreign = {"type": "thinking", "thinking": "t", "signature": "s", "provider": "anthropic"}
    body = {"provider": "openai", "messages": [{"role": "user", "content": [foreign]}]}
    answer = http.post("/v1/executions", json=body)
    assert answer.status_code == 422
    assert answer.json()["details"][0] == {
        "loc": ["body", "messages"],
        "msg": answer.json()["message"],
        "type": "handoff",
    }


@pytest.mark.parametrize(
    ("block", "made_by"),
    [
        (ThinkingBlock(type="thinking", thinking="t", signature="s"), ProviderId.ANTHROPIC),
        (RedactedThinkingBlock(type="redacted_thinking", data="d"), ProviderId.ANTHROPIC),
        (
            ThinkingBlock(type="thinking", thinking="t", encrypted_content="e", item_id="rs_1"),
            ProviderId.OPENAI,
        ),
        (
            ThinkingBlock(
                type="thinking", thinking="t", signature="s", provider=ProviderId("ollama")
            ),
            "ollama",
        ),
        (ThinkingBlock(type="thinking", thinking="t"), None),
    ],
)
def test_the_rule_reads_provenance_then_proof(block: Any, made_by: Any) -> None:
    assert maker(block) == made_by
    for provider in (ProviderId.ANTHROPIC, ProviderId.OPENAI, ProviderId("ollama")):
        assert goes_back(block, provider) is (provider == made_by)


def test_mapped_ids_are_stable_and_distinct() -> None:
    accepted = re.compile(r"^[a-z]+$")
    assert call_id("plain", accepted, "p_") == "plain"
    assert call_id("not plain", accepted, "p_") == call_id("not plain", accepted, "p_")
    assert call_id("not plain", accepted, "p_") != call_id("not plain!", accepted, "p_")
