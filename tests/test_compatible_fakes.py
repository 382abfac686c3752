"""The Ollama-like and Azure-like fakes (`adapters/fakes/ollama.py`, `azure.py`) answer the
installed `openai` SDK as those servers do: the SDK's own `AsyncAzureOpenAI` client builds the
deployment path and the `api-key` header, and both fakes' streams, errors and listings parse
through the SDK's types. The fakes are what user-added providers are tested against."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolParam

from adapters.fakes.azure import AzureResource, FakeAzure
from adapters.fakes.ollama import FakeOllama, OllamaModels

AZURE_KEY = "azure-key-0123456789abcdef0123456789abcd"
API_VERSION = "2024-10-21"
TOOL: ChatCompletionToolParam = {
    "type": "function",
    "function": {
        "name": "read_file",
        "description": "Read a file",
        "parameters": {"type": "object", "properties": {"path": {"type": "string"}}},
    },
}
HI: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hello there"}]


@pytest.fixture
async def ollama() -> AsyncIterator[FakeOllama]:
    fake = FakeOllama(OllamaModels(without_tools={"qwen2.5-coder:7b"}))
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def azure() -> AsyncIterator[FakeAzure]:
    fake = FakeAzure(AzureResource(keys={AZURE_KEY}))
    await fake.start()
    yield fake
    await fake.stop()


def _ollama_client(fake: FakeOllama) -> openai.AsyncOpenAI:
    # Ollama ignores the key; the SDK insists on one.
    return openai.AsyncOpenAI(base_url=f"{fake.url}/v1", api_key="ollama", max_retries=0)


def _azure_client(fake: FakeAzure, key: str = AZURE_KEY) -> openai.AsyncAzureOpenAI:
    return openai.AsyncAzureOpenAI(
        azure_endpoint=fake.url, api_key=key, api_version=API_VERSION, max_retries=0
    )


async def test_ollama_answers_whole_with_usage_and_without_auth(ollama: FakeOllama) -> None:
    answer = await _ollama_client(ollama).chat.completions.create(
        model="llama3.2:latest", messages=HI
    )
    assert answer.system_fingerprint == "fp_ollama"
    assert answer.choices[0].message.content
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage is not None
    assert answer.usage.completion_tokens >= 1
    assert ollama.requests[-1].headers["authorization"] == "Bearer ollama"  # sent, ignored


async def test_ollama_streams_without_usage_even_when_asked(ollama: FakeOllama) -> None:
    stream = await _ollama_client(ollama).chat.completions.create(
        model="llama3.2:latest",
        messages=HI,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip()
    assert all(chunk.usage is None for chunk in chunks)
    assert all(c.choices[0].delta.role == "assistant" for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


async def test_ollama_sends_a_tool_call_whole_in_one_chunk(ollama: FakeOllama) -> None:
    stream = await _ollama_client(ollama).chat.completions.create(
        model="llama3.2:latest",
        messages=[{"role": "user", "content": "read README.md"}],
        tools=[TOOL],
        tool_choice={"type": "function", "function": {"name": "read_file"}},
        stream=True,
    )
    chunks = [chunk async for chunk in stream]
    calls = [c.choices[0].delta.tool_calls for c in chunks if c.choices[0].delta.tool_calls]
    assert len(calls) == 1
    call = calls[0][0]
    assert call.function is not None
    assert call.function.name == "read_file"
    assert (call.function.arguments or "").startswith("{")
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


async def test_ollama_errors_as_ollama_shapes_them(ollama: FakeOllama) -> None:
    client = _ollama_client(ollama)
    with pytest.raises(openai.NotFoundError) as missing:
        await client.chat.completions.create(model="mistral:7b", messages=HI)
    assert "not found, try pulling it first" in str(missing.value)
    assert missing.value.body == {
        "message": 'model "mistral:7b" not found, try pulling it first',
        "type": "not_found_error",
        "param": None,
        "code": None,
    }
    with pytest.raises(openai.BadRequestError) as no_tools:
        await client.chat.completions.create(
            model="qwen2.5-coder:7b",
            messages=HI,
            tools=[TOOL],
        )
    assert "does not support tools" in str(no_tools.value)


async def test_ollama_lists_its_models_or_has_no_listing(ollama: FakeOllama) -> None:
    listed = await _ollama_client(ollama).models.list()
    assert [m.id for m in listed.data] == ["llama3.2:latest", "qwen2.5-coder:7b"]
    bare = FakeOllama(lists_models=False)
    await bare.start()
    try:
        with pytest.raises(openai.NotFoundError):
            await _ollama_client(bare).models.list()
        async with httpx.AsyncClient() as http:
            answer = await http.get(f"{bare.url}/v1/models")
        assert (answer.status_code, answer.text) == (404, "404 page not found")
    finally:
        await bare.stop()


async def test_azure_serves_a_deployment_by_its_path_with_an_api_key_header(
    azure: FakeAzure,
) -> None:
    answer = await _azure_client(azure).chat.completions.create(model="chat", messages=HI)
    request = azure.requests[-1]
    assert request.path == "/openai/deployments/chat/chat/completions"
    assert request.query == {"api-version": API_VERSION}
    assert request.headers["api-key"] == AZURE_KEY
    assert "authorization" not in request.headers
    assert answer.model == "gpt-4o-2024-11-20"  # the deployment's model, not the name asked
    assert answer.choices[0].message.content


async def test_azure_streams_open_with_an_empty_choice_list(azure: FakeAzure) -> None:
    stream = await _azure_client(azure).chat.completions.create(
        model="chat",
        messages=HI,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    assert chunks[0].choices == []
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip()
    usage = chunks[-1].usage
    assert usage is not None
    assert usage.completion_tokens >= 1


async def test_azure_refuses_a_wrong_key_and_an_unknown_deployment(azure: FakeAzure) -> None:
    with pytest.raises(openai.AuthenticationError) as denied:
        await _azure_client(azure, "wrong").chat.completions.create(model="chat", messages=HI)
    body = denied.value.body
    assert isinstance(body, dict)
    assert set(body) == {"code", "message"}
    assert body["code"] == "401"
    assert body["message"].startswith("Access denied")
    with pytest.raises(openai.NotFoundError) as missing:
        await _azure_client(azure).chat.completions.create(model="gpt-9", messages=HI)
    assert missing.value.code == "DeploymentNotFound"
    async with httpx.AsyncClient() as http:
        versionless = await http.post(
            f"{azure.url}/openai/deployments/chat/chat/completions",
            headers={"api-key": AZURE_KEY},
            json={"messages": HI},
        )
    assert versionless.status_code == 404
    assert versionless.json() == {"error": {"code": "404", "message": "Resource not found"}}
