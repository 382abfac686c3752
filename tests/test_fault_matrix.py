"""The fault matrix: one scenario per row, each against the fakes and the real app over a socket,
each asserting the error code (or success), the number of retries, exactly one terminal event,
no duplicated or invented text, the resulting health, and no secret in any log line."""

from __future__ import annotations

import dataclasses
import email.utils
import io
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.fakes.server import Step
from service.executions.retry import RetryPolicy
from service.process.config import DaemonConfig
from service.process.logs import JsonFormatter, Redactor
from tests.sessions_fixtures import PROFILE_TOKEN, anthropic_profile
from tests.support import (
    ANTHROPIC_KEY,
    OPENAI_KEY,
    TEST_TOKEN,
    LiveServer,
    Sleeps,
    Upstreams,
    make_runtime,
    read_sse,
)

WORDS = "one two three four five six seven"
FULL = f"Echo: {WORDS}"
SECRETS = [ANTHROPIC_KEY, OPENAI_KEY, TEST_TOKEN, PROFILE_TOKEN]


@dataclass
class Row:
    name: str
    steps: list[Step]
    code: str | None  # None: the execution succeeds
    retries: int
    health: str
    provider: str = "anthropic"
    session: bool = False
    fallback: bool = False
    partial: bool = False
    text: str = WORDS
    overrides: dict[str, Any] = field(default_factory=dict)
    timeouts: dict[str, float] = field(default_factory=dict)


ROWS = [
    Row(
        "429 retry-after-ms",
        [Step(status=429, headers=[("retry-after-ms", "20")])],
        None,
        1,
        "healthy",
    ),
    Row(
        "429 HTTP-date retry-after",
        [
            Step(
                status=429,
                headers=[("retry-after", email.utils.formatdate(time.time() + 30, usegmt=True))],
            )
        ],
        None,
        1,
        "healthy",
        provider="openai",
    ),
    Row("529 twice then success", [Step(status=529, repeat=2)], None, 2, "healthy"),
    Row("500, 500, 200", [Step(status=500, repeat=2)], None, 2, "healthy", provider="openai"),
    Row(
        "503 x-should-retry false",
        [Step(status=503, headers=[("x-should-retry", "false")])],
        "provider_unavailable",
        0,
        "degraded",
    ),
    Row("401 on a key", [Step(status=401, body="invalid x-api-key")], "invalid_auth", 0, "unknown"),
    Row(
        "401 on a session with fallback",
        [Step(status=401, body="OAuth token has expired.", repeat=2)],
        None,
        2,
        "healthy",
        session=True,
        fallback=True,
    ),
    Row("403", [Step(status=403, body="permission denied")], "invalid_auth", 0, "unknown"),
    Row("400", [Step(status=400, body="messages.0: bad")], "invalid_request", 0, "unknown"),
    Row("unknown model", [], "model_not_found", 0, "unknown", overrides={"model": "claude-none"}),
    Row(
        "headers then silence",
        [Step(stall_after_headers=True, repeat=3)],
        "timeout",
        2,
        "degraded",
        timeouts={"first_token_timeout_s": 0.4},
    ),
    Row(
        "drip slower than the idle timeout",
        [Step(drip_s=0.6)],
        "timeout",
        0,
        "degraded",
        partial=True,
        timeouts={"first_token_timeout_s": 10.0, "idle_timeout_s": 0.3},
    ),
    Row(
        "reset after some events",
        [Step(reset_after_events=6)],
        "provider_unavailable",
        0,
        "degraded",
        partial=True,
    ),
    Row(
        "event: error mid-stream",
        [Step(error_after_events=6)],
        "provider_unavailable",
        0,
        "degraded",
        partial=True,
    ),
    Row(
        "malformed SSE",
        [Step(malformed_after_events=6)],
        "unexpected_error",
        0,
        "unknown",
        partial=True,
    ),
    Row(
        "a response far larger than usual",
        [],
        None,
        0,
        "healthy",
        text=" ".join(f"w{n}" for n in range(20_000)),
        overrides={"max_tokens": 50_000},
    ),
]


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """Every log line the daemon writes during the test, formatted as in production (DEBUG)."""
    stream = io.StringIO()
    redactor = Redactor()
    redactor.add(TEST_TOKEN)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(redactor))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def _serve(
    config: DaemonConfig, fakes: Upstreams, sleeps: Sleeps, isolated_home: Path, row: Row
) -> Any:
    limits = {"first_token_timeout_s": 5.0, "idle_timeout_s": 5.0, **row.timeouts}
    config = dataclasses.replace(config, **limits)  # type: ignore[arg-type]
    if row.session:
        anthropic_profile(isolated_home / ".config" / "anthropic")
    runtime = make_runtime(
        config,
        adapters=fakes.adapters(),
        watch=False,
        policy=RetryPolicy(max_retries=2, sleep=sleeps, rng=lambda: 0.0),
    )
    return LiveServer.start(config, runtime)


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_fault(
    row: Row, config: DaemonConfig, fakes: Upstreams, isolated_home: Path, logs: io.StringIO
) -> None:
    sleeps = Sleeps()
    fake = fakes.anthropic if row.provider == "anthropic" else fakes.openai
    with _serve(config, fakes, sleeps, isolated_home, row) as live, live.client() as client:
        client.put("/v1/providers/anthropic/api-key", json={"api_key": ANTHROPIC_KEY})
        client.put("/v1/providers/openai/api-key", json={"api_key": OPENAI_KEY})
        if row.session:
            client.put(
                "/v1/providers/anthropic/settings", json={"preferred_auth_mode": "token_session"}
            )
        fake.push(*row.steps)
        body = {
            "provider": row.provider,
            "stream": True,
            "messages": [{"role": "user", "content": row.text}],
            **row.overrides,
        }
        with client.stream("POST", "/v1/executions", json=body) as response:
            events = [e.json() for e in read_sse(response.iter_lines(), 100_000)]
        health = client.get(f"/v1/providers/{row.provider}").json()["health"]["state"]
    kinds = [e["type"] for e in events]
    assert kinds[0] == "start"
    assert kinds.count("done") + kinds.count("error") == 1, kinds[-3:]
    assert kinds[-1] in ("done", "error")
    assert kinds.count("retry") == row.retries
    streamed = "".join(e["text"] for e in events if e["type"] == "text_delta")
    expected = f"Echo: {row.text}"
    assert expected.startswith(streamed), "text was invented or repeated"
    if row.code is None:
        result = events[-1]["result"]
        assert streamed == expected
        assert result["content"] == [{"type": "text", "text": expected}]
        assert result["attempts"] == row.retries + 1
        assert result["fallback_applied"] is row.fallback
    else:
        error = events[-1]
        assert error["error"]["code"] == row.code
        assert error["error"]["remediation"]
        assert error["partial_content"] == (
            [{"type": "text", "text": streamed}] if streamed else []
        )
        assert bool(streamed) is row.partial
    assert health == row.health
    written = logs.getvalue()
    assert written, "the daemon logged nothing"
    for secret in SECRETS:
        assert secret not in written


