"""The provider-compatible routes, driven by the official SDKs as they are installed: pointed at
the daemon (its token as their API key) they get what they get pointed at the fake directly;
errors before the first byte raise the SDK's own exception types; the daemon token never goes
upstream; budgets, health and the ledger apply."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from adapters.fakes.server import Step
from service.executions.retry import RetryPolicy
from service.process.config import DaemonConfig
from service.usage.ledger import FILE_NAME, Ledger
from service.usage.ledger_rows import MIGRATIONS
from tests.sessions_fixtures import PROFILE_TOKEN, anthropic_profile
from tests.support import (
    ANTHROPIC_KEY,
    OPENAI_KEY,
    LiveServer,
    Sleeps,
    Upstreams,
    make_runtime,
    recorded_rows,
)

MODEL = "claude-sonnet-5-5"  # one the fake serves
WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}


def _anthropic(base_url: str, key: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=base_url, api_key=key, max_retries=0)


def _openai(base_url: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key=key, max_retries=0)


def _clients(daemon: LiveServer, fakes: Upstreams) -> tuple[Any, Any, Any, Any]:
    token = daemon.config.token
    return (
        _anthropic(f"{daemon.url}/anthropic", token),
        _anthropic(fakes.anthropic.url, ANTHROPIC_KEY),
        _openai(f"{daemon.url}/openai/v1", token),
        _openai(f"{fakes.openai.url}/v1", OPENAI_KEY),
    )


def _body(error: Any) -> Any:
    """An SDK exception's parsed body (typed `object` by the SDKs)."""
    return error.body


def _without_ids(value: Any) -> Any:
    # Ids (of messages, tool calls) are made afresh for every answer.
    if isinstance(value, dict):
        return {k: _without_ids(v) for k, v in value.items() if k != "id"}
    if isinstance(value, list):
        return [_without_ids(v) for v in value]
    return value


def _same_message(a: Any, b: Any) -> None:
    assert _without_ids(a.model_dump()) == _without_ids(b.model_dump())


def test_anthropic_messages_whole_streamed_and_tools(
    daemon: LiveServer, http: httpx.Client, fakes: Upstreams
) -> None:
    via, direct, _, _ = _clients(daemon, fakes)
    ask = {"model": MODEL, "max_tokens": 200, "messages": [{"role": "user", "content": "hi there"}]}
    _same_message(via.messages.create(**ask), direct.messages.create(**ask))
    with via.messages.stream(**ask) as stream:
        texts = list(stream.text_stream)
        final = stream.get_final_message()
    with direct.messages.stream(**ask) as stream:
        _same_message(final, stream.get_final_message())
    assert "".join(texts) == "Echo: hi there"
    tools = {**ask, "tools": [WEATHER], "messages": [{"role": "user", "content": "Lisbon"}]}
    with via.messages.stream(**tools) as stream:
        called = stream.get_final_message()
    assert called.stop_reason == "tool_use"
    assert called.content[-1].input == {"city": "Lisbon"}
    _same_message(via.messages.create(**tools), direct.messages.create(**tools))
    counted = via.messages.count_tokens(model=MODEL, messages=ask["messages"])
    assert (
        counted.input_tokens
        == direct.messages.count_tokens(model=MODEL, messages=ask["messages"]).input_tokens
    )
    assert [m.id for m in via.models.list()] == [m.id for m in direct.models.list()]


