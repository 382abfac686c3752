"""A request taken whole is asked of the provider whole (issue 38: one answer to read, not a
stream to decode and translate), and nothing else changes.

- What goes on the wire is what the installed SDK sends for the same non-streaming call.
- A whole answer reads as its stream reads: for every recorded stream in tests/wire, the
  answer whole (the SDK's own accumulation of that stream, or the wire's final response
  object) gives the same content, stop reason, usage and model as the stream.
- Through the daemon, against the fakes, every kind of answer (text, tool calls, thinking,
  redacted thinking, structured output, a cut answer, cached input) is the same whole as
  streamed, on every wire; a long answer (max_tokens past
  KATA_PROVIDERS_WHOLE_MAX_TOKENS, 4,096) still streams, and 0 streams every one.
- A server that streams a request asked for whole is read as the stream it sent.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import httpx
import httpx2
import pytest

from adapters.anthropic.adapter import AnthropicAdapter
from adapters.anthropic.body import build_params
from adapters.base import AdapterEvent, Credential, Finished, UsageSeen
from adapters.fakes.server import Step
from adapters.openai.adapter import OpenAIAdapter
from adapters.openai.chat import chat_params
from adapters.openai.responses import responses_params
from contracts.base import AuthMode
from contracts.errors import ProviderError
from contracts.executions import ExecutionRequest
from service.executions.accumulator import Accumulator
from service.executions.ports import WHOLE_MAX_TOKENS, Deadlines
from service.executions.retry import RetryPolicy
from service.process.config import DaemonConfig, load_env_config
from tests.support import (
    ANTHROPIC_KEY,
    OPENAI_KEY,
    LiveServer,
    Upstreams,
    loopback,
    make_runtime,
    read_sse,
)
from tests.test_wire_differential import (
    CASES,
    KEY,
    SHAPES,
    Seen,
    _answer,
    _drain,
    _x_api_key_anthropic,
)
from tests.wire_recordings import Recording, recordings

MODELS = {"anthropic": "claude-sonnet-5-5", "responses": "gpt-5.5", "chat": "gpt-5.5"}
ANTHROPIC_WHOLE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-5-5",
    "content": [{"type": "text", "text": "Hello."}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 3, "output_tokens": 2},
}
CHAT_WHOLE = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-5.5",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello."},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
}


def _adapter(api: str, url: str) -> Any:
    if api == "anthropic":
        return AnthropicAdapter(url)
    return OpenAIAdapter(f"{url}/v1", wire_api=api)


def _completed_response(raw: bytes) -> dict[str, Any]:
    """The Responses stream's own whole answer: the `response.completed` event's response."""
    for block in raw.decode().split("\n\n"):
        for line in block.splitlines():
            if line.startswith("data:"):
                event = json.loads(line[5:])
                if event.get("type") in ("response.completed", "response.incomplete"):
                    response: dict[str, Any] = event["response"]
                    return response
    raise AssertionError("the recording has no final response")


def _whole_body(api: str) -> dict[str, Any]:
    if api == "anthropic":
        return ANTHROPIC_WHOLE
    if api == "chat":
        return CHAT_WHOLE
    recording = next(r for r in recordings() if r.protocol == "responses")
    return _completed_response(recording.raw)


def _sdk(api: str, url: str, seen: Seen, body: dict[str, Any]) -> Any:
    transport = httpx2.MockTransport(_answer(seen, json.dumps(body).encode(), "application/json"))
    options: dict[str, Any] = {
        "api_key": KEY,
        "max_retries": 0,
        "http_client": httpx2.AsyncClient(transport=transport),
    }
    if api == "anthropic":
        return _x_api_key_anthropic()(base_url=url, **options)
    from openai import AsyncOpenAI

    return AsyncOpenAI(base_url=f"{url}/v1", **options)


@pytest.mark.parametrize(("api", "shape"), CASES, ids=[f"{a}-{s}" for a, s in CASES])
async def test_a_whole_request_is_sent_as_the_sdk_sends_it_unstreamed(api: str, shape: str) -> None:
    execution = ExecutionRequest.model_validate(SHAPES[shape])
    model = MODELS[api]
    body = _whole_body(api)
    wire_seen, sdk_seen = Seen(), Seen()
    async with loopback(_answer(wire_seen, json.dumps(body).encode(), "application/json")) as url:
        adapter = _adapter(api, url)
        credential = Credential(AuthMode.API_KEY, api_key=KEY)
        ours = await _drain(adapter.stream(execution, model, credential, whole=True))
        await adapter.aclose()
    sdk = _sdk(api, url, sdk_seen, body)
    if api == "anthropic":
        params = {**build_params(execution, model), "stream": False}
        await sdk.messages.create(**params)
    elif api == "chat":
        params = chat_params(execution, model, cache_by_default=True)
        del params["stream"], params["stream_options"]
        await sdk.chat.completions.create(**params)
    else:
        await sdk.responses.create(**{**responses_params(execution, model), "stream": False})
    await sdk.close()
    assert wire_seen.requests == sdk_seen.requests
    sent = wire_seen.requests[0][3]
    assert "stream_options" not in sent
    assert sent.get("stream") in (False, None)
    assert isinstance(ours[-1], Finished)


def _outcome(events: list[AdapterEvent]) -> tuple[Any, ...]:
    """What an execution makes of an answer's events: its blocks, stop reason, usage, model."""
    accumulator = Accumulator()
    finished = [e for e in events if isinstance(e, Finished)]
    for event in events:
        if not isinstance(event, Finished | UsageSeen):
            accumulator.add(event)
    assert len(finished) == 1
    assert events[-1] is finished[0]
    end = finished[0]
    # OpenAI encrypts a reasoning item afresh for each event that carries it (the recorded
    # stream's `output_item.done` and `response.completed` differ): either is the proof.
    blocks = [
        {**b.model_dump(), "encrypted_content": bool(b.model_dump().get("encrypted_content"))}
        for b in accumulator.blocks()
    ]
    return blocks, end.stop_reason, end.usage, end.model


