"""`POST /v1/executions` and `GET /v1/models` over a real socket, against the fake upstreams."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.fakes.server import Step
from service.process.config import DaemonConfig
from tests.sessions_fixtures import anthropic_profile, codex_api_key
from tests.support import (
    ANTHROPIC_KEY,
    LiveServer,
    Upstreams,
    make_runtime,
    read_sse,
    upstreams,
)

TOOLS = [
    {
        "name": "get_weather",
        "description": "Weather for a city",
        "input_schema": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    }
]


def _ask(text: str, **extra: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}], **extra}


def _stream(http: httpx.Client, body: dict[str, Any]) -> list[dict[str, Any]]:
    with http.stream("POST", "/v1/executions", json={**body, "stream": True}) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        events = read_sse(response.iter_lines(), 10_000)
    return [{"event": e.event, **e.json()} for e in events]


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_a_plain_prompt_returns_the_whole_result(http: httpx.Client, provider: str) -> None:
    response = http.post(
        "/v1/executions", json=_ask("hello there", provider=provider, system="Be brief.")
    )
    assert response.status_code == 200
    result = response.json()
    assert result["provider"] == provider
    assert result["content"] == [{"type": "text", "text": "Echo: hello there"}]
    assert result["stop_reason"] == "end_turn"
    assert result["auth_mode"] == "api_key"
    assert result["fallback_applied"] is False
    assert result["usage"]["input_tokens"] > 0
    assert result["usage"]["output_tokens"] > 0
    assert result["upstream_request_id"].startswith("req_")
    assert result["attempts"] == 1
    assert result["timings"]["overhead_ms"] <= result["timings"]["total_ms"]
    assert result["id"].startswith("exe_")


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_a_streamed_prompt_ends_with_exactly_one_done(http: httpx.Client, provider: str) -> None:
    events = _stream(http, _ask("one two three four", provider=provider))
    kinds = [e["type"] for e in events]
    assert kinds[0] == "start"
    assert kinds[-1] == "done"
    assert kinds.count("done") + kinds.count("error") == 1
    assert all(e["event"] == e["type"] for e in events)
    text = "".join(e["text"] for e in events if e["type"] == "text_delta")
    assert text == "Echo: one two three four"
    assert kinds.count("text_delta") == 5
    assert events[-1]["result"]["content"] == [{"type": "text", "text": text}]


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_a_tool_call_round_trip(http: httpx.Client, provider: str) -> None:
    first = _stream(http, _ask("Paris", provider=provider, tools=TOOLS, tool_choice="required"))
    done = first[-1]["result"]
    assert done["stop_reason"] == "tool_call"
    [call] = done["content"]
    assert call["type"] == "tool_call"
    assert call["name"] == "get_weather"
    assert call["arguments"] == {"city": "Paris"}
    ends = [e for e in first if e["type"] == "tool_call_end"]
    assert ends[0]["arguments"] == {"city": "Paris"}
    deltas = "".join(e["arguments_delta"] for e in first if e["type"] == "tool_call_delta")
    assert json.loads(deltas) == {"city": "Paris"}
    conversation = [
        {"role": "user", "content": "Paris"},
        {"role": "assistant", "content": [call]},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_call_id": call["id"], "content": "18C and sunny"}
            ],
        },
    ]
    second = http.post(
        "/v1/executions", json={"provider": provider, "messages": conversation, "tools": TOOLS}
    )
    assert second.status_code == 200
    assert second.json()["content"] == [{"type": "text", "text": "Tool said: 18C and sunny"}]
    assert second.json()["stop_reason"] == "end_turn"


def test_stop_sequences_and_max_tokens_are_honoured(http: httpx.Client) -> None:
    stopped = http.post(
        "/v1/executions", json=_ask("alpha beta gamma", provider="anthropic", stop=[" gamma"])
    ).json()
    assert stopped["content"][0]["text"] == "Echo: alpha beta"
    assert stopped["stop_reason"] == "stop_sequence"
    capped = http.post(
        "/v1/executions", json=_ask("a b c d e f", provider="openai", max_tokens=3)
    ).json()
    assert capped["stop_reason"] == "max_tokens"
    assert capped["content"][0]["text"] == "Echo: a b"


def test_openai_refuses_stop_sequences_it_cannot_honour(http: httpx.Client) -> None:
    response = http.post("/v1/executions", json=_ask("x", provider="openai", stop=["."]))
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_request"


def test_thinking_streams_as_thinking_deltas(http: httpx.Client, fakes: Upstreams) -> None:
    fakes.anthropic.thinking = True
    events = _stream(http, _ask("why", provider="anthropic"))
    thinking = "".join(e["thinking"] for e in events if e["type"] == "thinking_delta")
    assert thinking == "Let me think about this."
    content = events[-1]["result"]["content"]
    assert content[0]["type"] == "thinking"
    assert content[0]["signature"]
    assert content[1] == {"type": "text", "text": "Echo: why"}


def test_provider_and_model_defaults(http: httpx.Client, fakes: Upstreams) -> None:
    first = http.post("/v1/executions", json=_ask("hi")).json()
    assert first["provider"] == "anthropic"
    assert first["model"] == "claude-sonnet-5-5"
    http.put("/v1/settings", json={"default_provider": "openai"})
    http.put("/v1/providers/openai/settings", json={"default_model": "gpt-5.4-mini"})
    second = http.post("/v1/executions", json=_ask("hi")).json()
    assert (second["provider"], second["model"]) == ("openai", "gpt-5.4-mini")
    sent = fakes.openai.requests[-1].json()
    assert sent["model"] == "gpt-5.4-mini"


def test_unknown_model_is_model_not_found(http: httpx.Client) -> None:
    for provider in ("anthropic", "openai"):
        response = http.post(
            "/v1/executions", json=_ask("hi", provider=provider, model="no-such-model")
        )
        assert response.status_code == 404
        assert response.json()["code"] == "model_not_found"
        assert response.json()["remediation"]


def test_upstream_errors_keep_their_details(http: httpx.Client, fakes: Upstreams) -> None:
    fakes.anthropic.push(Step(status=429, headers=[("retry-after-ms", "1500")], body="Slow down."))
    limited = http.post("/v1/executions", json=_ask("hi", provider="anthropic"))
    assert limited.status_code == 429
    body = limited.json()
    assert body["code"] == "rate_limited"
    assert body["retry_after_s"] == 1.5
    assert body["upstream_status"] == 429
    assert body["upstream_request_id"].startswith("req_")
    assert limited.headers["retry-after"] == "2"
    fakes.openai.push(Step(status=503, body="Try later."))
    down = http.post("/v1/executions", json=_ask("hi", provider="openai"))
    assert down.status_code == 503
    assert down.json()["code"] == "provider_unavailable"


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_a_mid_stream_error_is_one_error_event_with_the_partial_text(
    http: httpx.Client, fakes: Upstreams, provider: str
) -> None:
    fake = fakes.anthropic if provider == "anthropic" else fakes.openai
    fake.push(Step(error_after_events=6))
    events = _stream(http, _ask("one two three four five six", provider=provider))
    kinds = [e["type"] for e in events]
    assert kinds[-1] == "error"
    assert kinds.count("error") == 1
    assert "done" not in kinds
    streamed = "".join(e["text"] for e in events if e["type"] == "text_delta")
    assert streamed
    assert events[-1]["partial_content"] == [{"type": "text", "text": streamed}]
    assert events[-1]["error"]["code"] == "provider_unavailable"


def test_cancel_closes_the_upstream_request(
    http: httpx.Client, daemon: LiveServer, fakes: Upstreams
) -> None:
    fakes.anthropic.push(Step(drip_s=0.2))
    events: list[dict[str, Any]] = []
    with http.stream(
        "POST",
        "/v1/executions",
        json=_ask("a b c d e f g h i j", provider="anthropic", stream=True),
    ) as response:
        lines = response.iter_lines()
        [start] = read_sse(lines, 1)
        execution_id = start.json()["id"]
        waited = time.monotonic()  # cancel once the upstream request is in flight
        while not any(r.path == "/v1/messages" for r in fakes.anthropic.requests):
            assert time.monotonic() - waited < 10
            time.sleep(0.01)
        closed_before = fakes.anthropic.closed_connections
        cancelled = http.post(f"/v1/executions/{execution_id}/cancel")
        started = time.monotonic()
        events = [e.json() for e in read_sse(lines, 100)]
    assert cancelled.status_code == 200
    assert cancelled.json()["cancelled"] is True
    assert events[-1]["type"] == "error"
    assert events[-1]["error"]["code"] == "cancelled"
    deadline = time.monotonic() + 1.0
    while fakes.anthropic.closed_connections == closed_before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert fakes.anthropic.closed_connections > closed_before
    assert time.monotonic() - started < 1.5
    gone = http.post(f"/v1/executions/{execution_id}/cancel")
    assert gone.status_code == 409  # it has finished (cancelled): nothing left to cancel
    assert "cancelled" in gone.json()["message"]


def test_models_are_live_then_cached_then_stale(http: httpx.Client, fakes: Upstreams) -> None:
    live = http.get("/v1/models").json()["providers"]
    assert [p["provenance"] for p in live] == ["live", "live"]
    assert all(p["auth_mode"] == "api_key" for p in live)
    anthropic_models = live[0]["models"]
    assert [m["id"] for m in anthropic_models] == [
        "claude-opus-5-5",
        "claude-sonnet-5-5",
        "claude-haiku-5-5",
    ]
    assert anthropic_models[0]["context_window"] == 1_000_000
    cached = http.get("/v1/models", params={"provider": "anthropic"}).json()["providers"]
    assert [p["provenance"] for p in cached] == ["cached"]
    assert cached[0]["stale"] is False
    fakes.anthropic.push(Step(status=500, body="down", path="/v1/models"))
    stale = http.get("/v1/models", params={"provider": "anthropic", "refresh": "true"}).json()[
        "providers"
    ][0]
    assert stale["provenance"] == "cached"
    assert stale["stale"] is True
    assert stale["error"]["code"] == "provider_unavailable"
    assert stale["models"] == anthropic_models


def test_models_page_through_every_page(config: DaemonConfig, tmp_path: Path) -> None:
    from adapters.anthropic.fake import AnthropicAuth, FakeAnthropic

    many = [
        {
            "type": "model",
            "id": f"claude-test-{n:04d}",
            "display_name": f"T{n}",
            "created_at": "2026-01-01T00:00:00Z",
        }
        for n in range(2500)
    ]
    fake = FakeAnthropic(AnthropicAuth(api_keys={ANTHROPIC_KEY}), models=many)
    with fake.in_thread():
        import asyncio

        from adapters.anthropic.adapter import AnthropicAdapter
        from adapters.base import Credential
        from contracts.base import AuthMode

        async def fetch() -> list[str]:
            adapter = AnthropicAdapter(fake.url)
            try:
                return [
                    m.id
                    for m in await adapter.list_models(
                        Credential(AuthMode.API_KEY, api_key=ANTHROPIC_KEY)
                    )
                ]
            finally:
                await adapter.aclose()

        ids = asyncio.run(fetch())
        pages = [r for r in fake.requests if r.path == "/v1/models"]
    assert ids == [m["id"] for m in many]
    assert len(pages) == 3
    assert pages[1].query["after_id"] == "claude-test-0999"


def test_without_credentials_models_come_from_the_catalogue(daemon: LiveServer) -> None:
    with daemon.client() as client:
        answer = client.get("/v1/models", params={"provider": "openai"}).json()["providers"][0]
    assert answer["provenance"] == "catalogue"
    assert answer["error"]["code"] == "missing_auth"
    assert answer["auth_mode"] is None
    assert answer["models"]


def test_token_sessions_execute_through_the_sdk_credentials(
    config: DaemonConfig, fakes: Upstreams, isolated_home: Path
) -> None:
    anthropic_profile(isolated_home / ".config" / "anthropic")
    codex_api_key(isolated_home / ".codex")
    runtime = make_runtime(config, adapters=fakes.adapters(), watch=False)
    with LiveServer.start(config, runtime) as live, live.client() as client:
        for provider in ("anthropic", "openai"):
            client.put(
                f"/v1/providers/{provider}/settings", json={"preferred_auth_mode": "token_session"}
            )
        results = [
            client.post("/v1/executions", json=_ask("hi", provider=p)).json()
            for p in ("anthropic", "openai")
        ]
    assert [r["auth_mode"] for r in results] == ["token_session", "token_session"]
    sent = [r for r in fakes.anthropic.requests if r.path == "/v1/messages"][-1]
    assert sent.headers["authorization"] == "Bearer sk-ant-oat01-distinctive-profile-token-Hq8"
    assert "oauth-2025-04-20" in sent.headers["anthropic-beta"]
    assert sent.headers.get("anthropic-workspace-id") == "wrk_demo"
    assert "x-api-key" not in sent.headers
    openai_sent = [r for r in fakes.openai.requests if r.path == "/v1/responses"][-1]
    assert openai_sent.headers["authorization"] == "Bearer sk-proj-distinctive-codex-key-Vb6n"


def test_api_keys_travel_as_x_api_key(http: httpx.Client, fakes: Upstreams) -> None:
    http.post("/v1/executions", json=_ask("hi", provider="anthropic"))
    sent = [r for r in fakes.anthropic.requests if r.path == "/v1/messages"][-1]
    assert sent.headers["x-api-key"] == ANTHROPIC_KEY
    assert "authorization" not in sent.headers
    assert sent.headers["anthropic-version"]
    body = sent.json()
    assert body["stream"] is False  # taken whole, asked whole (tests/test_whole_answers.py)
    assert body["max_tokens"] == 1024


def test_concurrent_executions_share_one_connection_pool(
    http: httpx.Client, fakes: Upstreams
) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            assert (
                http.post("/v1/executions", json=_ask("hi", provider="openai")).status_code == 200
            )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert not errors
    assert fakes.openai.closed_connections + fakes.openai.open_connections <= 8


def test_the_chatgpt_backend_variant_obeys_the_codex_rules(
    config: DaemonConfig, isolated_home: Path
) -> None:
    from tests.sessions_fixtures import codex_chatgpt

    path = codex_chatgpt(isolated_home / ".codex")
    token = json.loads(path.read_text())["tokens"]["access_token"]
    with upstreams(chatgpt_tokens={token}) as fakes:
        runtime = make_runtime(config, adapters=fakes.adapters(), watch=False)
        with LiveServer.start(config, runtime) as live, live.client() as client:
            client.put(
                "/v1/providers/openai/settings", json={"preferred_auth_mode": "token_session"}
            )
            blocked = client.post("/v1/executions", json=_ask("hi", provider="openai"))
            client.put("/v1/settings", json={"openai_chatgpt_backend": True})
            result = client.post(
                "/v1/executions", json=_ask("hi", provider="openai", temperature=0.5, max_tokens=50)
            )
            tool = client.post("/v1/executions", json=_ask("Rome", provider="openai", tools=TOOLS))
        sent = [r for r in fakes.openai.requests if r.path == "/backend-api/codex/responses"]
    assert blocked.status_code == 424
    assert "openai_chatgpt_backend" in blocked.json()["remediation"]
    assert result.status_code == 200, result.text
    assert result.json()["auth_mode"] == "token_session"
    assert tool.json()["content"][0]["arguments"] == {"city": "Rome"}
    body = sent[0].json()
    assert body["stream"] is True
    assert body["store"] is False
    assert body["instructions"]
    assert "temperature" not in body
    assert "max_output_tokens" not in body
    assert sent[0].headers["chatgpt-account-id"] == "acct_123"
    assert sent[0].headers["authorization"] == f"Bearer {token}"