def test_openai_responses_and_chat_whole_and_streamed(
    daemon: LiveServer, http: httpx.Client, fakes: Upstreams
) -> None:
    _, _, via, direct = _clients(daemon, fakes)
    whole = via.responses.create(model="gpt-5.4", input="hello there")
    assert (
        whole.output_text
        == direct.responses.create(model="gpt-5.4", input="hello there").output_text
    )
    with via.responses.stream(model="gpt-5.4", input="hello there") as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    with direct.responses.stream(model="gpt-5.4", input="hello there") as stream:
        direct_kinds = [event.type for event in stream]
    assert kinds == direct_kinds
    assert kinds[-1] == "response.completed"
    assert final.output_text == "Echo: hello there"
    chat = {"model": "gpt-5.4", "messages": [{"role": "user", "content": "two words"}]}
    assert (
        via.chat.completions.create(**chat).choices[0].message.content
        == direct.chat.completions.create(**chat).choices[0].message.content
    )
    chunks = via.chat.completions.create(
        **chat, stream=True, stream_options={"include_usage": True}
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Echo: two words"
    assert [m.id for m in via.models.list()] == [m.id for m in direct.models.list()]


def test_streams_pass_byte_for_byte(
    daemon: LiveServer, http: httpx.Client, fakes: Upstreams
) -> None:
    # The raw SSE the client gets is the upstream's, unchanged (ids aside, which differ per call).
    body = {
        "model": MODEL,
        "max_tokens": 50,
        "stream": True,
        "messages": [{"role": "user", "content": "a b c"}],
    }
    headers = {"x-api-key": daemon.config.token, "anthropic-version": "2023-06-01"}
    via = httpx.post(f"{daemon.url}/anthropic/v1/messages", json=body, headers=headers)
    direct = httpx.post(
        f"{fakes.anthropic.url}/v1/messages",
        json=body,
        headers={**headers, "x-api-key": ANTHROPIC_KEY},
    )
    assert via.status_code == 200
    assert via.headers["content-type"] == direct.headers["content-type"]

    def shape(raw: str) -> str:
        # Every id is made afresh per answer; everything else must be the upstream's bytes.
        return re.sub(r'"(msg|toolu|req)_[0-9A-Za-z]+"', '"<id>"', raw)

    assert shape(via.text) == shape(direct.text)
    assert via.headers["request-id"]  # the provider's headers come back


def test_the_daemon_token_never_goes_upstream(
    daemon: LiveServer, http: httpx.Client, fakes: Upstreams
) -> None:
    via, _, via_openai, _ = _clients(daemon, fakes)
    via.messages.create(model=MODEL, max_tokens=20, messages=[{"role": "user", "content": "x"}])
    via_openai.responses.create(model="gpt-5.4", input="x")
    token = daemon.config.token
    seen = [*fakes.anthropic.requests, *fakes.openai.requests]
    assert seen
    for request in seen:
        assert token not in json.dumps(request.headers)
        assert token.encode() not in request.body
    anthropic_sent = fakes.anthropic.requests[-1].headers
    assert anthropic_sent["x-api-key"] == ANTHROPIC_KEY
    assert anthropic_sent["anthropic-version"]  # the client's own header passed through
    assert fakes.openai.requests[-1].headers["authorization"] == f"Bearer {OPENAI_KEY}"


def test_errors_raise_the_sdks_own_types(
    daemon: LiveServer, http: httpx.Client, fakes: Upstreams
) -> None:
    via, _, via_openai, _ = _clients(daemon, fakes)
    ask: Any = {"model": MODEL, "max_tokens": 20, "messages": [{"role": "user", "content": "x"}]}
    # A wrong daemon token: the SDK's AuthenticationError.
    with pytest.raises(anthropic.AuthenticationError):
        _anthropic(f"{daemon.url}/anthropic", "wrong-token").messages.create(**ask)
    with pytest.raises(openai.AuthenticationError):
        _openai(f"{daemon.url}/openai/v1", "wrong-token").responses.create(model="m", input="x")
    # The upstream's own 429, passed through unchanged (the daemon retries none here).
    fakes.anthropic.push(Step(status=429, headers=[("retry-after", "7")]))
    with pytest.raises(anthropic.RateLimitError) as limited:
        via.messages.create(**ask)
    assert limited.value.response.headers["retry-after"] == "7"
    assert _body(limited.value)["error"]["type"] == "rate_limit_error"
    # No credential: the daemon's own error, in the provider's shape, with the taxonomy added.
    http.delete("/v1/providers/openai/api-key")
    with pytest.raises(openai.AuthenticationError) as missing:
        via_openai.responses.create(model="gpt-5.4", input="x")
    assert _body(missing.value)["kata"]["code"] == "missing_auth"
    assert _body(missing.value)["kata"]["action"] == "set_api_key"
    assert missing.value.response.headers["x-should-retry"] == "false"
    # An upstream 401 (a rejected key) passes through as the SDK's AuthenticationError.
    http.put("/v1/providers/openai/api-key", json={"api_key": "sk-proj-not-the-right-key-9"})
    with pytest.raises(openai.AuthenticationError):
        via_openai.responses.create(model="gpt-5.4", input="x")
    status = http.get("/v1/providers/openai").json()
    assert status["api_key"]["state"] == "invalid"  # the key verdict applies here too
    # Not JSON, and a route the daemon does not pass: the provider's 400 and 404.
    bad = httpx.post(
        f"{daemon.url}/anthropic/v1/messages",
        content=b"{not json",
        headers={"x-api-key": daemon.config.token, "content-type": "application/json"},
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["type"] == "invalid_request_error"
    gone = httpx.get(f"{daemon.url}/anthropic/v1/files", headers={"x-api-key": daemon.config.token})
    assert gone.status_code == 404
    assert gone.json()["kata"]["code"] == "invalid_request"


def test_budgets_and_the_ledger_apply(
    daemon: LiveServer, http: httpx.Client, fakes: Upstreams
) -> None:
    via, _, via_openai, _ = _clients(daemon, fakes)
    via.messages.create(
        model=MODEL,
        max_tokens=20,
        messages=[{"role": "user", "content": "count me"}],
        metadata={"user_id": "reviewer"},
    )
    with via_openai.responses.stream(
        model="gpt-5.4", input="and me", metadata={"agent": "critic", "run": "r1"}
    ) as stream:
        stream.get_final_response()
    rows = http.get("/v1/executions").json()["executions"]
    by_route = {row["path"]: row for row in rows}
    messages, responses = by_route["/anthropic/v1/messages"], by_route["/openai/v1/responses"]
    assert messages["agent"] == "reviewer"
    assert messages["usage"]["input_tokens"] > 0
    assert messages["usage"]["output_tokens"] > 0
    assert messages["outcome"] == "succeeded"
    assert (responses["agent"], responses["run"]) == ("critic", "r1")
    assert responses["usage"]["output_tokens"] > 0
    assert responses["first_token_at"] is not None
    # A spent budget: refused before any upstream call, as the SDK's RateLimitError.
    dear = {"input_usd_per_mtok": 10_000, "output_usd_per_mtok": 10_000}
    assert http.put("/v1/settings", json={"prices": {MODEL: dear}}).status_code == 200
    budget = {"daily_budget_usd": 0.000001}
    assert http.put("/v1/providers/anthropic/settings", json=budget).status_code == 200
    via.messages.create(model=MODEL, max_tokens=20, messages=[{"role": "user", "content": "x"}])
    before = len(fakes.anthropic.requests)
    with pytest.raises(anthropic.RateLimitError) as refused:
        via.messages.create(model=MODEL, max_tokens=20, messages=[{"role": "user", "content": "x"}])
    assert _body(refused.value)["kata"]["code"] == "budget_exceeded"
    assert refused.value.response.headers["x-should-retry"] == "false"
    assert len(fakes.anthropic.requests) == before


async def test_a_ledger_from_before_routes_migrates(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / FILE_NAME)
    db.executescript(f"BEGIN; {MIGRATIONS[0]}; PRAGMA user_version = 1; COMMIT;")
    db.close()
    ledger = Ledger(tmp_path, lambda: 90)
    await ledger.open()
    assert ledger.problem is None
    page = await ledger.page(10)
    assert page.executions == []
    await ledger.close()
    db = sqlite3.connect(tmp_path / FILE_NAME)
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    columns = {row[1] for row in db.execute("PRAGMA table_info(executions)")}
    assert {"route", "usage_reported"} <= columns


def test_a_token_session_serves_and_falls_back_to_the_key(
    config: DaemonConfig, fakes: Upstreams, sleeps: Sleeps, isolated_home: Path
) -> None:
    # The Anthropic session goes through the SDK's credential provider (the profile's bearer
    # token and its beta header); a session the provider rejects twice falls back to the key.
    anthropic_profile(isolated_home / ".config" / "anthropic")
    runtime = make_runtime(
        config,
        adapters=fakes.adapters(),
        watch=False,
        policy=RetryPolicy(max_retries=2, sleep=sleeps, rng=lambda: 0.0),
    )
    with LiveServer.start(config, runtime) as live, live.client() as client:
        client.put("/v1/providers/anthropic/api-key", json={"api_key": ANTHROPIC_KEY})
        client.put(
            "/v1/providers/anthropic/settings", json={"preferred_auth_mode": "token_session"}
        )
        via = _anthropic(f"{live.url}/anthropic", config.token)
        ask: Any = {
            "model": MODEL,
            "max_tokens": 20,
            "messages": [{"role": "user", "content": "s"}],
        }
        beta = {"anthropic-beta": "tools-2024-04-04"}
        assert via.messages.create(**ask, extra_headers=beta).content[0].text == "Echo: s"
        sent = fakes.anthropic.requests[-1].headers
        assert sent["authorization"] == f"Bearer {PROFILE_TOKEN}"
        assert "x-api-key" not in sent
        # The client's beta flag passes, and the SDK's credential provider adds its own.
        assert set(sent["anthropic-beta"].split(",")) == {"tools-2024-04-04", "oauth-2025-04-20"}
        fakes.anthropic.push(Step(status=401, body="OAuth token has expired.", repeat=2))
        assert via.messages.create(**ask).content[0].text == "Echo: s"
        rows = client.get("/v1/executions").json()["executions"]
    assert fakes.anthropic.requests[-1].headers["x-api-key"] == ANTHROPIC_KEY
    assert (rows[0]["auth_mode"], rows[0]["fallback_applied"]) == ("api_key", True)
    assert (rows[1]["auth_mode"], rows[1]["fallback_applied"]) == ("token_session", False)


def test_a_client_that_leaves_ends_the_upstream_request(
    daemon: LiveServer, http: httpx.Client, fakes: Upstreams
) -> None:
    # A whole answer is slow to start (the fake holds it 5 s); the client gives up after 0.5 s,
    # and the daemon stops the upstream request and records the row as cancelled at once.
    fakes.anthropic.push(Step(delay_s=5.0))
    body = {"model": MODEL, "max_tokens": 20, "messages": [{"role": "user", "content": "slow"}]}
    headers = {"x-api-key": daemon.config.token, "anthropic-version": "2023-06-01"}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{daemon.url}/anthropic/v1/messages", json=body, headers=headers, timeout=0.5)
    rows = recorded_rows(http)
    assert rows, "the row was recorded within 2 s, well before the fake's 5 s"
    assert rows[0]["outcome"] == "cancelled"
    assert rows[0]["path"] == "/anthropic/v1/messages"


def test_the_governor_holds_a_wave_of_sdk_clients_to_the_limit(
    daemon: LiveServer, http: httpx.Client, fakes: Upstreams
) -> None:
    # Eight SDK clients at once against a provider that refuses more than two in flight: with
    # max_concurrent 2 they simply wait their turn, and none gets a 429.
    fakes.anthropic.concurrency_limit = 2
    fakes.anthropic.push(Step(delay_s=0.15, repeat=8))
    http.put("/v1/providers/anthropic/settings", json={"max_concurrent": 2})
    via = _anthropic(f"{daemon.url}/anthropic", daemon.config.token)

    def ask(n: int) -> str:
        message = via.messages.create(
            model=MODEL, max_tokens=20, messages=[{"role": "user", "content": f"wave {n}"}]
        )
        return message.content[0].text  # type: ignore[union-attr]

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ask, range(8)))
    assert answers == [f"Echo: wave {n}" for n in range(8)]
    assert fakes.anthropic.limited == 0
    assert fakes.anthropic.peak_in_progress == 2


