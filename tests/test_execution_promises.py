"""Regressions for the ways the execution path broke its promises against upstreams that answer
differently from our fakes (issue 11): each case through the real app, SDKs and fakes."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.anthropic.adapter import AnthropicAdapter
from adapters.base import AdapterEvent, Credential
from adapters.fakes.server import Step
from contracts.base import ProviderId
from contracts.executions import ExecutionRequest
from service.executions.ports import WHOLE_MAX_TOKENS
from service.process.config import DaemonConfig
from tests.sessions_fixtures import anthropic_profile
from tests.support import (
    ANTHROPIC_KEY,
    OPENAI_KEY,
    LiveServer,
    Sleeps,
    Upstreams,
    make_runtime,
    read_sse,
    spawn_daemon,
)
from tests.test_resilience import _events, _serve, _terminal

MESSAGES = [{"role": "user", "content": "a b c"}]


def _post(client: httpx.Client, **body: Any) -> httpx.Response:
    return client.post("/v1/executions", json={"messages": MESSAGES, **body})


def _provider_errors(live: LiveServer) -> list[Any]:
    return [e.event for e in live.runtime.bus.history() if e.event.type == "provider_error"]


@pytest.fixture
def keyed(
    config: DaemonConfig, fakes: Upstreams, sleeps: Sleeps
) -> Any:  # a served daemon with both keys stored
    with _serve(config, fakes, sleeps) as live:
        with live.client() as client:
            client.put("/v1/providers/anthropic/api-key", json={"api_key": ANTHROPIC_KEY})
            client.put("/v1/providers/openai/api-key", json={"api_key": OPENAI_KEY})
        yield live


@pytest.mark.parametrize("stream", [False, True])
def test_a_parameter_the_sdk_refuses_is_a_422_before_any_call(
    keyed: LiveServer, fakes: Upstreams, stream: bool
) -> None:
    with keyed.client() as client:
        answer = _post(client, provider="anthropic", temperature=0.2, stream=stream)
        after = client.get("/v1/health")  # the same connection still works
    assert answer.status_code == 422
    body = answer.json()
    assert body["code"] == "invalid_request"
    assert "`temperature`" in body["message"]
    assert body["details"][0]["loc"] == ["body", "temperature"]
    assert after.status_code == 200
    assert not [r for r in fakes.anthropic.requests if r.path == "/v1/messages"]


def test_providers_expose_their_capabilities(keyed: LiveServer) -> None:
    with keyed.client() as client:
        providers = {p["id"]: p for p in client.get("/v1/providers").json()["providers"]}
    assert providers["anthropic"]["capabilities"]["temperature"] is False
    assert providers["anthropic"]["capabilities"]["stop"] is True
    assert providers["openai"]["capabilities"]["temperature"] is True
    assert providers["openai"]["capabilities"]["stop"] is False


@pytest.mark.parametrize(
    "body",
    [
        '{"messages":[{"role":"user","content":"x"}],"tools":[{"name":"t",'
        '"input_schema":{"type":"object","maximum":1e999}}]}',
        '{"messages":[{"role":"user","content":"x"}],"system":"bad \\ud800 text"}',
        '{"messages":[{"role":"user","content":"x"}],"metadata":{"k":"NaN"},"timeout_s":NaN}',
    ],
)
def test_input_no_provider_can_encode_is_refused_at_the_boundary(
    keyed: LiveServer, fakes: Upstreams, body: str
) -> None:
    with keyed.client() as client:
        answer = client.post(
            "/v1/executions", content=body, headers={"content-type": "application/json"}
        )
    assert answer.status_code == 422
    assert answer.json()["code"] == "invalid_request"
    assert not fakes.anthropic.requests


def test_a_valid_surrogate_pair_is_accepted(keyed: LiveServer) -> None:
    body = '{"provider":"anthropic","messages":[{"role":"user","content":"smile \\ud83d\\ude00"}]}'
    with keyed.client() as client:
        answer = client.post(
            "/v1/executions", content=body, headers={"content-type": "application/json"}
        )
    assert answer.status_code == 200
    assert "\U0001f600" in answer.json()["content"][0]["text"]


def _session_mode(client: httpx.Client) -> None:
    client.put("/v1/providers/anthropic/settings", json={"preferred_auth_mode": "token_session"})


@pytest.mark.parametrize("with_key", [True, False])
def test_a_profile_deleted_before_the_request_falls_back_or_says_so(
    config: DaemonConfig, fakes: Upstreams, sleeps: Sleeps, isolated_home: Path, with_key: bool
) -> None:
    creds = anthropic_profile(isolated_home / ".config" / "anthropic")
    with _serve(config, fakes, sleeps) as live, live.client() as client:
        if with_key:
            client.put("/v1/providers/anthropic/api-key", json={"api_key": ANTHROPIC_KEY})
        _session_mode(client)
        creds.unlink()  # gone before the request, too late for detection to notice
        events = _events(live)
        json_answer = _post(client, provider="anthropic")
        errors = _provider_errors(live)
        status = client.get("/v1/providers/anthropic").json()
    last = _terminal(events)
    if with_key:
        assert last["type"] == "done"
        assert last["result"]["fallback_applied"] is True
        retry = next(e for e in events if e["type"] == "retry")
        assert retry["fallback_applied"] is True
        assert retry["auth_mode"] == "api_key"
        assert json_answer.status_code == 200
        assert len(errors) == 1
    else:
        assert last["error"]["code"] == "session_expired"
        assert "ant auth login" in last["error"]["remediation"]
        assert json_answer.status_code == 424
        assert json_answer.json()["code"] == "session_expired"
    assert status["token_session"]["state"] == "error"


def test_a_refresh_the_provider_rejects_falls_back_to_the_key(
    config: DaemonConfig, fakes: Upstreams, sleeps: Sleeps, isolated_home: Path
) -> None:
    anthropic_profile(
        isolated_home / ".config" / "anthropic", expires_in=-60, client_id="kata-test-client"
    )
    fakes.anthropic.push(
        Step(path="/v1/oauth/token", status=400, body="invalid_grant: refresh token revoked")
    )
    with _serve(config, fakes, sleeps) as live, live.client() as client:
        client.put("/v1/providers/anthropic/api-key", json={"api_key": ANTHROPIC_KEY})
        _session_mode(client)
        answer = _post(client, provider="anthropic")
        status = client.get("/v1/providers/anthropic").json()
        errors = _provider_errors(live)
    assert answer.status_code == 200, answer.text
    assert answer.json()["fallback_applied"] is True
    assert answer.json()["auth_mode"] == "api_key"
    assert len(errors) == 1
    assert errors[0].error.code.value == "session_expired"
    assert status["token_session"]["state"] == "error"
    assert status["resolved_mode"] == "api_key"


def test_a_session_rejected_twice_publishes_one_provider_error(
    config: DaemonConfig, fakes: Upstreams, sleeps: Sleeps, isolated_home: Path
) -> None:
    anthropic_profile(isolated_home / ".config" / "anthropic")
    with _serve(config, fakes, sleeps) as live, live.client() as client:
        client.put("/v1/providers/anthropic/api-key", json={"api_key": ANTHROPIC_KEY})
        _session_mode(client)
        fakes.anthropic.push(Step(status=401, body="OAuth token has expired.", repeat=2))
        before = len(_provider_errors(live))
        done = _terminal(_events(live))
        errors = _provider_errors(live)[before:]
    assert done["type"] == "done"
    assert len(errors) == 1


def test_a_rejected_key_recovers_on_evidence(keyed: LiveServer, fakes: Upstreams) -> None:
    def key_state(client: httpx.Client) -> str:
        return str(client.get("/v1/providers/anthropic").json()["api_key"]["state"])

    with keyed.client() as client:
        fakes.anthropic.push(Step(status=401, body="invalid x-api-key"))
        assert _post(client, provider="anthropic").status_code == 424
        assert key_state(client) == "invalid"
        # stored again and verified
        stored = client.put(
            "/v1/providers/anthropic/api-key", json={"api_key": ANTHROPIC_KEY, "verify": True}
        )
        assert stored.status_code == 200
        assert key_state(client) == "configured"
        # delete and store
        fakes.anthropic.push(Step(status=401, body="invalid x-api-key"))
        _post(client, provider="anthropic")
        assert key_state(client) == "invalid"
        client.delete("/v1/providers/anthropic/api-key")
        client.put("/v1/providers/anthropic/api-key", json={"api_key": ANTHROPIC_KEY})
        assert key_state(client) == "configured"
        # a successful check
        fakes.anthropic.push(Step(status=401, body="invalid x-api-key"))
        _post(client, provider="anthropic")
        assert key_state(client) == "invalid"
        assert client.post("/v1/providers/anthropic/check").status_code == 200
        assert key_state(client) == "configured"
        assert _post(client, provider="anthropic").status_code == 200


def test_a_403_does_not_mark_the_key_revoked(keyed: LiveServer, fakes: Upstreams) -> None:
    with keyed.client() as client:
        fakes.anthropic.push(Step(status=403, body="model not allowed for this key"))
        answer = _post(client, provider="anthropic")
        state = client.get("/v1/providers/anthropic").json()["api_key"]["state"]
    assert answer.status_code == 424
    assert "permission" in answer.json()["remediation"]
    assert state == "configured"


def test_rate_limits_never_open_the_breaker(
    config: DaemonConfig, fakes: Upstreams, sleeps: Sleeps
) -> None:
    with _serve(config, fakes, sleeps, max_retries=0) as live, live.client() as client:
        client.put("/v1/providers/openai/api-key", json={"api_key": OPENAI_KEY})
        fakes.openai.push(Step(status=429, headers=[("retry-after", "3")], repeat=10))
        answers = [_post(client, provider="openai") for _ in range(10)]
        health = client.get("/v1/providers/openai").json()["health"]
    assert {a.json()["code"] for a in answers} == {"rate_limited"}
    assert answers[-1].json()["retry_after_s"] == 3
    assert health["breaker"] == "closed"
    assert health["state"] != "unavailable"


def test_an_open_breaker_says_why_and_until_when(
    config: DaemonConfig, fakes: Upstreams, sleeps: Sleeps
) -> None:
    with _serve(config, fakes, sleeps, max_retries=0) as live, live.client() as client:
        client.put("/v1/providers/openai/api-key", json={"api_key": OPENAI_KEY})
        fakes.openai.push(Step(status=503, body="upstream overloaded", repeat=5))
        for _ in range(5):
            _post(client, provider="openai")
        paused = _post(client, provider="openai").json()
        health = client.get("/v1/providers/openai").json()["health"]
    assert "upstream overloaded" in paused["message"]
    assert "paused until" in paused["message"]
    assert paused["retryable"] is True
    assert "upstream overloaded" in health["last_failure"]


def test_a_whole_request_whose_client_leaves_closes_the_upstream(
    keyed: LiveServer, fakes: Upstreams
) -> None:
    fakes.anthropic.push(Step(stall_after_headers=True))  # asked whole: the body never comes
    before = fakes.anthropic.closed_connections
    with (
        httpx.Client(base_url=keyed.url, headers=keyed.headers, timeout=0.5) as client,
        pytest.raises(httpx.ReadTimeout),
    ):
        _post(client, provider="anthropic", messages=[{"role": "user", "content": "a " * 20}])
    left = time.monotonic()
    while fakes.anthropic.closed_connections == before and time.monotonic() - left < 3:
        time.sleep(0.02)
    assert fakes.anthropic.closed_connections > before
    assert time.monotonic() - left < 1.0


def test_upstream_messages_never_carry_the_key(keyed: LiveServer, fakes: Upstreams) -> None:
    fakes.openai.push(Step(status=400, body=f"Incorrect API key provided: {OPENAI_KEY}"))
    with keyed.client() as client:
        answer = _post(client, provider="openai")
        events = client.get("/v1/providers/openai").json()
    assert answer.status_code == 400
    assert OPENAI_KEY not in answer.text
    assert "[REDACTED]" in answer.json()["message"]
    assert OPENAI_KEY not in json.dumps(events)


def test_openai_in_stream_rate_limits_are_retried(
    keyed: LiveServer, fakes: Upstreams, sleeps: Sleeps
) -> None:
    limited = {
        "type": "error",
        "code": "rate_limit_exceeded",
        "message": "Rate limit reached for requests",
        "param": None,
        "sequence_number": 0,
    }
    fakes.openai.push(Step(replay=f"event: error\ndata: {json.dumps(limited)}\n\n".encode()))
    events = _events(keyed, "openai")
    assert _terminal(events)["type"] == "done"
    assert [e["error"]["code"] for e in events if e["type"] == "retry"] == ["rate_limited"]


def test_a_409_is_not_retried(keyed: LiveServer, fakes: Upstreams, sleeps: Sleeps) -> None:
    fakes.anthropic.push(Step(status=409, body="conflict", repeat=3))
    with keyed.client() as client:
        answer = _post(client, provider="anthropic")
    assert answer.status_code == 400
    assert answer.json()["retryable"] is False
    assert sleeps.delays == []


class SlowToBuild(AnthropicAdapter):
    """The real adapter, whose first client build takes as long as importing the SDK cold."""

    async def warm(self, credential: Credential) -> None:
        await asyncio.sleep(1.5)
        await super().warm(credential)

    def stream(
        self, request: ExecutionRequest, model: str, credential: Credential, *, whole: bool = False
    ) -> AsyncGenerator[AdapterEvent, None]:
        return super().stream(request, model, credential, whole=whole)


def test_loading_the_sdk_never_counts_against_the_deadline(
    config: DaemonConfig, fakes: Upstreams, sleeps: Sleeps
) -> None:
    runtime = make_runtime(
        config, adapters={ProviderId.ANTHROPIC: SlowToBuild(fakes.anthropic.url)}, watch=False
    )
    with LiveServer.start(config, runtime) as live, live.client() as client:
        client.put("/v1/providers/anthropic/api-key", json={"api_key": ANTHROPIC_KEY})
        answer = _post(client, provider="anthropic", timeout_s=1.0)
        health = client.get("/v1/providers/anthropic").json()["health"]
    assert answer.status_code == 200, answer.text
    assert health["state"] == "healthy"
    # The figure tells the truth: building the client is the daemon's time, not upstream's.
    timings = answer.json()["timings"]
    assert timings["overhead_ms"] >= 1400
    assert timings["upstream_ms"] < 1000
    # The header also counts recording the execution and serialising the answer, which the
    # body's figure cannot.
    header = float(answer.headers["x-kata-overhead-ms"])
    assert timings["overhead_ms"] <= header < timings["overhead_ms"] + 50


def test_sigterm_mid_stream_ends_the_stream_with_a_terminal_event(fakes: Upstreams) -> None:
    fakes.anthropic.push(Step(drip_s=0.4))
    daemon = spawn_daemon(
        "--drain-s", "0.5", env={**fakes.env(), "ANTHROPIC_API_KEY": ANTHROPIC_KEY}
    )
    body = {
        "provider": "anthropic",
        "stream": True,
        "messages": [{"role": "user", "content": "a " * 40}],
    }
    headers = {"Authorization": f"Bearer {daemon.token}"}
    with (
        httpx.Client(base_url=daemon.url, headers=headers, timeout=10) as client,
        client.stream("POST", "/v1/executions", json=body) as response,
    ):
        lines = response.iter_lines()
        first = read_sse(lines, 2)
        daemon.process.send_signal(signal.SIGTERM)
        rest = [e.json() for e in read_sse(lines, 10_000)]
    code = daemon.process.wait(15)
    events = [e.json() for e in first] + rest
    last = _terminal(events)
    assert last["error"]["code"] == "cancelled"
    assert "shutting down" in last["error"]["message"]
    assert code == 0


class SlowToTranslate(AnthropicAdapter):
    """The real adapter, spending 30 ms of the daemon's own time on every event it reads."""

    async def stream(
        self, request: ExecutionRequest, model: str, credential: Credential, *, whole: bool = False
    ) -> AsyncGenerator[AdapterEvent, None]:
        async for event in super().stream(request, model, credential, whole=whole):
            time.sleep(0.03)  # noqa: ASYNC251  (the point: CPU work of ours, between reads)
            yield event


