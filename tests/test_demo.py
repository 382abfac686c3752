"""`kata-providers serve --demo`: everything works on a fresh machine with no account."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import Daemon, read_sse, spawn_daemon


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("demo")


@pytest.fixture(scope="module")
def demo(data: Path) -> Iterator[Daemon]:
    user_home = data / "user-home"
    user_home.mkdir()
    daemon = spawn_daemon("--demo", env={"KATA_PROVIDERS_HOME": str(data), "HOME": str(user_home)})
    try:
        yield daemon
    finally:
        daemon.stop()


def _client(daemon: Daemon) -> httpx.Client:
    return httpx.Client(
        base_url=daemon.url, headers={"Authorization": f"Bearer {daemon.token}"}, timeout=30
    )


def test_every_status_is_marked_demo_and_shows_both_auth_modes(demo: Daemon) -> None:
    with _client(demo) as http:
        health = http.get("/v1/health").json()
        anthropic, openai = http.get("/v1/providers").json()["providers"]
        page = http.get("/")
    assert health["demo"] is True
    assert anthropic["demo"] is openai["demo"] is True
    assert anthropic["resolved_mode"] == "token_session"
    assert anthropic["token_session"]["kind"] == "anthropic_profile"
    assert openai["resolved_mode"] == "api_key"
    assert openai["fallback_applied"] is True
    assert openai["token_session"]["state"] == "disabled"
    assert page.status_code == 200
    assert "DEMO" in page.text


def test_streaming_tool_calls_and_errors_work(demo: Daemon) -> None:
    tools = [
        {
            "name": "get_weather",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
        }
    ]
    with _client(demo) as http:
        with http.stream(
            "POST",
            "/v1/executions",
            json={
                "provider": "anthropic",
                "stream": True,
                "messages": [{"role": "user", "content": "hi demo"}],
            },
        ) as response:
            events = [e.json() for e in read_sse(response.iter_lines(), 1000)]
        tool = http.post(
            "/v1/executions",
            json={
                "provider": "openai",
                "tools": tools,
                "messages": [{"role": "user", "content": "Oslo"}],
            },
        ).json()
        failing = http.post(
            "/v1/executions",
            json={
                "provider": "openai",
                "messages": [{"role": "user", "content": "!status 400"}],
            },
        )
    assert any(e["type"] == "thinking_delta" for e in events)
    assert events[-1]["result"]["content"][-1]["text"] == "Echo: hi demo"
    assert tool["content"][0]["arguments"] == {"city": "Oslo"}
    assert tool["fallback_applied"] is True
    assert failing.status_code == 400
    assert failing.json()["code"] == "invalid_request"


def test_demo_touches_nothing_of_the_user(demo: Daemon, data: Path) -> None:
    with _client(demo) as http:
        key = http.get("/v1/providers/anthropic").json()["api_key"]
        session = http.get("/v1/providers/anthropic").json()["token_session"]
    assert key["source"] == "keyring:DemoKeyring"
    assert session["source"].startswith(str(data / "demo"))
    assert list((data / "user-home").iterdir()) == []
    assert not (data / "credentials.json").exists()
    assert not (data / "settings.json").exists()
