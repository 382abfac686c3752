"""Every recorded stream in tests/wire, replayed by the fakes byte for byte, yields through
the real SDK and the adapter exactly the recorded text and tool arguments."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from adapters.anthropic.adapter import AnthropicAdapter
from adapters.anthropic.fake import AnthropicAuth, FakeAnthropic
from adapters.base import Credential, Finished
from adapters.fakes.server import FakeServer, Step
from adapters.openai.adapter import OpenAIAdapter
from adapters.openai.fake import FakeOpenAI, OpenAIAuth
from contracts.base import AuthMode
from contracts.executions import ExecutionRequest
from contracts.stream import TextDeltaEvent, ToolCallEndEvent
from tests.wire_recordings import Recording, recordings

KEY = "sk-replay-key-0000"
RECORDINGS = recordings()
REQUEST = ExecutionRequest.model_validate({"messages": [{"role": "user", "content": "replay"}]})


def _fake(recording: Recording) -> FakeServer:
    if recording.protocol == "anthropic":
        return FakeAnthropic(AnthropicAuth(api_keys={KEY}))
    return FakeOpenAI(OpenAIAuth(api_keys={KEY}))


def _adapter(recording: Recording, url: str) -> Any:
    if recording.protocol == "anthropic":
        return AnthropicAdapter(url), "claude-sonnet-5-5"
    return OpenAIAdapter(f"{url}/v1", wire_api=recording.protocol), "gpt-5.5"


def test_every_recording_was_found() -> None:
    assert len(RECORDINGS) == 12
    assert {r.protocol for r in RECORDINGS} == {"anthropic", "responses", "chat"}


@pytest.mark.parametrize("recording", RECORDINGS, ids=[r.name for r in RECORDINGS])
async def test_the_fake_replays_the_recording_byte_for_byte(recording: Recording) -> None:
    fake = _fake(recording)
    url = await fake.start()
    fake.push(Step(replay=recording.raw))
    path, headers = (
        ("/v1/messages", {"x-api-key": KEY, "anthropic-version": "2023-06-01"})
        if recording.protocol == "anthropic"
        else (
            "/v1/chat/completions" if recording.protocol == "chat" else "/v1/responses",
            {"authorization": f"Bearer {KEY}"},
        )
    )
    model = "claude-sonnet-5-5" if recording.protocol == "anthropic" else "gpt-5.5"
    body = {
        "model": model,
        "max_tokens": 10,
        "stream": True,
        "messages": [{"role": "user", "content": "x"}],
    }
    try:
        async with httpx.AsyncClient() as http:
            response = await http.post(url + path, json=body, headers=headers)
    finally:
        await fake.stop()
    assert response.status_code == 200
    assert response.content == recording.raw


@pytest.mark.parametrize("recording", RECORDINGS, ids=[r.name for r in RECORDINGS])
async def test_the_adapter_yields_the_recorded_text_and_arguments(recording: Recording) -> None:
    fake = _fake(recording)
    url = await fake.start()
    fake.push(Step(replay=recording.raw))
    adapter, model = _adapter(recording, url)
    text: list[str] = []
    arguments: list[dict[str, Any]] = []
    finished: list[Finished] = []
    try:
        async for event in adapter.stream(
            REQUEST, model, Credential(AuthMode.API_KEY, api_key=KEY)
        ):
            if isinstance(event, TextDeltaEvent):
                text.append(event.text)
            elif isinstance(event, ToolCallEndEvent):
                arguments.append(event.arguments)
            elif isinstance(event, Finished):
                finished.append(event)
    finally:
        await adapter.aclose()
        await fake.stop()
    assert "".join(text) == recording.text
    assert arguments == recording.tool_arguments
    assert len(finished) == 1
