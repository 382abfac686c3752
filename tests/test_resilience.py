"""Misbehaving providers, through the real daemon app over a socket and the fakes' scenarios:
retries (with recorded, not real, sleeps), deadlines, breaks mid-stream, auth at execution time,
the breaker, and disconnects."""

from __future__ import annotations

import dataclasses
import email.utils
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.fakes.server import Step
from service.executions.retry import RetryPolicy
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
)


def _serve(config: DaemonConfig, fakes: Upstreams, sleeps: Sleeps, **overrides: Any) -> Any:
    config = dataclasses.replace(config, **overrides)
    runtime = make_runtime(
        config,
        adapters=fakes.adapters(),
        watch=False,
        policy=RetryPolicy(max_retries=config.max_retries, sleep=sleeps, rng=lambda: 0.0),
    )
    return LiveServer.start(config, runtime)


@pytest.fixture
def live(config: DaemonConfig, fakes: Upstreams, sleeps: Sleeps) -> Iterator[LiveServer]:
    with _serve(config, fakes, sleeps, first_token_timeout_s=1.0, idle_timeout_s=0.5) as server:
        with server.client() as client:
            client.put("/v1/providers/anthropic/api-key", json={"api_key": ANTHROPIC_KEY})
            client.put("/v1/providers/openai/api-key", json={"api_key": OPENAI_KEY})
        yield server


def _events(
    live: LiveServer, provider: str = "anthropic", text: str = "a b c d e f", **extra: Any
) -> list[dict[str, Any]]:
    body = {
        "provider": provider,
        "stream": True,
        "messages": [{"role": "user", "content": text}],
        **extra,
    }
    with live.client() as client, client.stream("POST", "/v1/executions", json=body) as response:
        assert response.status_code == 200, response.read()
        return [e.json() for e in read_sse(response.iter_lines(), 10_000)]


def _terminal(events: list[dict[str, Any]]) -> dict[str, Any]:
    kinds = [e["type"] for e in events]
    assert kinds.count("done") + kinds.count("error") == 1
    assert kinds[-1] in ("done", "error")
    return events[-1]


def _text(events: list[dict[str, Any]]) -> str:
    return "".join(e["text"] for e in events if e["type"] == "text_delta")


def test_529_twice_then_success(live: LiveServer, fakes: Upstreams, sleeps: Sleeps) -> None:
    fakes.anthropic.push(Step(status=529, body="Overloaded", repeat=2))
    events = _events(live)
    done = _terminal(events)
    assert done["type"] == "done"
    assert done["result"]["attempts"] == 3
    retries = [e for e in events if e["type"] == "retry"]
    assert [r["attempt"] for r in retries] == [1, 2]
    assert all(r["error"]["code"] == "provider_unavailable" for r in retries)
    assert sleeps.delays == [0.5, 1.0]
    assert _text(events) == "Echo: a b c d e f"


def test_500_500_200_on_openai(live: LiveServer, fakes: Upstreams, sleeps: Sleeps) -> None:
    fakes.openai.push(Step(status=500, repeat=2))
    done = _terminal(_events(live, "openai"))
    assert done["result"]["attempts"] == 3
    assert len(sleeps.delays) == 2


def test_retries_stop_at_the_limit(live: LiveServer, fakes: Upstreams, sleeps: Sleeps) -> None:
    fakes.anthropic.push(Step(status=500, repeat=5))
    error = _terminal(_events(live))
    assert error["type"] == "error"
    assert error["error"]["code"] == "provider_unavailable"
    assert len(sleeps.delays) == 2
    assert len([r for r in fakes.anthropic.requests if r.path == "/v1/messages"]) == 3


def test_retry_after_ms_is_obeyed(live: LiveServer, fakes: Upstreams, sleeps: Sleeps) -> None:
    fakes.anthropic.push(Step(status=429, headers=[("retry-after-ms", "250")]))
    assert _terminal(_events(live))["type"] == "done"
    assert sleeps.delays == [0.25]


