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
    daemon = spawn_daemon(
        "--demo",
        env={
            "KATA_PROVIDERS_HOME": str(data),
            "HOME": str(user_home),
            # The user's own credentials: the demo must never read them.
            "ANTHROPIC_API_KEY": "sk-ant-users-real-key-never-read-7777",
            "OPENAI_API_KEY": "sk-users-real-openai-key-never-read-7777",
            "ANTHROPIC_AUTH_TOKEN": "sk-ant-oat01-users-real-token-7777",
        },
    )
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
        http.put("/v1/settings", json={"default_provider": "openai"})
        http.delete("/v1/providers/openai/api-key")
        openai_key = http.get("/v1/providers/openai").json()["api_key"]
    assert key["source"] == "keyring:DemoKeyring"
    assert "kata-providers-demo-" in session["source"]
    assert openai_key["state"] == "missing", "the user's OPENAI_API_KEY is never read"
    assert list((data / "user-home").iterdir()) == []
    assert [p.name for p in data.iterdir()] == ["user-home"], "nothing in the real data folder"


def test_each_demo_run_starts_fresh_and_leaves_nothing(tmp_path: Path) -> None:
    env = {"KATA_PROVIDERS_HOME": str(tmp_path / "data")}
    first = spawn_daemon("--demo", env=env)
    with _client(first) as http:
        http.put("/v1/settings", json={"default_provider": "openai"})
        folder = Path(http.get("/v1/providers/anthropic").json()["token_session"]["source"])
    assert first.stop() == 0
    assert not any(
        parent.name.startswith("kata-providers-demo-") and parent.exists()
        for parent in folder.parents
    )
    second = spawn_daemon("--demo", env=env)
    try:
        with _client(second) as http:
            settings = http.get("/v1/settings").json()
    finally:
        second.stop()
    assert settings["default_provider"] is None