def test_a_queued_sdk_client_is_refused_after_the_queue_wait_as_the_provider_would(
    config: DaemonConfig, fakes: Upstreams
) -> None:
    # Issue 26: a compatible-route request has no timeout_s of its own. Behind a slow one on
    # a provider limited to one in flight, it waits at most queue_wait_s, then gets the
    # provider's own 429 shape with retry-after (the SDK's retry then waits and succeeds).
    import dataclasses

    config = dataclasses.replace(config, queue_wait_s=0.3)
    runtime = make_runtime(config, adapters=fakes.adapters(), watch=False)
    with LiveServer.start(config, runtime) as daemon, daemon.client() as http:
        http.put("/v1/providers/anthropic/api-key", json={"api_key": ANTHROPIC_KEY})
        http.put("/v1/providers/anthropic/settings", json={"max_concurrent": 1})
        fakes.anthropic.push(Step(delay_s=1.5))
        via = _anthropic(f"{daemon.url}/anthropic", config.token)

        def ask() -> Any:
            return via.messages.create(
                model=MODEL, max_tokens=20, messages=[{"role": "user", "content": "x"}]
            )

        with ThreadPoolExecutor(1) as pool:
            slow = pool.submit(ask)
            time.sleep(0.3)
            started = time.monotonic()
            with pytest.raises(anthropic.RateLimitError) as refused:
                ask()
            waited = time.monotonic() - started
            assert slow.result().content
        assert 0.25 <= waited < 1.0
        assert refused.value.response.headers["retry-after"] == "1"
        assert refused.value.response.headers["retry-after-ms"] == "1000"
        assert _body(refused.value)["error"]["type"] == "rate_limit_error"
        assert "waited 0.3 s for a slot" in _body(refused.value)["error"]["message"]
        # /v1/executions without timeout_s: the same bound, the taxonomy's rate_limited.
        fakes.anthropic.push(Step(delay_s=1.5))
        body = {"provider": "anthropic", "messages": [{"role": "user", "content": "y"}]}
        with ThreadPoolExecutor(1) as pool:
            ahead = pool.submit(http.post, "/v1/executions", json=body)
            time.sleep(0.3)
            answer = http.post("/v1/executions", json=body)
            assert ahead.result().status_code == 200
        assert answer.status_code == 429
        assert answer.json()["code"] == "rate_limited"
        assert answer.headers["retry-after"] == "1"
        governor = http.get("/v1/providers/anthropic").json()["governor"]
        assert (governor["in_flight"], governor["queued"]) == (0, 0)


