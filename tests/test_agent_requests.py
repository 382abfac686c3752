"""What agents ask of a model on `POST /v1/executions` (issue 36), end to end against the fakes,
with the daemon's upstream requests recorded: reasoning, images and PDFs, structured output,
prompt caching and `top_p`, on both built-in providers, whole and streamed; and what the real
APIs refuse of them refused up front, naming the field, before any upstream request."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from tests.support import LiveServer, Upstreams, read_sse

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 64).decode()
PDF = base64.b64encode(b"%PDF-1.7\n" + b"0" * 64).decode()
SCHEMA = {
    "type": "object",
    "properties": {"verdict": {"type": "string"}, "score": {"type": "integer"}},
    "required": ["verdict", "score"],
    "additionalProperties": False,
}
FORMAT = {"type": "json_schema", "name": "review", "schema": SCHEMA}


def _sent(fake: Any, path: str) -> dict[str, Any]:
    bodies = [r.json() for r in fake.requests if r.path.endswith(path) and r.method == "POST"]
    assert bodies, f"no request reached {path}"
    last: dict[str, Any] = bodies[-1]
    return last


def _ask(
    http: httpx.Client, provider: str, stream: bool = False, **extra: Any
) -> tuple[int, dict[str, Any], list[Any]]:
    body = {"provider": provider, "messages": [{"role": "user", "content": "hello there"}]}
    body.update(extra)
    if not stream:
        answer = http.post("/v1/executions", json=body)
        return answer.status_code, answer.json(), []
    with http.stream("POST", "/v1/executions", json={**body, "stream": True}) as streamed:
        events = read_sse(streamed.iter_lines(), 200)
    last = events[-1].json()
    return 200, last.get("result") or last, events


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_reasoning_reaches_anthropic_as_thinking_and_effort(
    http: httpx.Client, fakes: Upstreams, stream: bool
) -> None:
    _, result, events = _ask(http, "anthropic", stream, reasoning={"effort": "high"})
    sent = _sent(fakes.anthropic, "/v1/messages")
    assert sent["thinking"] == {"type": "adaptive"}
    assert sent["output_config"] == {"effort": "high"}
    thinking = [b for b in result["content"] if b["type"] == "thinking"]
    assert thinking[0]["provider"] == "anthropic"
    assert thinking[0]["signature"].startswith("fakesig_")
    assert thinking[0]["model"] == "claude-sonnet-5-5"
    if stream:
        assert any(e.event == "thinking_delta" for e in events)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_reasoning_reaches_openai_with_a_summary_and_its_encrypted_content(
    http: httpx.Client, fakes: Upstreams, stream: bool
) -> None:
    _, result, events = _ask(http, "openai", stream, reasoning={"effort": "high"})
    sent = _sent(fakes.openai, "/responses")
    assert sent["reasoning"] == {"effort": "high", "summary": "auto"}
    assert sent["include"] == ["reasoning.encrypted_content"]
    assert sent["store"] is False
    thinking = [b for b in result["content"] if b["type"] == "thinking"]
    assert thinking[0]["provider"] == "openai"
    assert thinking[0]["item_id"].startswith("rs_")
    assert thinking[0]["encrypted_content"].startswith("enc_fake_")
    assert result["usage"]["reasoning_tokens"] == 12
    if stream:
        assert "".join(e.json()["thinking"] for e in events if e.event == "thinking_delta")


def test_images_and_pdfs_reach_each_wire_as_its_own_parts(
    http: httpx.Client, fakes: Upstreams
) -> None:
    content = [
        {"type": "text", "text": "What is in these?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
        {
            "type": "document",
            "title": "spec.pdf",
            "source": {"type": "base64", "media_type": "application/pdf", "data": PDF},
        },
    ]
    messages = [{"role": "user", "content": content}]
    for provider in ("anthropic", "openai"):
        status, result, _ = _ask(http, provider, messages=messages)
        assert status == 200, result
    parts = _sent(fakes.anthropic, "/v1/messages")["messages"][0]["content"]
    assert [p["type"] for p in parts] == ["text", "image", "image", "document"]
    assert parts[1]["source"] == {"type": "base64", "media_type": "image/png", "data": PNG}
    assert parts[2]["source"] == {"type": "url", "url": "https://example.com/cat.png"}
    assert parts[3]["title"] == "spec.pdf"
    items = _sent(fakes.openai, "/responses")["input"][0]["content"]
    assert [p["type"] for p in items] == ["input_text", "input_image", "input_image", "input_file"]
    assert items[1]["image_url"] == f"data:image/png;base64,{PNG}"
    assert items[3] == {
        "type": "input_file",
        "file_data": f"data:application/pdf;base64,{PDF}",
        "filename": "spec.pdf",
    }


@pytest.mark.parametrize(
    ("block", "loc", "kind"),
    [
        (  # PNG bytes sent as a JPEG
            {
                "type": "image",
                "source": {"type": "base64", "media_type": "image/jpeg", "data": PNG},
            },
            ["body", "messages", 0, "content", 0, "source", "data"],
            "media_mismatch",
        ),
        (  # not a PDF
            {
                "type": "document",
                "source": {"type": "base64", "media_type": "application/pdf", "data": PNG},
            },
            ["body", "messages", 0, "content", 0, "source", "data"],
            "media_mismatch",
        ),
    ],
)
def test_media_is_judged_up_front_naming_the_field(
    http: httpx.Client, fakes: Upstreams, block: dict[str, Any], loc: list[Any], kind: str
) -> None:
    status, body, _ = _ask(http, "anthropic", messages=[{"role": "user", "content": [block]}])
    assert status == 422
    assert (body["details"][0]["loc"], body["details"][0]["type"]) == (loc, kind)
    assert not fakes.anthropic.requests  # refused before anything was sent


def test_media_bounds_and_turns_are_refused(http: httpx.Client) -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}
    too_many = [{"role": "user", "content": [image] * 101}]
    status, body, _ = _ask(http, "anthropic", messages=too_many)
    assert status == 422
    assert "at most 100 image blocks" in body["message"]
    big = "A" * (7 * 1024 * 1024)  # over 5 MiB decoded
    oversize = {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": big},
    }
    status, body, _ = _ask(http, "anthropic", messages=[{"role": "user", "content": [oversize]}])
    assert status in (413, 422)
    turns = [
        {"role": "user", "content": "look"},
        {"role": "assistant", "content": [image]},
        {"role": "user", "content": "well?"},
    ]
    status, body, _ = _ask(http, "openai", messages=turns)
    assert status == 422
    assert body["details"][0]["type"] == "media_in_assistant_turn"


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_a_structured_answer_is_parsed_and_checked(
    http: httpx.Client, fakes: Upstreams, provider: str, stream: bool
) -> None:
    status, result, _ = _ask(http, provider, stream, response_format=FORMAT)
    assert status == 200
    assert result["parsed"] == {"verdict": "Echo: hello there", "score": 42}
    if provider == "anthropic":
        form = _sent(fakes.anthropic, "/v1/messages")["output_config"]["format"]
        assert form == {"type": "json_schema", "schema": SCHEMA}
    else:
        form = _sent(fakes.openai, "/responses")["text"]["format"]
        assert form == {"type": "json_schema", "name": "review", "schema": SCHEMA, "strict": True}


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_an_answer_that_does_not_match_is_an_error_never_a_string(
    http: httpx.Client, provider: str
) -> None:
    messages = [{"role": "user", "content": "!badjson please"}]
    status, body, _ = _ask(http, provider, messages=messages, response_format=FORMAT)
    assert status == 502
    assert body["code"] == "unexpected_error"
    assert "does not match the 'review' schema" in body["message"]
    assert "lacks 'verdict'" in body["message"]
    _, last, events = _ask(http, provider, True, messages=messages, response_format=FORMAT)
    assert events[-1].event == "error"
    assert last["partial_content"][0]["text"] == '{"unexpected": true}'


def test_a_schema_that_breaks_strict_mode_is_refused_naming_where(
    http: httpx.Client, fakes: Upstreams
) -> None:
    loose = {"type": "object", "properties": {"a": {"type": "object", "properties": {}}}}
    form = {"type": "json_schema", "name": "loose", "schema": loose}
    status, body, _ = _ask(http, "openai", response_format=form)
    assert status == 422
    locs = [d["loc"] for d in body["details"]]
    assert ["body", "response_format", "schema"] in locs
    assert ["body", "response_format", "schema", "properties", "a"] in locs
    assert not fakes.openai.requests
    status, _, _ = _ask(http, "openai", response_format={**form, "strict": False})
    assert status == 200  # not strict: the answer is still checked, the schema is not


def test_caching_is_on_by_default_and_said_how(http: httpx.Client, fakes: Upstreams) -> None:
    _ask(http, "anthropic")
    assert _sent(fakes.anthropic, "/v1/messages")["cache_control"] == {"type": "ephemeral"}
    _ask(http, "anthropic", cache={"ttl": "1h"})
    assert _sent(fakes.anthropic, "/v1/messages")["cache_control"] == {
        "type": "ephemeral",
        "ttl": "1h",
    }
    _ask(http, "anthropic", cache="off")
    assert "cache_control" not in _sent(fakes.anthropic, "/v1/messages")
    _ask(http, "openai", system="You review specs.")
    first = _sent(fakes.openai, "/responses")["prompt_cache_key"]
    _ask(http, "openai", system="You review specs.", metadata={"agent": "critic"})
    assert _sent(fakes.openai, "/responses")["prompt_cache_key"] == first  # same spec, same key
    _ask(http, "openai", cache={"key": "wave-7", "ttl": "1h"})
    sent = _sent(fakes.openai, "/responses")
    assert (sent["prompt_cache_key"], sent["prompt_cache_retention"]) == ("wave-7", "24h")
    _ask(http, "openai", cache="off")
    assert "prompt_cache_key" not in _sent(fakes.openai, "/responses")


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_a_long_system_prompt_is_read_from_the_cache_and_priced_so(
    http: httpx.Client, provider: str
) -> None:
    spec = "The spec says this. " * 400  # well over the 1024-token minimum
    # The catalogue's Claude models have no shipped price: give them one.
    price = {"input_usd_per_mtok": 3.0, "output_usd_per_mtok": 15.0}
    cached = {"cache_read_usd_per_mtok": 0.3, "cache_write_usd_per_mtok": 3.75}
    http.put("/v1/settings", json={"prices": {"claude-sonnet-5-5": {**price, **cached}}})
    _, first, _ = _ask(http, provider, system=spec, model=None)
    _, second, _ = _ask(http, provider, system=spec)
    assert second["usage"]["cache_read_tokens"] > 1000
    assert second["usage"]["cost_usd"] < first["usage"]["cost_usd"]
    if provider == "anthropic":
        assert first["usage"]["cache_write_tokens"] > 1000


def test_top_p_is_sent_where_the_api_takes_it(http: httpx.Client, fakes: Upstreams) -> None:
    status, _, _ = _ask(http, "openai", top_p=0.5)
    assert status == 200
    assert _sent(fakes.openai, "/responses")["top_p"] == 0.5
    status, body, _ = _ask(http, "anthropic", top_p=0.5)
    assert status == 422
    assert body["details"][0]["loc"] == ["body", "top_p"]


@pytest.mark.parametrize(
    ("provider", "extra", "loc"),
    [
        (
            "anthropic",
            {"reasoning": {"budget_tokens": 2048}, "max_tokens": 1024},
            ["body", "reasoning", "budget_tokens"],
        ),
        (
            "anthropic",
            {
                "reasoning": {"effort": "high"},
                "tools": [{"name": "t", "input_schema": {"type": "object"}}],
                "tool_choice": "required",
            },
            ["body", "tool_choice"],
        ),
        ("anthropic", {"reasoning": {"effort": "none"}}, None),  # thinking off: taken
        ("openai", {"reasoning": {"budget_tokens": 2048}}, ["body", "reasoning", "budget_tokens"]),
        ("openai", {"reasoning": {"effort": "max"}}, ["body", "reasoning", "effort"]),
    ],
)
def test_what_the_apis_refuse_is_refused_up_front(
    http: httpx.Client, fakes: Upstreams, provider: str, extra: dict[str, Any], loc: Any
) -> None:
    status, body, _ = _ask(http, provider, **extra)
    fake = fakes.anthropic if provider == "anthropic" else fakes.openai
    if loc is None:
        assert status == 200, body
        return
    assert status == 422, body
    assert body["details"][0]["loc"] == loc
    assert not [r for r in fake.requests if r.method == "POST"]


def test_model_capabilities_come_from_the_list_where_it_says(http: httpx.Client) -> None:
    listing = http.get("/v1/models", params={"refresh": "true"}).json()
    by_provider = {p["provider"]: p["models"] for p in listing["providers"]}
    claude = by_provider["anthropic"][0]["capabilities"]
    assert claude["source"] == "live"
    assert claude["thinking"] == ["adaptive", "between_tools", "disabled"]
    assert claude["efforts"] == ["low", "medium", "high", "xhigh", "max"]
    assert (claude["images"], claude["documents"], claude["structured_output"]) == (
        True,
        True,
        True,
    )
    gpt = by_provider["openai"][0]["capabilities"]  # OpenAI's list says nothing: the catalogue
    assert (gpt["source"], gpt["reasoning"]) == ("catalogue", True)
    status = http.get("/v1/providers/openai").json()["capabilities"]
    assert status["top_p"]
    assert status["response_format"]
    assert status["images"]


def test_a_model_the_list_says_takes_no_budget_is_refused_and_one_that_takes_only_budgets_gets_one(
    http: httpx.Client, fakes: Upstreams, daemon: LiveServer
) -> None:
    # The fake's models take adaptive thinking, not budgets (as the list says).
    http.get("/v1/models", params={"refresh": "true"})
    status, body, _ = _ask(http, "anthropic", reasoning={"budget_tokens": 2048}, max_tokens=4096)
    assert status == 422
    assert "takes no thinking budget" in body["message"]
    entry = fakes.anthropic.models[0]
    types = entry["capabilities"]["thinking"]["types"]  # this fake's own copy
    types["adaptive"], types["enabled"] = {"supported": False}, {"supported": True}
    http.get("/v1/models", params={"refresh": "true"})
    high = {"effort": "high"}
    status, body, _ = _ask(http, "anthropic", model=entry["id"], reasoning=high, max_tokens=8192)
    assert status == 200, body
    thinking = _sent(fakes.anthropic, "/v1/messages")["thinking"]
    assert thinking == {"type": "enabled", "budget_tokens": 8191}  # high's 16384, below 8192
    status, body, _ = _ask(http, "anthropic", model=entry["id"], reasoning=high)
    assert status == 422  # max_tokens 1024 leaves no 1024-token budget below it
    assert body["details"][0]["loc"] == ["body", "max_tokens"]
    assert json.dumps(body)