async def _sdk_whole(recording: Recording, model: str) -> dict[str, Any]:
    """The recorded stream made whole by the installed SDK's own accumulation (the Responses
    wire carries its whole answer in its last event)."""
    if recording.protocol == "responses":
        return _completed_response(recording.raw)
    seen = Seen()
    transport = httpx2.MockTransport(_answer(seen, recording.raw, "text/event-stream"))
    http = httpx2.AsyncClient(transport=transport)
    ask: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": "x"}]}
    if recording.protocol == "anthropic":
        client = _x_api_key_anthropic()(
            api_key=KEY, base_url="http://sdk.test", max_retries=0, http_client=http
        )
        async with client.messages.stream(max_tokens=10, **ask) as stream:
            message = await stream.get_final_message()
        whole: dict[str, Any] = message.model_dump(mode="json")
    else:
        from openai import AsyncOpenAI

        client = AsyncOpenAI(
            api_key=KEY, base_url="http://sdk.test/v1", max_retries=0, http_client=http
        )
        async with client.chat.completions.stream(**ask) as stream:
            completion = await stream.get_final_completion()
        whole = completion.model_dump(mode="json")
    await client.close()
    return whole


RECORDINGS = recordings()


@pytest.mark.parametrize("recording", RECORDINGS, ids=[r.name for r in RECORDINGS])
async def test_every_recorded_answer_reads_the_same_whole_as_streamed(
    recording: Recording,
) -> None:
    model = MODELS[recording.protocol]
    execution = ExecutionRequest.model_validate(SHAPES["plain"])
    credential = Credential(AuthMode.API_KEY, api_key=KEY)
    async with loopback(_answer(Seen(), recording.raw, "text/event-stream")) as url:
        adapter = _adapter(recording.protocol, url)
        streamed = await _drain(adapter.stream(execution, model, credential))
        # A server that streams a request asked for whole: read as the stream it sent.
        streamed_anyway = await _drain(adapter.stream(execution, model, credential, whole=True))
        await adapter.aclose()
    whole_body = json.dumps(await _sdk_whole(recording, model)).encode()
    async with loopback(_answer(Seen(), whole_body, "application/json")) as url:
        adapter = _adapter(recording.protocol, url)
        whole = await _drain(adapter.stream(execution, model, credential, whole=True))
        await adapter.aclose()
    assert streamed_anyway == streamed
    expected = _outcome(streamed)
    assert expected[0], "the recording has content"
    assert _outcome(whole) == expected


# --- through the daemon, against the fakes ---------------------------------------------------