def test_connection_refused(config: DaemonConfig, logs: io.StringIO) -> None:
    from adapters.anthropic.adapter import AnthropicAdapter
    from contracts.base import ProviderId

    sleeps = Sleeps()
    runtime = make_runtime(
        config,
        adapters={ProviderId.ANTHROPIC: AnthropicAdapter("http://127.0.0.1:9")},
        watch=False,
        policy=RetryPolicy(max_retries=2, sleep=sleeps, rng=lambda: 0.0),
    )
    with LiveServer.start(config, runtime) as live, live.client() as client:
        client.put("/v1/providers/anthropic/api-key", json={"api_key": ANTHROPIC_KEY})
        with client.stream(
            "POST",
            "/v1/executions",
            json={
                "provider": "anthropic",
                "stream": True,
                "messages": [{"role": "user", "content": "x"}],
            },
        ) as response:
            events = [e.json() for e in read_sse(response.iter_lines(), 100)]
        health = client.get("/v1/providers/anthropic").json()["health"]["state"]
    assert [e["type"] for e in events].count("retry") == 2
    assert events[-1]["error"]["code"] == "provider_unavailable"
    assert "Cannot connect to 127.0.0.1:9" in events[-1]["error"]["message"]
    assert "network" in events[-1]["error"]["remediation"]
    assert sleeps.delays == [0.5, 1.0]
    # The user's network (or a wrong base URL), not the provider's health.
    assert health == "unknown"
    assert ANTHROPIC_KEY not in logs.getvalue()


def test_malformed_json_body(config: DaemonConfig, fakes: Upstreams) -> None:
    runtime = make_runtime(config, adapters=fakes.adapters(), watch=False)
    with LiveServer.start(config, runtime) as live, live.client() as client:
        response = client.post(
            "/v1/executions",
            content=b'{"messages": [{"role": "user",',
            headers={"Content-Type": "application/json"},
        )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"
    assert not [r for r in fakes.anthropic.requests if r.path == "/v1/messages"]


def test_a_client_that_disconnects_mid_stream(config: DaemonConfig, fakes: Upstreams) -> None:
    runtime = make_runtime(config, adapters=fakes.adapters(), watch=False)
    with LiveServer.start(config, runtime) as live, live.client() as client:
        client.put("/v1/providers/openai/api-key", json={"api_key": OPENAI_KEY})
        fakes.openai.push(Step(drip_s=0.2))
        with client.stream(
            "POST",
            "/v1/executions",
            json={
                "provider": "openai",
                "stream": True,
                "messages": [{"role": "user", "content": WORDS}],
            },
        ) as response:
            read_sse(response.iter_lines(), 2)
            before = fakes.openai.closed_connections
        deadline = time.monotonic() + 1.0
        while fakes.openai.closed_connections == before and time.monotonic() < deadline:
            time.sleep(0.02)
    assert fakes.openai.closed_connections > before


def test_httpx_is_not_the_only_client(config: DaemonConfig, fakes: Upstreams) -> None:
    """The same error body whatever the client: a raw socket sees the taxonomy too."""
    runtime = make_runtime(config, adapters=fakes.adapters(), watch=False)
    with LiveServer.start(config, runtime) as live:
        raw = httpx.post(
            f"{live.url}/v1/executions",
            json={"messages": [{"role": "user", "content": "x"}]},
            headers={"Authorization": f"Bearer {TEST_TOKEN}"},
        )
    assert raw.status_code == 424
    assert set(raw.json()) >= {
        "code",
        "message",
        "remediation",
        "retryable",
        "provider",
        "request_id",
    }