def test_work_between_chunks_is_the_daemons_and_waiting_is_upstreams(
    config: DaemonConfig, fakes: Upstreams
) -> None:
    runtime = make_runtime(
        config, adapters={ProviderId.ANTHROPIC: SlowToTranslate(fakes.anthropic.url)}, watch=False
    )
    # A provider that is slow too: 40 ms before each event.
    fakes.anthropic.push(Step(drip_s=0.04))
    with LiveServer.start(config, runtime) as live, live.client() as client:
        client.put("/v1/providers/anthropic/api-key", json={"api_key": ANTHROPIC_KEY})
        # Long enough to stream upstream even though taken whole (past WHOLE_MAX_TOKENS).
        answer = _post(client, provider="anthropic", max_tokens=WHOLE_MAX_TOKENS + 1)
    assert answer.status_code == 200, answer.text
    timings = answer.json()["timings"]
    # The answer has at least five events and five text-bearing reads: each cost 30 ms of ours
    # and 40 ms of the provider's, and neither is counted as the other (before, every moment
    # from the request's first byte to the answer's last was called upstream).
    assert timings["overhead_ms"] >= 150, timings
    assert timings["upstream_ms"] >= 150, timings
    assert abs(timings["overhead_ms"] + timings["upstream_ms"] - timings["total_ms"]) < 1
