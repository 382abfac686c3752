"""The direct path against the installed SDKs, side by side (issue 14).

The daemon builds its upstream requests and reads the answers itself (`adapters.pool`); the SDKs
stay the source of truth. For every request shape the adapters send, the request that goes on
the wire is the one the SDK would send (method, path, query, every header except the SDK's own
telemetry, body); every recorded stream in tests/wire read by the direct path gives the same
neutral events as the SDK's typed stream fed to the same mapper; model lists and error answers
come out the same. An SDK upgrade that changes any of it fails here, not for a user.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx2
import pytest
import yaml

from adapters.anthropic import api as anthropic_api
from adapters.anthropic.adapter import AnthropicAdapter
from adapters.anthropic.body import MESSAGES, build_params
from adapters.anthropic.errors import map_errors as anthropic_errors
from adapters.anthropic.translate import EventMapper
from adapters.base import AdapterEvent, Credential, Finished
from adapters.capabilities import CapabilityTable, used_parameters
from adapters.openai.adapter import OpenAIAdapter
from adapters.openai.chat import CHAT, ChatMapper, chat_params
from adapters.openai.errors import map_errors as openai_errors
from adapters.openai.responses import RESPONSES, ResponsesMapper, responses_params
from contracts.base import AuthMode
from contracts.errors import ProviderError
from contracts.executions import ExecutionRequest
from contracts.stream import TextDeltaEvent
from tests.support import loopback
from tests.wire_recordings import WIRE, Recording, recordings

KEY = "sk-differential-key-0000"
# The SDK's own telemetry and transport headers: not part of what the API is asked.
IGNORED = {
    "host",
    "user-agent",
    "accept-encoding",
    "connection",
    "content-length",
}

SHAPES: dict[str, dict[str, Any]] = {
    "plain": {"messages": [{"role": "user", "content": "hello"}]},
    "system_stop_limits": {
        "system": "Answer in one word.",
        "stop": ["END", "\n\n"],
        "max_tokens": 77,
        "metadata": {"agent": "review", "run": "r-1"},
        "messages": [{"role": "user", "content": "hello"}],
    },
    "temperature": {"temperature": 0.3, "messages": [{"role": "user", "content": "hi"}]},
    "unicode": {
        "messages": [{"role": "user", "content": "émoji 🚀, 中文, line\u2028sep, nul\\u0000"}]
    },
    "tools_and_results": {
        "system": "Use the tools.",
        "tools": [
            {
                "name": "read_file",
                "description": "Read a file",
                "input_schema": {
                    "type": "object",
                    "properties": {"path": {"type": "string"}},
                    "required": ["path"],
                },
            },
            {"name": "list_dir", "description": "List", "input_schema": {"type": "object"}},
        ],
        "tool_choice": "auto",
        "messages": [
            {"role": "user", "content": "read a.txt"},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Reading."},
                    {
                        "type": "tool_call",
                        "id": "call_1",
                        "name": "read_file",
                        "arguments": {"path": "a.txt", "n": [1, 2.5, None, True]},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_call_id": "call_1", "content": "contents"},
                    {
                        "type": "tool_result",
                        "tool_call_id": "call_1",
                        "content": [{"type": "text", "text": "more"}],
                        "is_error": True,
                    },
                ],
            },
        ],
    },
    "tool_choice_required": {
        "tools": [{"name": "t", "description": "d", "input_schema": {"type": "object"}}],
        "tool_choice": "required",
        "messages": [{"role": "user", "content": "go"}],
    },
    "tool_choice_none": {
        "tools": [{"name": "t", "description": "d", "input_schema": {"type": "object"}}],
        "tool_choice": "none",
        "messages": [{"role": "user", "content": "go"}],
    },
    "tool_choice_named": {
        "tools": [{"name": "t", "description": "d", "input_schema": {"type": "object"}}],
        "tool_choice": {"name": "t"},
        "messages": [{"role": "user", "content": "go"}],
    },
    "thinking_signed": {
        "messages": [
            {"role": "user", "content": "think"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hmm", "signature": "sig-abc"},
                    {"type": "text", "text": "done"},
                ],
            },
            {"role": "user", "content": "again"},
        ]
    },
}


def _accepted(table: CapabilityTable) -> list[str]:
    """The shapes this wire API accepts (the others are refused with 422 before any call)."""
    return [
        name
        for name, shape in SHAPES.items()
        if all(
            table.parameters.get(p) is not None
            for p in used_parameters(ExecutionRequest.model_validate(shape))
        )
    ]


def _sse(events: list[dict[str, Any]], named: bool) -> bytes:
    out = []
    for event in events:
        head = f"event: {event['type']}\n" if named else ""
        out.append(f"{head}data: {json.dumps(event)}\n\n")
    return "".join(out).encode()


ANTHROPIC_OK = _sse(
    [
        {
            "type": "message_start",
            "message": {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": "claude-sonnet-5-5",
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": 3, "output_tokens": 1},
            },
        },
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "ok"}},
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": 2},
        },
        {"type": "message_stop"},
    ],
    named=True,
)


def _responses_ok() -> bytes:
    recording = next(r for r in recordings() if r.protocol == "responses")
    return recording.raw


def _chat_ok() -> bytes:
    recording = next(r for r in recordings() if r.protocol == "chat")
    return recording.raw


class Seen:
    """What arrived at an upstream: method, path with query, headers, JSON body."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str], Any]] = []

    def add(self, request: httpx2.Request) -> None:
        body = json.loads(request.content) if request.content else None
        query = f"?{request.url.query.decode()}" if request.url.query else ""
        headers = {
            k.lower(): v
            for k, v in request.headers.items()
            if k.lower() not in IGNORED and not k.lower().startswith("x-stainless-")
        }
        self.requests.append((request.method, request.url.path + query, headers, body))