TOOL = {
    "name": "read_file",
    "description": "Read a file",
    "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}},
}
SCHEMA = {
    "type": "object",
    "properties": {"verdict": {"type": "string"}},
    "required": ["verdict"],
    "additionalProperties": False,
}
ASKS: dict[str, dict[str, Any]] = {
    "text": {"messages": [{"role": "user", "content": "hello there"}]},
    "tool_call": {
        "tools": [TOOL],
        "tool_choice": {"name": "read_file"},
        "messages": [{"role": "user", "content": "read a.txt"}],
    },
    "thinking": {
        "reasoning": {"effort": "high"},
        "messages": [{"role": "user", "content": "think first"}],
    },
    "redacted": {
        "reasoning": {"effort": "high"},
        "messages": [{"role": "user", "content": "!redacted think"}],
    },
    "structured": {
        "response_format": {"type": "json_schema", "name": "review", "schema": SCHEMA},
        "messages": [{"role": "user", "content": "judge it"}],
    },
    "cut": {"max_tokens": 3, "messages": [{"role": "user", "content": "a b c d e f g h i j"}]},
}
ANSWER_CASES = [(p, ask) for p in ("anthropic", "openai") for ask in ASKS]


def _comparable(result: dict[str, Any]) -> dict[str, Any]:
    """A result without what differs by nature between two runs (ids and timings: the fake
    draws a tool call's and a reasoning item's id afresh)."""
    dropped = ("id", "item_id")
    content = [{k: v for k, v in b.items() if k not in dropped} for b in result["content"]]
    return {
        "content": content,
        "stop_reason": result["stop_reason"],
        "usage": {k: v for k, v in (result["usage"] or {}).items() if k != "cost_usd"},
        "model": result["model"],
        "parsed": result.get("parsed"),
    }


def _last_body(fakes: Upstreams, provider: str) -> dict[str, Any]:
    fake = fakes.anthropic if provider == "anthropic" else fakes.openai
    posts = [r for r in fake.requests if r.method == "POST"]
    body: dict[str, Any] = posts[-1].json()
    return body


@pytest.mark.parametrize(
    ("provider", "ask"), ANSWER_CASES, ids=[f"{p}-{a}" for p, a in ANSWER_CASES]
)
def test_every_kind_of_answer_is_the_same_whole_as_streamed(
    http: httpx.Client, fakes: Upstreams, provider: str, ask: str
) -> None:
    body = {"provider": provider, **ASKS[ask]}
    whole = http.post("/v1/executions", json=body)
    assert whole.status_code == 200, whole.text
    assert _last_body(fakes, provider).get("stream") is False
    with http.stream("POST", "/v1/executions", json={**body, "stream": True}) as answer:
        last = read_sse(answer.iter_lines(), 500)[-1].json()
    assert _last_body(fakes, provider)["stream"] is True
    assert _comparable(whole.json()) == _comparable(last["result"])
    assert whole.json()["content"], "an answer has content"


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_a_long_answer_taken_whole_still_streams_upstream(
    http: httpx.Client, fakes: Upstreams, provider: str
) -> None:
    for max_tokens, streamed in ((WHOLE_MAX_TOKENS, False), (WHOLE_MAX_TOKENS + 1, True)):
        body = {
            "provider": provider,
            "max_tokens": max_tokens,
            "messages": [{"role": "user", "content": "hello there"}],
        }
        answer = http.post("/v1/executions", json=body)
        assert answer.status_code == 200, answer.text
        assert bool(_last_body(fakes, provider).get("stream")) is streamed
        assert answer.json()["content"][0]["text"]


def test_the_wait_for_a_whole_answer_allows_for_its_output() -> None:
    deadlines = Deadlines(first_token_s=10.0)
    # The SDK's own rule: 128,000 tokens an hour at the slowest.
    assert deadlines.whole_s(0) == 10.0
    assert deadlines.whole_s(1280) == pytest.approx(10.0 + 36.0)
    assert deadlines.whole_s(WHOLE_MAX_TOKENS) < 600.0