def test_a_stream_broken_after_bytes_passed_ends_with_the_providers_error_event(
    daemon: LiveServer, http: httpx.Client, fakes: Upstreams
) -> None:
    # Found by the chaos run (seed 11): an upstream reset after the first bytes ended the
    # client's stream quietly, and the Anthropic SDK's get_final_message() raised
    # AssertionError. The stream now ends with the API's own `error` event: the SDKs raise
    # their own error types, and the ledger row says failed.
    via_anthropic = _anthropic(f"{daemon.url}/anthropic", daemon.config.token)
    fakes.anthropic.push(Step(reset_after_events=3))
    ask: Any = [{"role": "user", "content": "one two three four five"}]
    with (
        pytest.raises(anthropic.APIStatusError) as broken,
        via_anthropic.messages.stream(model=MODEL, max_tokens=50, messages=ask) as stream,
    ):
        stream.get_final_message()
    assert _body(broken.value)["error"]["type"] == "overloaded_error"
    assert _body(broken.value)["kata"]["code"] == "provider_unavailable"
    via_openai = _openai(f"{daemon.url}/openai/v1", daemon.config.token)
    fakes.openai.push(Step(reset_after_events=3))
    with pytest.raises(openai.APIError) as cut:
        for _ in via_openai.chat.completions.create(model="gpt-5.5", messages=ask, stream=True):
            pass
    assert _body(cut.value)["kata"]["code"] == "provider_unavailable"
    rows = http.get("/v1/executions", params={"limit": 2}).json()["executions"]
    assert [row["outcome"] for row in rows] == ["failed", "failed"]


def test_a_whole_answer_cut_mid_body_is_retried_before_any_byte_passes(
    config: DaemonConfig, fakes: Upstreams, sleeps: Sleeps
) -> None:
    # A whole (unstreamed) answer is read whole before it is passed on: one cut mid-body is
    # a failure before the first byte, retried, and the client gets one complete answer.
    runtime = make_runtime(
        config,
        adapters=fakes.adapters(),
        watch=False,
        policy=RetryPolicy(max_retries=2, sleep=sleeps, rng=lambda: 0.0),
    )
    with LiveServer.start(config, runtime) as daemon, daemon.client() as http:
        http.put("/v1/providers/anthropic/api-key", json={"api_key": ANTHROPIC_KEY})
        fakes.anthropic.push(Step(reset_after_events=0))
        via = _anthropic(f"{daemon.url}/anthropic", config.token)
        message = via.messages.create(
            model=MODEL, max_tokens=20, messages=[{"role": "user", "content": "whole"}]
        )
        assert message.content[0].text == "Echo: whole"  # type: ignore[union-attr]
        assert len(sleeps.delays) == 1
        [row] = http.get("/v1/executions", params={"limit": 1}).json()["executions"]
        assert row["outcome"] == "succeeded"