def _answer(seen: Seen, body: bytes, content_type: str) -> Callable[[httpx2.Request], Any]:
    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.add(request)
        return httpx2.Response(200, content=body, headers={"content-type": content_type})

    return handler


async def _drain(events: AsyncIterator[AdapterEvent]) -> list[AdapterEvent]:
    return [event async for event in events]


def _x_api_key_anthropic() -> Any:
    """The installed SDK as the daemon used it for keys: `X-Api-Key`, as Anthropic documents
    (the SDK itself would send the key as a bearer token; the API accepts both)."""
    from anthropic import AsyncAnthropic

    class XApiKeyAnthropic(AsyncAnthropic):
        @property
        def _api_key_auth(self) -> dict[str, str]:
            return {"X-Api-Key": self.api_key} if self.api_key else {}

    return XApiKeyAnthropic


def _anthropic_sdk(url: str, seen: Seen, body: bytes, **options: Any) -> Any:
    transport = httpx2.MockTransport(_answer(seen, body, "text/event-stream"))
    return _x_api_key_anthropic()(
        api_key=KEY,
        base_url=url,
        max_retries=0,
        http_client=httpx2.AsyncClient(transport=transport),
        **options,
    )


def _openai_sdk(url: str, seen: Seen, body: bytes, **options: Any) -> Any:
    from openai import AsyncOpenAI

    transport = httpx2.MockTransport(_answer(seen, body, "text/event-stream"))
    return AsyncOpenAI(
        api_key=options.pop("api_key", KEY),
        base_url=url,
        max_retries=0,
        http_client=httpx2.AsyncClient(transport=transport),
        **options,
    )