def test_http_date_retry_after_is_obeyed(
    live: LiveServer, fakes: Upstreams, sleeps: Sleeps
) -> None:
    when = email.utils.formatdate(time.time() + 20, usegmt=True)
    fakes.openai.push(Step(status=429, headers=[("retry-after", when)]))
    assert _terminal(_events(live, "openai"))["type"] == "done"
    [delay] = sleeps.delays
    assert 17 <= delay <= 21


@pytest.mark.parametrize(
    ("status", "headers"), [(503, [("x-should-retry", "false")]), (400, []), (403, []), (404, [])]
)
def test_no_retry_when_the_provider_says_so_or_the_request_is_wrong(
    live: LiveServer, fakes: Upstreams, sleeps: Sleeps, status: int, headers: list[tuple[str, str]]
) -> None:
    fakes.anthropic.push(Step(status=status, headers=headers))
    error = _terminal(_events(live))
    assert error["type"] == "error"
    assert error["error"]["upstream_status"] == status
    assert sleeps.delays == []
    assert len([r for r in fakes.anthropic.requests if r.path == "/v1/messages"]) == 1


def test_a_rejected_key_is_marked_invalid_and_not_retried(
    live: LiveServer, fakes: Upstreams, sleeps: Sleeps
) -> None:
    fakes.anthropic.push(Step(status=401, body="invalid x-api-key"))
    error = _terminal(_events(live))
    assert error["error"]["code"] == "invalid_auth"
    assert sleeps.delays == []
    with live.client() as client:
        status = client.get("/v1/providers/anthropic").json()
    assert status["api_key"]["state"] == "invalid"
    assert status["usable"] is False


def test_no_retry_after_output_reached_the_client(
    live: LiveServer, fakes: Upstreams, sleeps: Sleeps
) -> None:
    fakes.anthropic.push(Step(error_after_events=5))
    events = _events(live)
    error = _terminal(events)
    assert error["type"] == "error"
    assert [e for e in events if e["type"] == "retry"] == []
    streamed = _text(events)
    assert streamed
    assert error["partial_content"] == [{"type": "text", "text": streamed}]
    assert "Echo: a b c d e f".startswith(streamed)


def test_an_error_before_any_output_is_retried(
    live: LiveServer, fakes: Upstreams, sleeps: Sleeps
) -> None:
    fakes.anthropic.push(Step(error_after_events=1))
    events = _events(live)
    assert _terminal(events)["type"] == "done"
    assert [e["type"] for e in events].count("retry") == 1
    assert _text(events) == "Echo: a b c d e f"


def test_headers_then_silence_times_out_within_the_bound(
    live: LiveServer, fakes: Upstreams
) -> None:
    fakes.anthropic.push(Step(stall_after_headers=True, repeat=3))
    started = time.monotonic()
    events = _events(live)
    elapsed = time.monotonic() - started
    error = _terminal(events)
    assert error["error"]["code"] == "timeout"
    assert len([e for e in events if e["type"] == "retry"]) == 2
    assert elapsed < 3 * 1.0 + 1.5


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_drip_slower_than_the_idle_timeout_ends_in_timeout(
    config: DaemonConfig, fakes: Upstreams, sleeps: Sleeps, provider: str
) -> None:
    with _serve(config, fakes, sleeps, first_token_timeout_s=5.0, idle_timeout_s=0.4) as live:
        with live.client() as client:
            client.put("/v1/providers/openai/api-key", json={"api_key": OPENAI_KEY})
            client.put("/v1/providers/anthropic/api-key", json={"api_key": ANTHROPIC_KEY})
        getattr(fakes, provider).push(Step(drip_s=0.6))
        started = time.monotonic()
        events = _events(live, provider)
    error = _terminal(events)
    assert error["error"]["code"] == "timeout"
    # The idle limit is named, never the first-token one.
    assert "sent nothing for 0.4 s" in error["error"]["message"]
    assert "5 s" not in error["error"]["message"]
    assert _text(events)
    assert error["partial_content"] == [{"type": "text", "text": _text(events)}]
    assert [e for e in events if e["type"] == "retry"] == []
    assert time.monotonic() - started < 6


