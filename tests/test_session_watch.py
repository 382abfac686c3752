"""Sessions are re-detected when their files change and when they expire, without polling."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.sessions_fixtures import anthropic_profile, codex_api_key
from tests.support import LiveServer, read_sse


@contextlib.contextmanager
def _stream(live: LiveServer) -> Iterator[Iterator[str]]:
    with live.client() as client, client.stream("GET", "/v1/events") as response:
        yield response.iter_lines()


def _wait_for(lines: Iterator[str], match: Any, limit: int = 20) -> dict[str, Any]:
    for _ in range(limit):
        [event] = read_sse(lines, 1)
        body = event.json()
        if match(body):
            return dict(body)
    raise AssertionError("expected event never came")


def _provider(body: dict[str, Any], name: str) -> dict[str, Any] | None:
    if body.get("type") == "provider_status" and body["provider"]["id"] == name:
        return dict(body["provider"])
    return None


@pytest.mark.timeout(30)
def test_a_codex_sign_in_appearing_is_noticed(live: LiveServer, isolated_home: Path) -> None:
    with _stream(live) as lines:
        [snapshot] = read_sse(lines, 1)
        openai = snapshot.json()["providers"][1]
        assert openai["token_session"]["state"] == "missing"
        time.sleep(0.3)  # let the watcher settle on the current plan
        codex_api_key(isolated_home / ".codex")
        body = _wait_for(
            lines,
            lambda b: (
                (_provider(b, "openai") or {}).get("token_session", {}).get("state") == "active"
            ),
        )
    status = _provider(body, "openai")
    assert status is not None
    assert status["token_session"]["kind"] == "codex_api_key"


@pytest.mark.timeout(30)
def test_an_expiring_profile_turns_expired_on_time(live: LiveServer, isolated_home: Path) -> None:
    with _stream(live) as lines:
        read_sse(lines, 1)
        anthropic_profile(isolated_home / ".config" / "anthropic", expires_in=60)
        _wait_for(
            lines,
            lambda b: (
                (_provider(b, "anthropic") or {}).get("token_session", {}).get("state")
                == "expiring"
            ),
        )
        anthropic_profile(isolated_home / ".config" / "anthropic", expires_in=1.5)
        expiring = _wait_for(
            lines,
            lambda b: (
                (_provider(b, "anthropic") or {}).get("token_session", {}).get("state")
                == "expiring"
            ),
        )
        started = time.monotonic()
        expired = _wait_for(
            lines,
            lambda b: (
                (_provider(b, "anthropic") or {}).get("token_session", {}).get("state") == "expired"
            ),
        )
    assert expiring["provider"]["token_session"]["expires_at"]
    assert expired["provider"]["token_session"]["remediation"]
    assert time.monotonic() - started < 5