@pytest.fixture
def account_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Headers the SDKs take from the environment: the direct path must send them too."""
    monkeypatch.setenv("ANTHROPIC_CUSTOM_HEADERS", "X-Team: kata\nanthropic-beta: tools-2026")
    monkeypatch.setenv("OPENAI_ORG_ID", "org-differential")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-differential")


def test_the_api_version_is_the_installed_sdks() -> None:
    from anthropic._constants import ANTHROPIC_API_VERSION

    from adapters.anthropic.versions import API_VERSION, API_VERSIONS

    assert API_VERSION == ANTHROPIC_API_VERSION
    # The one the SDK sends is one the document states and the fake takes.
    spec = Path(__file__).resolve().parents[1] / "openapi" / "openapi.json"
    document = json.loads(spec.read_text())
    stated = {
        parameter["name"]: parameter["schema"]["enum"]
        for parameter in document["paths"]["/anthropic/v1/messages"]["post"]["parameters"]
    }
    assert stated["anthropic-version"][0] == ANTHROPIC_API_VERSION
    assert stated["anthropic-version"] == list(API_VERSIONS)


def test_every_shape_is_sent_somewhere() -> None:
    covered = set(_accepted(MESSAGES)) | set(_accepted(RESPONSES))
    assert covered == set(SHAPES)
    assert "temperature" not in _accepted(MESSAGES)  # the installed SDK refuses it


async def _requests_both_ways(
    api: str, execution: ExecutionRequest
) -> tuple[Seen, Seen, list[AdapterEvent]]:
    """What the direct path sent for `execution`, what the installed SDK sent for it, and the
    direct path's events."""
    wire_seen, sdk_seen = Seen(), Seen()
    body = {"anthropic": ANTHROPIC_OK, "chat": _chat_ok()}.get(api) or _responses_ok()
    model = "claude-sonnet-5-5" if api == "anthropic" else "gpt-5.5"
    credential = Credential(AuthMode.API_KEY, api_key=KEY)
    async with loopback(_answer(wire_seen, body, "text/event-stream")) as url:
        if api == "anthropic":
            adapter: Any = AnthropicAdapter(url)
        else:
            adapter = OpenAIAdapter(f"{url}/v1", wire_api=api)
        events = await _drain(adapter.stream(execution, model, credential))
        await adapter.aclose()
        if api == "anthropic":
            sdk = _anthropic_sdk(url, sdk_seen, body)
            raw = sdk.messages.with_streaming_response.create(**build_params(execution, model))
        else:
            sdk = _openai_sdk(f"{url}/v1", sdk_seen, body)
            if api == "chat":
                calls = sdk.chat.completions.with_streaming_response
                raw = calls.create(**chat_params(execution, model, cache_by_default=True))
            else:
                raw = sdk.responses.with_streaming_response.create(
                    **responses_params(execution, model)
                )
        async with raw as response:
            await response.read()
        await sdk.close()
    return wire_seen, sdk_seen, events


CASES = [
    (api, shape)
    for api, table in (
        ("anthropic", MESSAGES),
        ("responses", RESPONSES),
        ("chat", CHAT),
    )
    for shape in _accepted(table)
]


@pytest.mark.parametrize("env", [False, True], ids=["plain_env", "account_env"])
@pytest.mark.parametrize(("api", "shape"), CASES, ids=[f"{api}-{shape}" for api, shape in CASES])
async def test_requests_match_the_sdk(
    api: str, shape: str, env: bool, request: pytest.FixtureRequest
) -> None:
    if env:
        request.getfixturevalue("account_env")
    execution = ExecutionRequest.model_validate(SHAPES[shape])
    wire_seen, sdk_seen, events = await _requests_both_ways(api, execution)
    assert wire_seen.requests == sdk_seen.requests
    assert len(wire_seen.requests) == 1
    assert isinstance(events[-1], Finished)


async def test_a_codex_chatgpt_sign_in_is_sent_as_the_sdk_would(tmp_path: Path) -> None:
    auth = tmp_path / "auth.json"
    auth.write_text(
        json.dumps({"tokens": {"access_token": "codex-access-token", "account_id": "acct-9"}})
    )
    execution = ExecutionRequest.model_validate(SHAPES["system_stop_limits"])
    wire_seen, sdk_seen = Seen(), Seen()
    body = _responses_ok()
    async with loopback(_answer(wire_seen, body, "text/event-stream")) as url:
        adapter = OpenAIAdapter(f"{url}/v1", codex_base_url=f"{url}/backend-api/codex")
        credential = Credential(AuthMode.TOKEN_SESSION, token_file=auth, chatgpt=True)
        await _drain(adapter.stream(execution, "gpt-5.5", credential))
        await adapter.aclose()
        sdk = _openai_sdk(
            f"{url}/backend-api/codex",
            sdk_seen,
            body,
            api_key="codex-access-token",
            default_headers={"ChatGPT-Account-ID": "acct-9", "originator": "kata_providers"},
        )
        params = responses_params(execution, "gpt-5.5", codex=True)
        async with sdk.responses.with_streaming_response.create(**params) as response:
            await response.read()
        await sdk.close()
    assert wire_seen.requests == sdk_seen.requests
    assert wire_seen.requests[0][1] == "/backend-api/codex/responses"