def test_the_request_deadline_bounds_everything(live: LiveServer, fakes: Upstreams) -> None:
    fakes.anthropic.push(Step(drip_s=0.3))
    started = time.monotonic()
    error = _terminal(_events(live, text=" ".join("w" * 20), timeout_s=0.7))
    assert error["error"]["code"] == "timeout"
    assert time.monotonic() - started < 2


def test_retrying_never_outlives_the_deadline(
    live: LiveServer, fakes: Upstreams, sleeps: Sleeps
) -> None:
    fakes.anthropic.push(Step(status=429, headers=[("retry-after", "30")]))
    error = _terminal(_events(live, timeout_s=5))
    assert error["error"]["code"] == "rate_limited"
    assert error["error"]["retry_after_s"] == 30
    assert sleeps.delays == []


def test_a_reset_mid_stream_is_one_error_with_the_partial_text(
    live: LiveServer, fakes: Upstreams
) -> None:
    fakes.anthropic.push(Step(reset_after_events=6))
    events = _events(live)
    error = _terminal(events)
    assert error["type"] == "error"
    assert error["error"]["code"] in ("provider_unavailable", "unexpected_error")
    assert error["partial_content"] == [{"type": "text", "text": _text(events)}]


def test_malformed_sse_is_one_error_event(live: LiveServer, fakes: Upstreams) -> None:
    fakes.anthropic.push(Step(malformed_after_events=5))
    events = _events(live)
    error = _terminal(events)
    assert error["type"] == "error"
    assert error["partial_content"] == [{"type": "text", "text": _text(events)}]


def test_a_client_that_disconnects_closes_the_upstream(live: LiveServer, fakes: Upstreams) -> None:
    fakes.anthropic.push(Step(drip_s=0.3))
    body = {
        "provider": "anthropic",
        "stream": True,
        "messages": [{"role": "user", "content": "a b c d e f g h"}],
    }
    with live.client() as client, client.stream("POST", "/v1/executions", json=body) as response:
        lines = response.iter_lines()
        read_sse(lines, 2)
        before = fakes.anthropic.closed_connections
    started = time.monotonic()
    while fakes.anthropic.closed_connections == before and time.monotonic() - started < 2:
        time.sleep(0.02)
    assert fakes.anthropic.closed_connections > before
    assert time.monotonic() - started < 1.0


def test_the_breaker_opens_and_fails_fast(
    config: DaemonConfig, fakes: Upstreams, sleeps: Sleeps
) -> None:
    with _serve(config, fakes, sleeps, max_retries=0) as live, live.client() as client:
        client.put("/v1/providers/openai/api-key", json={"api_key": OPENAI_KEY})
        fakes.openai.push(Step(status=503, repeat=5))
        for _ in range(5):
            assert (
                client.post(
                    "/v1/executions",
                    json={"provider": "openai", "messages": [{"role": "user", "content": "x"}]},
                ).status_code
                == 503
            )
        sent = len(fakes.openai.requests)
        fast = client.post(
            "/v1/executions",
            json={"provider": "openai", "messages": [{"role": "user", "content": "x"}]},
        )
        status = client.get("/v1/providers/openai").json()
        history = [e.event for e in live.runtime.bus.history() if e.event.type == "provider_status"]
    assert fast.status_code == 503
    assert fast.json()["retry_after_s"] == pytest.approx(30, abs=1)
    assert fast.headers["retry-after"]
    assert len(fakes.openai.requests) == sent
    assert status["health"]["state"] == "unavailable"
    assert status["health"]["breaker"] == "open"
    assert status["health"]["cooldown_until"]
    assert any(e.provider.health.state.value == "unavailable" for e in history)


def test_a_429_never_triggers_auth_fallback(
    config: DaemonConfig, fakes: Upstreams, sleeps: Sleeps, isolated_home: Path
) -> None:
    anthropic_profile(isolated_home / ".config" / "anthropic")
    with _serve(config, fakes, sleeps) as live, live.client() as client:
        client.put("/v1/providers/anthropic/api-key", json={"api_key": ANTHROPIC_KEY})
        client.put(
            "/v1/providers/anthropic/settings", json={"preferred_auth_mode": "token_session"}
        )
        fakes.anthropic.push(Step(status=429, repeat=3))
        result = client.post(
            "/v1/executions",
            json={"provider": "anthropic", "messages": [{"role": "user", "content": "x"}]},
        )
    assert result.status_code == 429
    assert all(
        r.headers.get("authorization", "").startswith("Bearer sk-ant-oat")
        for r in fakes.anthropic.requests
        if r.path == "/v1/messages"
    )