def test_a_whole_answer_may_take_longer_than_a_first_token_but_not_forever(
    config: DaemonConfig, fakes: Upstreams
) -> None:
    # First token within 0.3 s; a whole answer of up to 36 tokens gets 0.3 + 1.0 s.
    config = dataclasses.replace(config, first_token_timeout_s=0.3)
    runtime = make_runtime(
        config, adapters=fakes.adapters(), watch=False, policy=RetryPolicy(max_retries=0)
    )
    body = {
        "provider": "anthropic",
        "max_tokens": 36,
        "messages": [{"role": "user", "content": "hello there"}],
    }
    with LiveServer.start(config, runtime) as live, live.client() as http:
        http.put("/v1/providers/anthropic/api-key", json={"api_key": ANTHROPIC_KEY})
        fakes.anthropic.push(Step(delay_s=0.6))
        slow = http.post("/v1/executions", json=body)
        fakes.anthropic.push(Step(delay_s=0.6))
        with http.stream("POST", "/v1/executions", json={**body, "stream": True}) as answer:
            streamed = read_sse(answer.iter_lines(), 500)[-1].json()
        fakes.anthropic.push(Step(delay_s=2.0))
        stuck = http.post("/v1/executions", json=body)
    assert slow.status_code == 200, slow.text
    assert streamed["error"]["code"] == "timeout"
    assert "0.3 s" in streamed["error"]["message"]
    assert stuck.status_code == 504, stuck.text
    error = stuck.json()
    assert error["code"] == "timeout"
    assert "within 1 s" in error["message"]
    assert "whole answer" in error["message"]


def test_whole_answers_can_be_turned_off(config: DaemonConfig, fakes: Upstreams) -> None:
    assert DaemonConfig().whole_max_tokens == WHOLE_MAX_TOKENS  # one default, two homes
    assert load_env_config({"KATA_PROVIDERS_WHOLE_MAX_TOKENS": "0"}) == {"whole_max_tokens": 0}
    with pytest.raises(ValueError, match="whole_max_tokens"):
        load_env_config({"KATA_PROVIDERS_WHOLE_MAX_TOKENS": "-1"})
    config = dataclasses.replace(config, whole_max_tokens=0)
    runtime = make_runtime(config, adapters=fakes.adapters(), watch=False)
    with LiveServer.start(config, runtime) as live, live.client() as http:
        http.put("/v1/providers/openai/api-key", json={"api_key": OPENAI_KEY})
        body = {
            "provider": "openai",
            "max_tokens": 1,
            "messages": [{"role": "user", "content": "hi"}],
        }
        answer = http.post("/v1/executions", json=body)
    assert answer.status_code == 200, answer.text
    assert _last_body(fakes, "openai")["stream"] is True


@pytest.mark.parametrize("api", ["anthropic", "responses", "chat"])
@pytest.mark.parametrize("body", [b"[1, 2]", b"{not json", b'"text"'])
async def test_a_whole_answer_that_is_not_a_json_object_is_a_malformed_answer(
    api: str, body: bytes
) -> None:
    execution = ExecutionRequest.model_validate(SHAPES["plain"])
    credential = Credential(AuthMode.API_KEY, api_key=KEY)
    async with loopback(_answer(Seen(), body, "application/json")) as url:
        adapter = _adapter(api, url)
        with pytest.raises(ProviderError, match="malformed answer") as raised:
            await _drain(adapter.stream(execution, MODELS[api], credential, whole=True))
        await adapter.aclose()
    assert raised.value.code.value == "unexpected_error"


async def test_a_compatible_servers_failure_answered_200_is_its_error() -> None:
    # Some Chat Completions servers answer a failure with status 200 and an `error` object, in a
    # stream as in a whole answer; read as the stream's is.
    failed = {"error": {"code": "context_length_exceeded", "message": "Too long for the model."}}
    execution = ExecutionRequest.model_validate(SHAPES["plain"])
    credential = Credential(AuthMode.API_KEY, api_key=KEY)
    raw = json.dumps(failed).encode()
    async with loopback(_answer(Seen(), raw, "application/json")) as url:
        adapter = _adapter("chat", url)
        with pytest.raises(ProviderError, match="Too long for the model") as whole:
            await _drain(adapter.stream(execution, "gpt-5.5", credential, whole=True))
        await adapter.aclose()
    async with loopback(_answer(Seen(), b"data: " + raw + b"\n\n", "text/event-stream")) as url:
        adapter = _adapter("chat", url)
        with pytest.raises(ProviderError, match="Too long for the model") as streamed:
            await _drain(adapter.stream(execution, "gpt-5.5", credential))
        await adapter.aclose()
    assert whole.value.code == streamed.value.code