# --- streams: the direct path's reading against the SDK's typed events -----------------------


async def _sdk_events(recording: Recording, model: str) -> list[AdapterEvent]:
    """The recorded stream parsed by the installed SDK into its typed events, fed to the same
    mapper the adapters use."""
    seen = Seen()
    events: list[AdapterEvent] = []
    if recording.protocol == "anthropic":
        client = _anthropic_sdk("http://sdk.test", seen, recording.raw)
        mapper: Any = EventMapper(model)
        stream = await client.messages.create(
            model=model, max_tokens=10, messages=[{"role": "user", "content": "x"}], stream=True
        )
        finished = False
        async for event in stream:
            for out in mapper.feed(event):
                finished = finished or isinstance(out, Finished)
                events.append(out)
        if not finished and (end := mapper.end()) is not None:
            events.append(end)
    elif recording.protocol == "responses":
        client = _openai_sdk("http://sdk.test/v1", seen, recording.raw)
        mapper = ResponsesMapper(model)
        stream = await client.responses.create(
            model=model, input=[{"role": "user", "content": "x"}], stream=True
        )
        async for event in stream:
            events.extend(mapper.feed(event))
    else:
        client = _openai_sdk("http://sdk.test/v1", seen, recording.raw)
        mapper = ChatMapper(model)
        stream = await client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "x"}], stream=True
        )
        async for chunk in stream:
            events.extend(mapper.feed(chunk))
        events.append(mapper.finish())
    await client.close()
    return events


def _without_request_id(events: list[AdapterEvent]) -> list[AdapterEvent]:
    # The SDK arm answers from a mock without the recorded response's headers.
    from dataclasses import replace

    return [replace(e, upstream_request_id=None) if isinstance(e, Finished) else e for e in events]


RECORDINGS = recordings()


@pytest.mark.parametrize("recording", RECORDINGS, ids=[r.name for r in RECORDINGS])
async def test_every_recorded_stream_reads_as_the_sdk_reads_it(recording: Recording) -> None:
    model = "claude-sonnet-5-5" if recording.protocol == "anthropic" else "gpt-5.5"
    execution = ExecutionRequest.model_validate(SHAPES["plain"])
    async with loopback(_answer(Seen(), recording.raw, "text/event-stream")) as url:
        if recording.protocol == "anthropic":
            adapter: Any = AnthropicAdapter(url)
        else:
            adapter = OpenAIAdapter(f"{url}/v1", wire_api=recording.protocol)
        ours = await _drain(adapter.stream(execution, model, Credential(AuthMode.API_KEY, KEY)))
        await adapter.aclose()
    theirs = await _sdk_events(recording, model)
    assert _without_request_id(ours) == _without_request_id(theirs)
    assert len(ours) > 1


# --- model lists and error answers ---------------------------------------------------------

ANTHROPIC_MODELS = [
    {
        "data": [
            {
                "type": "model",
                "id": f"claude-{n}",
                "display_name": f"Claude {n}",
                "created_at": f"2026-01-0{n + 1}T00:00:00Z",
                "max_input_tokens": 200000,
                "max_tokens": 64000,
            }
            for n in range(page * 2, page * 2 + 2)
        ],
        "has_more": page == 0,
        "first_id": f"claude-{page * 2}",
        "last_id": f"claude-{page * 2 + 1}",
    }
    for page in range(2)
]


def _models_upstream(seen: Seen) -> Callable[[httpx2.Request], httpx2.Response]:
    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.add(request)
        if "anthropic-version" in request.headers:
            page = 1 if request.url.params.get("after_id") else 0
            return httpx2.Response(200, json=ANTHROPIC_MODELS[page])
        path = WIRE / "openai_models_list_2023.yaml"
        body = yaml.safe_load(path.read_text())["interactions"][0]["response"]["content"]
        return httpx2.Response(
            200, content=body.encode(), headers={"content-type": "application/json"}
        )

    return handler