def test_a_session_401_rereads_once_then_succeeds(
    config: DaemonConfig, fakes: Upstreams, sleeps: Sleeps, isolated_home: Path
) -> None:
    anthropic_profile(isolated_home / ".config" / "anthropic")
    with _serve(config, fakes, sleeps) as live, live.client() as client:
        client.put(
            "/v1/providers/anthropic/settings", json={"preferred_auth_mode": "token_session"}
        )
        fakes.anthropic.push(Step(status=401, body="OAuth token revoked"))
        result = client.post(
            "/v1/executions",
            json={"provider": "anthropic", "messages": [{"role": "user", "content": "x"}]},
        )
    assert result.status_code == 200
    assert result.json()["attempts"] == 2
    assert result.json()["fallback_applied"] is False
    assert result.json()["auth_mode"] == "token_session"


def test_a_session_401_twice_falls_back_to_the_key(
    config: DaemonConfig, fakes: Upstreams, sleeps: Sleeps, isolated_home: Path
) -> None:
    anthropic_profile(isolated_home / ".config" / "anthropic")
    with _serve(config, fakes, sleeps) as live, live.client() as client:
        client.put("/v1/providers/anthropic/api-key", json={"api_key": ANTHROPIC_KEY})
        client.put(
            "/v1/providers/anthropic/settings", json={"preferred_auth_mode": "token_session"}
        )
        fakes.anthropic.push(Step(status=401, body="OAuth token has expired.", repeat=2))
        events = _events(live)
        status = client.get("/v1/providers/anthropic").json()
        errors = [e.event for e in live.runtime.bus.history() if e.event.type == "provider_error"]
    done = _terminal(events)
    assert done["type"] == "done"
    assert done["result"]["fallback_applied"] is True
    assert done["result"]["auth_mode"] == "api_key"
    assert done["result"]["attempts"] == 3
    assert status["token_session"]["state"] == "expired"
    assert "ant auth login" in status["token_session"]["remediation"]
    assert status["resolved_mode"] == "api_key"
    assert status["fallback_applied"] is True
    assert errors
    assert errors[0].error.code.value == "session_expired"
    sent = [r for r in fakes.anthropic.requests if r.path == "/v1/messages"]
    assert sent[-1].headers["x-api-key"] == ANTHROPIC_KEY


def test_a_session_401_twice_without_a_key_is_session_expired(
    config: DaemonConfig, fakes: Upstreams, sleeps: Sleeps, isolated_home: Path
) -> None:
    anthropic_profile(isolated_home / ".config" / "anthropic")
    with _serve(config, fakes, sleeps) as live, live.client() as client:
        client.put(
            "/v1/providers/anthropic/settings", json={"preferred_auth_mode": "token_session"}
        )
        fakes.anthropic.push(Step(status=401, body="OAuth token has expired.", repeat=2))
        result = client.post(
            "/v1/executions",
            json={"provider": "anthropic", "messages": [{"role": "user", "content": "x"}]},
        )
    assert result.status_code == 424
    body = result.json()
    assert body["code"] == "session_expired"
    assert "ant auth login" in body["remediation"]


def test_the_optional_periodic_probe_uses_a_models_call(
    config: DaemonConfig, fakes: Upstreams, sleeps: Sleeps
) -> None:
    with _serve(config, fakes, sleeps, probe_interval_s=0.2) as live, live.client() as client:
        client.put("/v1/providers/openai/api-key", json={"api_key": OPENAI_KEY})
        deadline = time.monotonic() + 5
        while client.get("/v1/providers/openai").json()["health"]["checked_at"] is None:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        status = client.get("/v1/providers/openai").json()
    assert status["health"]["state"] == "healthy"
    assert {r.path for r in fakes.openai.requests} == {"/v1/models"}
    assert not any(r.path == "/v1/models" for r in fakes.anthropic.requests)
