"""The agent-grade request (issue 36) on providers a user added, one of each wire format,
against the fakes: reasoning, an image, a structured answer and top_p reach each as its wire
takes them; thinking is stamped with the added provider (so it goes back to it only); and
caching is not asked of an added endpoint unless the request asks (one may not take it)."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from tests.support import ANTHROPIC_KEY, OPENAI_KEY, Upstreams

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 32).decode()
SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string"}},
    "required": ["answer"],
    "additionalProperties": False,
}
WIRES = {
    "anthropic-messages": ("/v1/messages", "claude-sonnet-5-5"),
    "openai-responses": ("/responses", "gpt-5.5"),
    "openai-chat": ("/chat/completions", "gpt-5.5"),
}


def _add(http: httpx.Client, fakes: Upstreams, wire: str) -> str:
    anthropic = wire == "anthropic-messages"
    provider = f"my-{wire}"
    body = {
        "id": provider,
        "display_name": provider,
        "wire": wire,
        "base_url": fakes.anthropic.url if anthropic else f"{fakes.openai.url}/v1",
        "api_key": ANTHROPIC_KEY if anthropic else OPENAI_KEY,
        "default_model": WIRES[wire][1],
    }
    answer = http.post("/v1/providers", json=body)
    assert answer.status_code == 201, answer.text
    return provider


def _sent(fakes: Upstreams, wire: str) -> dict[str, Any]:
    fake = fakes.anthropic if wire == "anthropic-messages" else fakes.openai
    body: dict[str, Any] = [r for r in fake.requests if r.path.endswith(WIRES[wire][0])][-1].json()
    return body


@pytest.mark.parametrize("wire", list(WIRES))
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_each_wire_takes_the_agent_request(
    http: httpx.Client, fakes: Upstreams, wire: str, stream: bool
) -> None:
    provider = _add(http, fakes, wire)
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}
    body: dict[str, Any] = {
        "provider": provider,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Describe"}, image]}],
        "reasoning": {"effort": "high"},
        "response_format": {"type": "json_schema", "name": "out", "schema": SCHEMA},
        "stream": stream,
    }
    if wire != "anthropic-messages":
        body["top_p"] = 0.5
    if stream:
        with http.stream("POST", "/v1/executions", json=body) as answer:
            lines = [line for line in answer.iter_lines() if line.startswith("data: ")]
        result = httpx.Response(200, content=lines[-1][6:]).json()["result"]
    else:
        answer = http.post("/v1/executions", json=body)
        assert answer.status_code == 200, answer.text
        result = answer.json()
    assert result["parsed"] == {"answer": "Echo: Describe"}
    assert result["provider"] == provider
    sent = _sent(fakes, wire)
    if wire == "anthropic-messages":
        assert sent["thinking"] == {"type": "adaptive"}
        assert sent["messages"][0]["content"][1]["type"] == "image"
        assert "cache_control" not in sent  # not asked: an added endpoint may not take it
        thinking = [b for b in result["content"] if b["type"] == "thinking"]
        assert thinking[0]["provider"] == provider  # it goes back to this provider only
    elif wire == "openai-responses":
        assert sent["reasoning"]["effort"] == "high"
        assert sent["input"][0]["content"][1]["type"] == "input_image"
        assert (sent["top_p"], "prompt_cache_key" in sent) == (0.5, False)
    else:
        assert sent["reasoning_effort"] == "high"
        assert sent["messages"][0]["content"][1]["type"] == "image_url"
        assert sent["response_format"]["json_schema"]["name"] == "out"
        assert (sent["top_p"], "prompt_cache_key" in sent) == (0.5, False)


def test_caching_asked_of_an_added_endpoint_is_sent(http: httpx.Client, fakes: Upstreams) -> None:
    for wire in WIRES:
        provider = _add(http, fakes, wire)
        body = {
            "provider": provider,
            "messages": [{"role": "user", "content": "hi"}],
            "cache": {"ttl": "5m", "key": "run-1"},
        }
        assert http.post("/v1/executions", json=body).status_code == 200
        sent = _sent(fakes, wire)
        if wire == "anthropic-messages":
            assert sent["cache_control"] == {"type": "ephemeral"}
        else:
            assert sent["prompt_cache_key"] == "run-1"


def test_a_pdf_by_url_is_refused_up_front_on_chat(http: httpx.Client, fakes: Upstreams) -> None:
    provider = _add(http, fakes, "openai-chat")
    document = {"type": "document", "source": {"type": "url", "url": "https://x.test/a.pdf"}}
    body = {"provider": provider, "messages": [{"role": "user", "content": [document]}]}
    answer = http.post("/v1/executions", json=body)
    assert answer.status_code == 422
    assert answer.json()["details"][0]["loc"] == ["body", "messages", 0, "content", 0, "source"]