async def test_anthropic_model_pages_match_the_sdk() -> None:
    wire_seen, sdk_seen = Seen(), Seen()
    async with loopback(_models_upstream(wire_seen)) as url:
        adapter = AnthropicAdapter(url)
        ours = await adapter.list_models(Credential(AuthMode.API_KEY, api_key=KEY))
        await adapter.aclose()
    transport = httpx2.MockTransport(_models_upstream(sdk_seen))
    sdk = _x_api_key_anthropic()(
        api_key=KEY, base_url="http://sdk.test", http_client=httpx2.AsyncClient(transport=transport)
    )
    theirs = [model async for model in sdk.models.list(limit=anthropic_api.PAGE)]
    await sdk.close()
    assert [(m.id, m.display_name, m.created_at) for m in ours] == [
        (m.id, m.display_name, m.created_at) for m in theirs
    ]
    assert [m.context_window for m in ours] == [200000] * 4
    assert len(wire_seen.requests) == 2  # both pages, the second after the first's last id
    assert wire_seen.requests == sdk_seen.requests


async def test_openai_models_match_the_sdk() -> None:
    from openai import AsyncOpenAI

    wire_seen, sdk_seen = Seen(), Seen()
    async with loopback(_models_upstream(wire_seen)) as url:
        adapter = OpenAIAdapter(f"{url}/v1")
        ours = await adapter.list_models(Credential(AuthMode.API_KEY, api_key=KEY))
        await adapter.aclose()
    transport = httpx2.MockTransport(_models_upstream(sdk_seen))
    sdk = AsyncOpenAI(
        api_key=KEY,
        base_url="http://sdk.test/v1",
        http_client=httpx2.AsyncClient(transport=transport),
    )
    theirs = [model async for model in sdk.models.list()]
    await sdk.close()
    assert [(m.id, int(m.created_at.timestamp()) if m.created_at else None) for m in ours] == [
        (m.id, m.created) for m in theirs
    ]
    assert len(ours) > 10
    assert wire_seen.requests == sdk_seen.requests


TRANSPORT_HEADERS = {"content-encoding", "content-length", "transfer-encoding", "connection"}


def _error_answers() -> list[tuple[str, int, bytes, dict[str, str]]]:
    found = []
    for path in sorted(WIRE.glob("*_[0-9][0-9][0-9]_*.yaml")):
        response = yaml.safe_load(path.read_text())["interactions"][0]["response"]
        # Three cassette formats: vcrpy (body.string), pytest-recording (parsed_body) and
        # respx-style (content, status_code).
        if "body" in response:
            body = response["body"]["string"]
        elif "parsed_body" in response:
            body = json.dumps(response["parsed_body"])
        else:
            body = response["content"]
        status = response["status"]["code"] if "status" in response else response["status_code"]
        headers = {
            k.lower(): v[0] if isinstance(v, list) else str(v)
            for k, v in response["headers"].items()
            if k.lower() not in TRANSPORT_HEADERS
        }
        found.append((path.name, status, body.encode(), headers))
    found.append(("not_json_502", 502, b"<html>Bad gateway</html>", {"request-id": "req_9"}))
    found.append(("json_without_message_500", 500, b'{"oops": 1}', {}))
    return found


ERRORS = _error_answers()


