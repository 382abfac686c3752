"""The real daemon process against the fake upstreams (through ANTHROPIC_BASE_URL /
OPENAI_BASE_URL): both providers, both auth modes, plain, streamed and a tool round trip; and
the human CLI client against it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.sessions_fixtures import anthropic_profile, codex_api_key
from tests.support import (
    ANTHROPIC_KEY,
    OPENAI_KEY,
    Daemon,
    Upstreams,
    read_sse,
    spawn_daemon,
    upstreams,
)

TOOLS = [
    {
        "name": "lookup",
        "input_schema": {"type": "object", "properties": {"term": {"type": "string"}}},
    }
]


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Daemon, Upstreams]]:
    home = tmp_path_factory.mktemp("e2e-home")
    anthropic_profile(home / ".config" / "anthropic")
    codex_api_key(home / ".codex")
    with upstreams() as fakes:
        daemon = spawn_daemon(
            env={
                **fakes.env(),
                "HOME": str(home),
                "ANTHROPIC_CONFIG_DIR": str(home / ".config" / "anthropic"),
                "CODEX_HOME": str(home / ".codex"),
                "KATA_PROVIDERS_HOME": str(home / "data"),
                "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
            }
        )
        try:
            with _client(daemon) as http:
                assert (
                    http.put(
                        "/v1/providers/anthropic/api-key", json={"api_key": ANTHROPIC_KEY}
                    ).status_code
                    == 200
                )
                assert (
                    http.put(
                        "/v1/providers/openai/api-key", json={"api_key": OPENAI_KEY}
                    ).status_code
                    == 200
                )
            yield daemon, fakes
        finally:
            daemon.stop()


def _client(daemon: Daemon) -> httpx.Client:
    return httpx.Client(
        base_url=daemon.url, headers={"Authorization": f"Bearer {daemon.token}"}, timeout=30
    )


CASES = [(p, m) for p in ("anthropic", "openai") for m in ("api_key", "token_session")]


@pytest.mark.parametrize(("provider", "mode"), CASES)
def test_plain_streamed_and_tool_round_trip(
    running: tuple[Daemon, Upstreams], provider: str, mode: str
) -> None:
    daemon, _ = running
    with _client(daemon) as http:
        http.put(f"/v1/providers/{provider}/settings", json={"preferred_auth_mode": mode})
        plain = http.post(
            "/v1/executions",
            json={"provider": provider, "messages": [{"role": "user", "content": "ping"}]},
        )
        assert plain.status_code == 200, plain.text
        assert plain.json()["auth_mode"] == mode
        assert plain.json()["content"] == [{"type": "text", "text": "Echo: ping"}]
        assert plain.headers["x-request-id"].startswith("req_")

        with http.stream(
            "POST",
            "/v1/executions",
            json={
                "provider": provider,
                "stream": True,
                "messages": [{"role": "user", "content": "stream me"}],
            },
        ) as response:
            events = [e.json() for e in read_sse(response.iter_lines(), 1000)]
        assert events[0]["type"] == "start"
        assert events[-1]["type"] == "done"
        assert events[-1]["result"]["auth_mode"] == mode
        assert "".join(e["text"] for e in events if e["type"] == "text_delta") == "Echo: stream me"

        asked = http.post(
            "/v1/executions",
            json={
                "provider": provider,
                "tools": TOOLS,
                "messages": [{"role": "user", "content": "kata"}],
            },
        ).json()
        [call] = asked["content"]
        assert call["arguments"] == {"term": "kata"}
        answered = http.post(
            "/v1/executions",
            json={
                "provider": provider,
                "tools": TOOLS,
                "messages": [
                    {"role": "user", "content": "kata"},
                    {"role": "assistant", "content": [call]},
                    {
                        "role": "user",
                        "content": [
                            {"type": "tool_result", "tool_call_id": call["id"], "content": "a form"}
                        ],
                    },
                ],
            },
        ).json()
        assert answered["content"] == [{"type": "text", "text": "Tool said: a form"}]
        http.put(f"/v1/providers/{provider}/settings", json={"preferred_auth_mode": "api_key"})


def _cli(daemon: Daemon, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KATA_PROVIDERS_URL": daemon.url, "KATA_PROVIDERS_TOKEN": daemon.token}
    return subprocess.run(
        [sys.executable, "-m", "service.process.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_cli_status_models_run_and_keys(running: tuple[Daemon, Upstreams]) -> None:
    daemon, _ = running
    status = _cli(daemon, "status")
    assert status.returncode == 0, status.stderr
    assert "Anthropic: usable, auth api_key" in status.stdout
    assert ANTHROPIC_KEY not in status.stdout
    models = _cli(daemon, "models", "--provider", "openai")
    assert models.returncode == 0
    assert "gpt-5.5" in models.stdout
    run = _cli(daemon, "run", "hello cli", "--provider", "openai")
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "Echo: hello cli"
    assert "openai gpt-5.5 via api_key" in run.stderr
    as_json: dict[str, Any] = json.loads(_cli(daemon, "status", "--json").stdout)
    assert len(as_json["providers"]) == 2
    removed = _cli(daemon, "keys", "remove", "openai")
    assert removed.returncode == 0
    assert "missing" in removed.stdout
    failing = _cli(daemon, "run", "hello", "--provider", "openai")
    assert failing.returncode == 1
    assert "missing_auth" in failing.stderr
    assert "what to do:" in failing.stderr
    added = _cli(daemon, "keys", "set", "openai", "--verify", stdin=OPENAI_KEY + "\n")
    assert added.returncode == 0, added.stderr
    assert "configured" in added.stdout
    assert OPENAI_KEY not in added.stdout


def test_cli_says_how_to_reach_the_daemon(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "KATA_PROVIDERS_URL": "http://127.0.0.1:9",
        "KATA_PROVIDERS_TOKEN": "x" * 20,
    }
    result = subprocess.run(
        [sys.executable, "-m", "service.process.cli", "status"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 3  # not running
    assert "no daemon is running at http://127.0.0.1:9" in result.stderr
    assert "KATA_PROVIDERS_URL" in result.stderr
    assert "make run" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_usage_shows_the_ledger(running: tuple[Daemon, Upstreams]) -> None:
    daemon, _ = running
    with _client(daemon) as http:
        http.put(
            "/v1/settings",
            json={
                "prices": {
                    "claude-sonnet-5-5": {"input_usd_per_mtok": 1e4, "output_usd_per_mtok": 0}
                }
            },
        )
        for agent in ("review", "review", "verify"):
            http.post(
                "/v1/executions",
                json={
                    "provider": "anthropic",
                    "messages": [{"role": "user", "content": "count me"}],
                    "metadata": {"agent": agent},
                },
            ).raise_for_status()
        expected = http.get("/v1/usage", params={"group_by": "agent"}).json()
    table = _cli(daemon, "usage", "--by", "agent")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].startswith("usage by agent")
    review = next(line for line in lines if line.startswith("review"))
    assert review.split()[1] == "2"
    total = next(line for line in lines if line.startswith("total"))
    # (a `*` marks a total that some unpriced runs of earlier tests are part of)
    assert total.split()[-1].rstrip("*") == f"{expected['totals']['cost_usd']:.4f}"
    as_json = json.loads(_cli(daemon, "usage", "--by", "agent", "--json").stdout)
    counts = {g["key"]: g["executions"] for g in as_json["groups"]}
    assert counts["review"] == 2
    assert counts["verify"] == 1
    # A time that is not one is a bad argument (exit 2, like any other), never a traceback.
    for option in ("--since", "--until"):
        bad = _cli(daemon, "usage", option, "yesterday")
        assert bad.returncode == 2
        assert "ISO 8601" in bad.stderr
        assert "Traceback" not in bad.stderr
