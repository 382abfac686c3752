"""The fakes enforce what the real APIs enforce for reasoning, media, caching and structured
output: each rule, broken by the installed SDK talking straight to the fake, is a 400 the SDK
raises as `BadRequestError` with the API's kind of message. (The daemon refuses the same up
front, naming the field: tests/test_agent_requests.py.)"""

from __future__ import annotations

import base64
import copy
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest

from adapters.anthropic.fake import AnthropicAuth, FakeAnthropic
from adapters.anthropic.fake_rules import sign
from adapters.openai.fake import FakeOpenAI, OpenAIAuth

KEY = "sk-ant-api03-rules-key"
OPENAI_KEY = "sk-proj-rules-key"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode()
MODEL = "claude-sonnet-5-5"


BUDGETED = "claude-haiku-5-5"  # given manual thinking only, as older models take it


@pytest.fixture
def claude() -> Iterator[anthropic.Anthropic]:
    fake = FakeAnthropic(AnthropicAuth(api_keys={KEY}))
    budgeted = next(m for m in fake.models if m["id"] == BUDGETED)
    capabilities: Any = copy.deepcopy(budgeted["capabilities"])
    types = capabilities["thinking"]["types"]
    types["adaptive"], types["enabled"] = {"supported": False}, {"supported": True}
    budgeted["capabilities"] = capabilities
    with fake.in_thread():
        yield anthropic.Anthropic(base_url=fake.url, api_key=KEY, max_retries=0)


@pytest.fixture
def gpt() -> Iterator[openai.OpenAI]:
    fake = FakeOpenAI(OpenAIAuth(api_keys={OPENAI_KEY}), plain_models=frozenset({"gpt-4.1"}))
    with fake.in_thread():
        yield openai.OpenAI(base_url=f"{fake.url}/v1", api_key=OPENAI_KEY, max_retries=0)


def _user(*blocks: Any) -> list[Any]:
    return [{"role": "user", "content": list(blocks)}]


def _image(media_type: str, data: str) -> dict[str, Any]:
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}


HELLO = [{"role": "user", "content": "hi"}]
ANTHROPIC_RULES: list[tuple[dict[str, Any], str]] = [
    (
        {"model": BUDGETED, "thinking": {"type": "enabled", "budget_tokens": 512}},
        "greater than or equal to 1024",
    ),
    (
        {"model": BUDGETED, "thinking": {"type": "enabled", "budget_tokens": 2048}},
        "`max_tokens` must be greater than `thinking.budget_tokens`",
    ),
    ({"thinking": {"type": "enabled", "budget_tokens": 2048}}, "not supported by this model"),
    ({"model": BUDGETED, "thinking": {"type": "adaptive"}}, "not supported by this model"),
    (
        {
            "thinking": {"type": "adaptive"},
            "tools": [{"name": "t", "input_schema": {"type": "object"}}],
            "tool_choice": {"type": "any"},
        },
        "tool_choice forces tool use",
    ),
    ({"output_config": {"effort": "minimal"}}, "is not supported by this model"),
    (
        {
            "messages": [
                *HELLO,
                {
                    "role": "assistant",
                    "content": [{"type": "thinking", "thinking": "t", "signature": "forged"}],
                },
                *HELLO,
            ]
        },
        "Invalid `signature`",
    ),
    (
        {
            "messages": [
                *HELLO,
                {"role": "assistant", "content": [{"type": "redacted_thinking", "data": "x"}]},
                *HELLO,
            ]
        },
        "Invalid `data`",
    ),
    ({"messages": _user(_image("image/jpeg", PNG))}, "does not match the provided media type"),
    ({"messages": _user(*[_image("image/png", PNG)] * 101)}, "at most 100"),
    (
        {
            "system": [
                {"type": "text", "text": f"part {n}", "cache_control": {"type": "ephemeral"}}
                for n in range(4)
            ],
            "cache_control": {"type": "ephemeral"},
        },
        "maximum of 4 blocks with cache_control",
    ),
    (
        {
            "output_config": {
                "format": {"type": "json_schema", "schema": {"type": "object", "properties": {}}}
            }
        },
        "additionalProperties must be false",
    ),
    (
        {
            "messages": [
                *HELLO,
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": "a b", "name": "t", "input": {}}],
                },
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": "a b", "content": "r"}],
                },
            ]
        },
        "should match pattern",
    ),
]


@pytest.mark.parametrize(("extra", "says"), ANTHROPIC_RULES)
def test_the_anthropic_fake_refuses_as_the_api_does(
    claude: anthropic.Anthropic, extra: dict[str, Any], says: str
) -> None:
    params: dict[str, Any] = {"model": MODEL, "max_tokens": 1024, "messages": HELLO, **extra}
    with pytest.raises(anthropic.BadRequestError) as refused:
        claude.messages.create(**params)
    assert says in str(refused.value)


def test_the_anthropic_fake_takes_what_it_gave(claude: anthropic.Anthropic) -> None:
    hello: Any = HELLO
    first = claude.messages.create(
        model=MODEL, max_tokens=2048, messages=hello, thinking={"type": "adaptive"}
    )
    thinking = first.content[0]
    assert thinking.type == "thinking"
    assert thinking.signature == sign(thinking.thinking)
    again = claude.messages.create(
        model=MODEL,
        max_tokens=2048,
        thinking={"type": "adaptive"},
        messages=[*hello, {"role": "assistant", "content": first.content}, *hello],
    )
    assert again.content


OPENAI_RULES: list[tuple[str, dict[str, Any], str]] = [
    ("gpt-4.1", {"reasoning": {"effort": "high"}}, "'reasoning.effort' is not supported"),
    ("gpt-5.5", {"reasoning": {"effort": "max"}}, "does not support 'max'"),
    (
        "gpt-5.5",
        {
            "text": {
                "format": {
                    "type": "json_schema",
                    "name": "o",
                    "strict": True,
                    "schema": {"type": "object", "properties": {"a": {"type": "string"}}},
                }
            }
        },
        "every property required",
    ),
    (
        "gpt-5.5",
        {"input": [{"type": "function_call_output", "call_id": "call_1", "output": "x"}]},
        "No tool call found",
    ),
    (
        "gpt-5.5",
        {
            "input": [
                {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "forged"}
            ]
        },
        "could not be verified",
    ),
    (
        "gpt-5.5",
        {
            "input": [
                {
                    "role": "user",
                    "content": [
                        {"type": "input_image", "image_url": "http://x/a.png", "detail": "auto"}
                    ],
                }
            ]
        },
        "data URL or an https URL",
    ),
]


@pytest.mark.parametrize(("model", "extra", "says"), OPENAI_RULES)
def test_the_openai_fake_refuses_as_the_api_does(
    gpt: openai.OpenAI, model: str, extra: dict[str, Any], says: str
) -> None:
    params: dict[str, Any] = {"model": model, "input": "hi", **extra}
    with pytest.raises(openai.BadRequestError) as refused:
        gpt.responses.create(**params)
    assert says in str(refused.value)


def test_the_openai_fake_reasons_and_checks_its_own_encrypted_content(gpt: openai.OpenAI) -> None:
    first = gpt.responses.create(
        model="gpt-5.5",
        input="hi",
        reasoning={"effort": "low", "summary": "auto"},
        include=["reasoning.encrypted_content"],
        store=False,
    )
    item = first.output[0]
    assert item.type == "reasoning"
    assert item.encrypted_content
    again = gpt.responses.create(
        model="gpt-5.5",
        input=[item.model_dump(exclude_none=True), {"role": "user", "content": "more"}],  # type: ignore[list-item]
        store=False,
    )
    assert again.output_text