@pytest.mark.parametrize(("name", "status", "body", "headers"), ERRORS, ids=[e[0] for e in ERRORS])
async def test_error_answers_map_as_through_the_sdk(
    name: str, status: int, body: bytes, headers: dict[str, str]
) -> None:
    anthropic = name.startswith(("anthropic", "not_json", "json_without"))
    credential = Credential(AuthMode.API_KEY, api_key=KEY)

    def answer(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(status, content=body, headers=headers)

    execution = ExecutionRequest.model_validate(SHAPES["plain"])
    async with loopback(answer) as url:
        adapter: Any = AnthropicAdapter(url) if anthropic else OpenAIAdapter(f"{url}/v1")
        with pytest.raises(ProviderError) as ours:
            await _drain(adapter.stream(execution, "m", credential))
        await adapter.aclose()
    transport = httpx2.MockTransport(answer)
    client = httpx2.AsyncClient(transport=transport)
    if anthropic:
        from anthropic import AsyncAnthropic

        sdk: Any = AsyncAnthropic(
            api_key=KEY, base_url="http://sdk.test", max_retries=0, http_client=client
        )
        call, boundary = sdk.messages.create(**build_params(execution, "m")), anthropic_errors
    else:
        from openai import AsyncOpenAI

        sdk = AsyncOpenAI(
            api_key=KEY, base_url="http://sdk.test/v1", max_retries=0, http_client=client
        )
        call, boundary = sdk.responses.create(**responses_params(execution, "m")), openai_errors
    with pytest.raises(ProviderError) as theirs, boundary(credential):
        await call
    await sdk.close()
    a, b = ours.value.body(), theirs.value.body()
    assert (a.code, a.message, a.upstream_status, a.upstream_request_id, a.retryable) == (
        b.code,
        b.message,
        b.upstream_status,
        b.upstream_request_id,
        b.retryable,
    )
    assert a.upstream_status == status


# --- proxies: the environment's, as the SDKs' client honours them --------------------------


def test_the_proxy_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from adapters.pool import env_proxy

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp:3128")
    monkeypatch.setenv("NO_PROXY", "localhost,.internal")
    assert env_proxy("https://api.anthropic.com") == "http://proxy.corp:3128"
    assert env_proxy("https://models.internal") is None
    assert env_proxy("http://plain.example") is None  # HTTP_PROXY is not set
    monkeypatch.delenv("NO_PROXY")
    monkeypatch.setenv("ALL_PROXY", "http://all.corp:1")
    assert env_proxy("http://plain.example") == "http://all.corp:1"


async def test_requests_go_through_the_environments_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = Seen()
    async with loopback(_answer(seen, ANTHROPIC_OK, "text/event-stream")) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        adapter = AnthropicAdapter("http://upstream.invalid")
        execution = ExecutionRequest.model_validate(SHAPES["plain"])
        credential = Credential(AuthMode.API_KEY, api_key=KEY)
        events = await _drain(adapter.stream(execution, "claude-sonnet-5-5", credential))
        await adapter.aclose()
    assert isinstance(events[-1], Finished)
    assert seen.requests[0][1] == "/v1/messages"


# --- what real upstreams do that the fakes do not by default --------------------------------


@pytest.mark.parametrize("recording", RECORDINGS[:3], ids=[r.name for r in RECORDINGS[:3]])
async def test_a_gzipped_stream_reads_the_same(recording: Recording) -> None:
    """Anthropic's API compresses its streams (one recording was captured gzipped): the wire
    path asks for it, inflates it, and reads the same events as from the plain bytes."""
    import gzip

    seen = Seen()

    def gzipped(request: httpx2.Request) -> httpx2.Response:
        seen.add(request)
        body = gzip.compress(recording.raw)
        headers = {"content-type": "text/event-stream", "content-encoding": "gzip"}
        return httpx2.Response(200, stream=httpx2.ByteStream(body), headers=headers)

    model = "claude-sonnet-5-5" if recording.protocol == "anthropic" else "gpt-5.5"
    execution = ExecutionRequest.model_validate(SHAPES["plain"])
    outputs = []
    for handler in (gzipped, _answer(Seen(), recording.raw, "text/event-stream")):
        async with loopback(handler) as url:
            adapter: Any = (
                AnthropicAdapter(url)
                if recording.protocol == "anthropic"
                else OpenAIAdapter(f"{url}/v1", wire_api=recording.protocol)
            )
            credential = Credential(AuthMode.API_KEY, api_key=KEY)
            outputs.append(await _drain(adapter.stream(execution, model, credential)))
            await adapter.aclose()
    assert outputs[0] == outputs[1]
    assert len(outputs[0]) > 1


async def test_an_event_far_longer_than_any_buffer_arrives_whole() -> None:
    """A 1 MB text delta (one SSE line): no line-length limit on the direct path."""
    text = "x" * 1_000_000
    events = json.loads(json.dumps(_events_of(ANTHROPIC_OK)))
    events[2]["delta"]["text"] = text
    body = _sse(events, named=True)
    async with loopback(_answer(Seen(), body, "text/event-stream")) as url:
        adapter = AnthropicAdapter(url)
        execution = ExecutionRequest.model_validate(SHAPES["plain"])
        credential = Credential(AuthMode.API_KEY, api_key=KEY)
        out = await _drain(adapter.stream(execution, "claude-sonnet-5-5", credential))
        await adapter.aclose()
    assert [e.text for e in out if isinstance(e, TextDeltaEvent)] == [text]


def _events_of(raw: bytes) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in raw.decode().splitlines() if line.startswith("data: ")]


