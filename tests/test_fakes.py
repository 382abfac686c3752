"""The fakes check auth as the real APIs do, and answer with the real error shapes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from adapters.anthropic.fake import AnthropicAuth, FakeAnthropic
from adapters.fakes.server import Step
from adapters.openai.fake import FakeOpenAI, OpenAIAuth

KEY, OAUTH, EXPIRED, CLAUDE = (
    "sk-ant-api03-k",
    "sk-ant-oat01-o",
    "sk-ant-oat01-e",
    "sk-ant-oat01-cc",
)
BODY = {
    "model": "claude-sonnet-5-5",
    "max_tokens": 5,
    "messages": [{"role": "user", "content": "hi"}],
}


@pytest.fixture
async def anthropic() -> AsyncIterator[tuple[FakeAnthropic, httpx.AsyncClient]]:
    fake = FakeAnthropic(
        AnthropicAuth(
            api_keys={KEY},
            oauth_tokens={OAUTH},
            expired_tokens={EXPIRED},
            claude_code_tokens={CLAUDE},
        )
    )
    url = await fake.start()
    async with httpx.AsyncClient(base_url=url) as client:
        yield fake, client
    await fake.stop()


@pytest.mark.parametrize(
    ("headers", "status", "message"),
    [
        ({"x-api-key": KEY}, 400, "anthropic-version: header is required"),
        ({"x-api-key": KEY, "anthropic-version": "1999-01-01"}, 400, "is not a valid version"),
        ({"anthropic-version": "2023-06-01"}, 401, "x-api-key header is required"),
        ({"x-api-key": "wrong", "anthropic-version": "2023-06-01"}, 401, "invalid x-api-key"),
        (
            {"authorization": f"Bearer {OAUTH}", "anthropic-version": "2023-06-01"},
            401,
            "OAuth authentication is currently not supported.",
        ),
        (
            {
                "authorization": f"Bearer {EXPIRED}",
                "anthropic-version": "2023-06-01",
                "anthropic-beta": "oauth-2025-04-20",
            },
            401,
            "OAuth token has expired",
        ),
        (
            {"authorization": f"Bearer {CLAUDE}", "anthropic-version": "2023-06-01"},
            400,
            "only authorized for use with Claude Code",
        ),
        ({"x-api-key": KEY, "anthropic-version": "2023-06-01"}, 200, None),
        ({"authorization": f"Bearer {KEY}", "anthropic-version": "2026-10-21"}, 200, None),
        (
            {
                "authorization": f"Bearer {OAUTH}",
                "anthropic-version": "2023-06-01",
                "anthropic-beta": "files-api,oauth-2025-04-20",
            },
            200,
            None,
        ),
    ],
)
async def test_anthropic_auth_rules(
    anthropic: tuple[FakeAnthropic, httpx.AsyncClient],
    headers: dict[str, str],
    status: int,
    message: str | None,
) -> None:
    _, client = anthropic
    response = await client.post("/v1/messages", json=BODY, headers=headers)
    assert response.status_code == status
    if message is None:
        assert response.json()["type"] == "message"
        return
    body = response.json()
    assert body["type"] == "error"
    assert message in body["error"]["message"]
    assert body["request_id"] == response.headers["request-id"]
    if status == 401:
        assert body["error"]["type"] == "authentication_error"
        assert response.headers["x-should-retry"] == "false"


async def test_anthropic_stream_has_the_real_event_order(
    anthropic: tuple[FakeAnthropic, httpx.AsyncClient],
) -> None:
    _, client = anthropic
    response = await client.post(
        "/v1/messages",
        json={**BODY, "stream": True},
        headers={"x-api-key": KEY, "anthropic-version": "2023-06-01"},
    )
    names = [line[7:] for line in response.text.splitlines() if line.startswith("event: ")]
    assert names[0] == "message_start"
    assert "ping" in names
    assert names[-2:] == ["message_delta", "message_stop"]
    assert names.count("content_block_start") == names.count("content_block_stop") == 1
    assert response.headers["content-type"].startswith("text/event-stream")


async def test_scripted_faults_are_served_in_order(
    anthropic: tuple[FakeAnthropic, httpx.AsyncClient],
) -> None:
    fake, client = anthropic
    fake.push(
        Step(status=529, body="Overloaded", repeat=2),
        Step(status=429, headers=[("retry-after", "3")]),
    )
    headers = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
    statuses = [(await client.post("/v1/messages", json=BODY, headers=headers)) for _ in range(4)]
    assert [r.status_code for r in statuses] == [529, 529, 429, 200]
    assert statuses[0].json()["error"]["type"] == "overloaded_error"
    assert statuses[2].headers["retry-after"] == "3"


async def test_openai_auth_and_error_shapes() -> None:
    fake = FakeOpenAI(
        OpenAIAuth(
            api_keys={"sk-good-key-1234"},
            chatgpt_tokens={"chat-tok"},
            expired_chatgpt_tokens={"old-tok"},
        )
    )
    url = await fake.start()
    body = {"model": "gpt-5.5", "input": "hi", "stream": True, "store": False, "instructions": "x"}
    try:
        async with httpx.AsyncClient(base_url=url) as client:
            wrong = await client.post(
                "/v1/responses", json=body, headers={"authorization": "Bearer sk-wrong-key-9999"}
            )
            unknown = await client.post(
                "/v1/responses",
                json={**body, "model": "gpt-0"},
                headers={"authorization": "Bearer sk-good-key-1234"},
            )
            expired = await client.post(
                "/backend-api/codex/responses",
                json={**body, "input": []},
                headers={"authorization": "Bearer old-tok"},
            )
            capped = await client.post(
                "/backend-api/codex/responses",
                json={**body, "input": [], "max_output_tokens": 5},
                headers={"authorization": "Bearer chat-tok", "chatgpt-account-id": "a"},
            )
            ok = await client.post(
                "/v1/responses", json=body, headers={"authorization": "Bearer sk-good-key-1234"}
            )
    finally:
        await fake.stop()
    assert wrong.status_code == 401
    error = wrong.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == "invalid_api_key"
    assert "sk-wrong-key-9999" not in error["message"]
    assert wrong.headers["x-request-id"].startswith("req_")
    assert unknown.json()["error"]["code"] == "model_not_found"
    assert expired.json()["error"]["code"] == "token_expired"
    assert capped.status_code == 400
    sequence = [
        int(line.split('"sequence_number":')[1].split(",")[0].split("}")[0])
        for line in ok.text.splitlines()
        if line.startswith("data:")
    ]
    assert sequence == list(range(len(sequence)))
    assert "[DONE]" not in ok.text