async def test_a_token_sessions_models_read_as_the_wire_paths(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A token session lists models through the SDK (its credential provider holds the token);
    the result is read by the same function as the direct path's, so both give the same list."""
    monkeypatch.setenv("KATA_DIFFERENTIAL_TOKEN", "sk-ant-oat01-differential-session-token")
    seen = Seen()
    transport = httpx2.MockTransport(_models_upstream(seen))
    sdk_adapter = AnthropicAdapter("http://sdk.test", transport=transport)
    session = Credential(AuthMode.TOKEN_SESSION, env_token="KATA_DIFFERENTIAL_TOKEN")
    theirs = await sdk_adapter.list_models(session)
    await sdk_adapter.aclose()
    async with loopback(_models_upstream(Seen())) as url:
        adapter = AnthropicAdapter(url)
        ours = await adapter.list_models(Credential(AuthMode.API_KEY, api_key=KEY))
        await adapter.aclose()
    assert theirs == ours
    assert len(ours) == 4
    assert seen.requests[0][2]["authorization"].startswith("Bearer sk-ant-oat01-")


@pytest.mark.parametrize("source", ["profile", "env_token"])
async def test_a_token_session_on_the_wire_is_sent_as_the_sdk_sends_it(
    source: str, account_env: None, monkeypatch: pytest.MonkeyPatch, isolated_home: Path
) -> None:
    """A profile's (or ANTHROPIC_AUTH_TOKEN's) token goes on the direct path, without the SDK,
    with the headers the SDK's own token auth sets: the bearer token, `oauth-2025-04-20` added
    to the `anthropic-beta` flags already there, the profile's workspace."""
    from anthropic import AsyncAnthropic
    from anthropic.lib.credentials import EnvToken

    from tests.sessions_fixtures import PROFILE_TOKEN, anthropic_profile

    anthropic_profile(isolated_home / ".config" / "anthropic", active=True)
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", PROFILE_TOKEN)
    if source == "profile":
        credential = Credential(AuthMode.TOKEN_SESSION, profile="default")
        options: dict[str, Any] = {"profile": "default"}
    else:
        credential = Credential(AuthMode.TOKEN_SESSION, env_token="ANTHROPIC_AUTH_TOKEN")
        options = {"credentials": EnvToken("ANTHROPIC_AUTH_TOKEN")}
    execution = ExecutionRequest.model_validate(SHAPES["system_stop_limits"])
    params = build_params(execution, "claude-sonnet-5-5")
    wire_seen, sdk_seen = Seen(), Seen()
    async with loopback(_answer(wire_seen, ANTHROPIC_OK, "text/event-stream")) as url:
        adapter = AnthropicAdapter(url)
        await _drain(adapter.stream(execution, "claude-sonnet-5-5", credential))
        await adapter.aclose()
        transport = httpx2.MockTransport(_answer(sdk_seen, ANTHROPIC_OK, "text/event-stream"))
        sdk = AsyncAnthropic(
            base_url=url,
            max_retries=0,
            http_client=httpx2.AsyncClient(transport=transport),
            **options,
        )
        async with sdk.messages.with_streaming_response.create(**params) as response:
            await response.read()
        await sdk.close()
    assert wire_seen.requests == sdk_seen.requests
    headers = wire_seen.requests[0][2]
    assert headers["authorization"] == f"Bearer {PROFILE_TOKEN}"
    assert headers["anthropic-beta"] == "tools-2026,oauth-2025-04-20"
    assert ("anthropic-workspace-id" in headers) is (source == "profile")
