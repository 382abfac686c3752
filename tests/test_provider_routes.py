"""Provider settings, API keys, checks and their events, through the HTTP routes."""

from __future__ import annotations

import json
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest

from adapters.anthropic.adapter import AnthropicAdapter
from adapters.openai.adapter import OpenAIAdapter
from contracts.base import ProviderId
from service.events import Envelope
from service.process.config import DaemonConfig
from service.runtime import Runtime
from tests.fakes_keyring import MemoryKeyring, NoBackendKeyring
from tests.sessions_fixtures import anthropic_profile, codex_api_key, codex_chatgpt
from tests.support import TEST_TOKEN, app_client, loopback, make_runtime

AUTH = {"Authorization": f"Bearer {TEST_TOKEN}"}
GOOD = "sk-ant-api03-good-key-for-verify-AAAA"
BAD = "sk-ant-api03-revoked-key-for-verify-BBBB"


def models_upstream(request: httpx2.Request) -> httpx2.Response:
    """Just enough of Anthropic's and OpenAI's model listings to verify a key."""
    token = request.headers.get("authorization", "").removeprefix("Bearer ")
    token = token or request.headers.get("x-api-key", "")
    if token not in (GOOD, "sk-openai-good-key-CCCC"):
        body = {
            "type": "error",
            "error": {"type": "authentication_error", "message": "invalid x-api-key"},
        }
        return httpx2.Response(401, json=body, headers={"request-id": "req_upstream_1"})
    if "anthropic-version" in request.headers:
        data = [
            {
                "type": "model",
                "id": "claude-test",
                "display_name": "Claude Test",
                "created_at": "2026-01-01T00:00:00Z",
                "max_input_tokens": 200000,
                "max_tokens": 64000,
            }
        ]
        return httpx2.Response(
            200,
            json={
                "data": data,
                "has_more": False,
                "first_id": "claude-test",
                "last_id": "claude-test",
            },
        )
    return httpx2.Response(
        200,
        json={
            "object": "list",
            "data": [
                {"id": "gpt-test", "object": "model", "created": 1700000000, "owned_by": "openai"}
            ],
        },
    )


@pytest.fixture
async def upstream() -> AsyncIterator[str]:
    async with loopback(models_upstream) as url:
        yield url


def _adapters(url: str) -> dict[ProviderId, Any]:
    return {
        ProviderId.ANTHROPIC: AnthropicAdapter(url),
        ProviderId.OPENAI: OpenAIAdapter(f"{url}/v1"),
    }


@pytest.fixture
def keyring() -> MemoryKeyring:
    return MemoryKeyring()


@pytest.fixture
def runtime(config: DaemonConfig, keyring: MemoryKeyring, upstream: str) -> Runtime:
    return make_runtime(config, keyring, adapters=_adapters(upstream), watch=False)


@pytest.fixture
async def http(config: DaemonConfig, runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(config, runtime, headers=AUTH) as client:
        yield client


def _events(runtime: Runtime) -> list[Envelope]:
    return runtime.bus.history()


async def test_a_stored_key_is_never_returned_only_its_hint(
    http: httpx.AsyncClient, keyring: MemoryKeyring
) -> None:
    response = await http.put("/v1/providers/anthropic/api-key", json={"api_key": GOOD})
    assert response.status_code == 200
    assert GOOD not in response.text
    status = response.json()
    assert status["api_key"] == {
        "state": "configured",
        "source": "keyring:MemoryKeyring",
        "hint": "…AAAA",
        "store": "keyring:MemoryKeyring",
        "remediation": None,
    }
    assert status["usable"] is True
    assert status["resolved_mode"] == "api_key"
    assert status["last_error"] is None
    assert keyring.entries[("kata-providers", "anthropic")] == GOOD
    listing = await http.get("/v1/providers")
    assert GOOD not in listing.text
    assert listing.json()["default_provider"] == "anthropic"


async def test_verify_probes_the_provider_and_refuses_a_rejected_key(
    http: httpx.AsyncClient, keyring: MemoryKeyring
) -> None:
    rejected = await http.put(
        "/v1/providers/anthropic/api-key", json={"api_key": BAD, "verify": True}
    )
    assert rejected.status_code == 424
    body = rejected.json()
    assert body["code"] == "invalid_auth"
    assert body["upstream_status"] == 401
    assert body["upstream_request_id"] == "req_upstream_1"
    assert BAD not in rejected.text
    assert keyring.entries == {}
    accepted = await http.put(
        "/v1/providers/anthropic/api-key", json={"api_key": GOOD, "verify": True}
    )
    assert accepted.status_code == 200
    assert accepted.json()["api_key"]["state"] == "configured"


@pytest.mark.parametrize(
    "payload",
    [{"api_key": ""}, {"api_key": "has space in it"}, {"api_key": "sk-x"}, {"key": GOOD}, {}],
)
async def test_bad_key_bodies_are_refused_without_storing(
    http: httpx.AsyncClient, keyring: MemoryKeyring, payload: dict[str, str]
) -> None:
    response = await http.put("/v1/providers/openai/api-key", json=payload)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_request"
    assert keyring.entries == {}


async def test_delete_forgets_the_key(http: httpx.AsyncClient, keyring: MemoryKeyring) -> None:
    await http.put("/v1/providers/openai/api-key", json={"api_key": "sk-openai-good-key-CCCC"})
    response = await http.delete("/v1/providers/openai/api-key")
    assert response.status_code == 200
    assert response.json()["api_key"]["state"] == "missing"
    assert response.json()["last_error"]["code"] == "missing_auth"
    assert keyring.entries == {}


async def test_every_change_publishes_a_provider_status_event(
    http: httpx.AsyncClient, runtime: Runtime
) -> None:
    start = runtime.bus.last_id
    await http.put("/v1/providers/openai/api-key", json={"api_key": "sk-openai-good-key-CCCC"})
    await http.put("/v1/providers/openai/settings", json={"default_model": "gpt-test"})
    await http.delete("/v1/providers/openai/api-key")
    _, replay = runtime.bus.subscribe(start)
    assert replay is not None
    kinds = [(e.event.type, getattr(e.event, "provider", None)) for e in replay]
    assert len(kinds) == 3
    assert all(kind == "provider_status" for kind, _ in kinds)
    last = replay[-1].event
    assert last.type == "provider_status"
    assert last.provider.api_key.state.value == "missing"


async def test_settings_persist_across_a_restart(config: DaemonConfig) -> None:
    first = make_runtime(config, watch=False)
    async with app_client(config, first, headers=AUTH) as client:
        await client.put(
            "/v1/providers/anthropic/settings",
            json={
                "preferred_auth_mode": "token_session",
                "allow_api_key_fallback": False,
                "default_model": "claude-test",
                "daily_budget_usd": 2.5,
                "max_concurrent": 3,
            },
        )
        await client.put(
            "/v1/settings",
            json={
                "default_provider": "openai",
                "prices": {"claude-test": {"input_usd_per_mtok": 1, "output_usd_per_mtok": 2}},
            },
        )
    saved = json.loads((config.data_dir / "settings.json").read_text())
    assert saved["schema_version"] == 1
    assert stat.S_IMODE((config.data_dir / "settings.json").stat().st_mode) == 0o600
    second = make_runtime(config, watch=False)
    async with app_client(config, second, headers=AUTH) as client:
        status = (await client.get("/v1/providers/anthropic")).json()
        settings = (await client.get("/v1/settings")).json()
        listing = (await client.get("/v1/providers")).json()
    assert status["settings"] == {
        "preferred_auth_mode": "token_session",
        "allow_api_key_fallback": False,
        "default_model": "claude-test",
        "daily_budget_usd": 2.5,
        "max_concurrent": 3,
    }
    assert status["requested_mode"] == "token_session"
    assert status["governor"]["max_concurrent"] == 3
    assert status["budget"]["daily_budget_usd"] == 2.5
    assert settings["default_provider"] == "openai"
    assert settings["prices"]["claude-test"]["output_usd_per_mtok"] == 2
    assert listing["default_provider"] == "openai"


async def test_null_clears_a_setting_and_omitted_fields_are_kept(http: httpx.AsyncClient) -> None:
    await http.put(
        "/v1/providers/openai/settings",
        json={"default_model": "gpt-test", "allow_api_key_fallback": False},
    )
    cleared = (await http.put("/v1/providers/openai/settings", json={"default_model": None})).json()
    assert cleared["settings"]["default_model"] is None
    assert cleared["settings"]["allow_api_key_fallback"] is False


@pytest.mark.parametrize(
    "content", ["{corrupt", '{"schema_version": 99}', '{"providers": {"Gemini!": {}}}']
)
async def test_a_corrupt_settings_file_is_kept_aside_and_reported(
    config: DaemonConfig, content: str
) -> None:
    config.data_dir.mkdir(parents=True)
    (config.data_dir / "settings.json").write_text(content)
    runtime = make_runtime(config, watch=False)
    async with app_client(config, runtime, headers=AUTH) as client:
        status = (await client.get("/v1/providers/anthropic")).json()
        snapshot = await runtime.snapshot()
    kept = list(config.data_dir.glob("settings.json.corrupt-*"))
    assert len(kept) == 1
    assert kept[0].read_text() == content
    assert status["settings"]["preferred_auth_mode"] == "api_key"
    assert snapshot.problems
    assert "kept as" in snapshot.problems[0].message
    assert any(e.event.type == "daemon_error" for e in _events(runtime))


async def test_settings_naming_a_provider_the_daemon_does_not_know_load_cleanly(
    config: DaemonConfig,
) -> None:
    # Ids are an open set: a provider a user added, then removed (or added on a newer daemon),
    # may stay named in the settings file. It is not damage: nothing is set aside.
    config.data_dir.mkdir(parents=True)
    (config.data_dir / "settings.json").write_text('{"providers": {"lm-studio": {}}}')
    runtime = make_runtime(config, watch=False)
    async with app_client(config, runtime, headers=AUTH) as client:
        listing = (await client.get("/v1/providers")).json()
        snapshot = await runtime.snapshot()
    assert [p["id"] for p in listing["providers"]] == ["anthropic", "openai"]
    assert not list(config.data_dir.glob("settings.json.corrupt-*"))
    assert not snapshot.problems


async def test_sessions_show_in_status_and_resolve(
    config: DaemonConfig, isolated_home: Path
) -> None:
    anthropic_profile(isolated_home / ".config" / "anthropic")
    codex_api_key(isolated_home / ".codex")
    runtime = make_runtime(config, watch=False)
    async with app_client(config, runtime, headers=AUTH) as client:
        for provider in ("anthropic", "openai"):
            await client.put(
                f"/v1/providers/{provider}/settings", json={"preferred_auth_mode": "token_session"}
            )
        listing = (await client.get("/v1/providers")).json()
    anthropic, openai = listing["providers"]
    assert anthropic["resolved_mode"] == "token_session"
    assert anthropic["token_session"]["kind"] == "anthropic_profile"
    assert anthropic["token_session"]["state"] == "active"
    assert openai["resolved_mode"] == "token_session"
    assert openai["token_session"]["kind"] == "codex_api_key"


async def test_an_expired_session_falls_back_to_the_key_with_an_event(
    config: DaemonConfig, isolated_home: Path
) -> None:
    anthropic_profile(isolated_home / ".config" / "anthropic", expires_in=-30)
    runtime = make_runtime(config, watch=False)
    async with app_client(config, runtime, headers=AUTH) as client:
        await client.put(
            "/v1/providers/anthropic/settings", json={"preferred_auth_mode": "token_session"}
        )
        status = (
            await client.put("/v1/providers/anthropic/api-key", json={"api_key": GOOD})
        ).json()
    assert status["resolved_mode"] == "api_key"
    assert status["fallback_applied"] is True
    assert status["last_error"]["code"] == "session_expired"
    errors = [e.event for e in _events(runtime) if e.event.type == "provider_error"]
    assert len(errors) == 1
    assert errors[0].error.code.value == "session_expired"


async def test_chatgpt_opt_in_changes_the_openai_session(
    config: DaemonConfig, isolated_home: Path
) -> None:
    codex_chatgpt(isolated_home / ".codex")
    runtime = make_runtime(config, watch=False)
    async with app_client(config, runtime, headers=AUTH) as client:
        off = (await client.get("/v1/providers/openai")).json()
        await client.put("/v1/settings", json={"openai_chatgpt_backend": True})
        on = (await client.get("/v1/providers/openai")).json()
    assert off["token_session"]["state"] == "disabled"
    assert on["token_session"]["state"] == "active"
    assert on["token_session"]["account"] == "dev@example.com (plus)"


async def test_check_probes_and_marks_a_rejected_key_invalid(
    http: httpx.AsyncClient,
) -> None:
    await http.put("/v1/providers/anthropic/api-key", json={"api_key": BAD})
    checked = (await http.post("/v1/providers/anthropic/check")).json()
    assert checked["api_key"]["state"] == "invalid"
    assert checked["usable"] is False
    assert checked["last_error"]["code"] == "invalid_auth"
    assert checked["health"]["checked_at"] is not None
    fixed = (await http.put("/v1/providers/anthropic/api-key", json={"api_key": GOOD})).json()
    assert fixed["api_key"]["state"] == "configured"
    healthy = (await http.post("/v1/providers/anthropic/check")).json()
    assert healthy["health"]["state"] == "healthy"
    assert healthy["last_error"] is None


async def test_headless_store_is_the_private_file(config: DaemonConfig, upstream: str) -> None:
    runtime = make_runtime(config, NoBackendKeyring(), adapters=_adapters(upstream), watch=False)
    async with app_client(config, runtime, headers=AUTH) as client:
        status = (
            await client.put(
                "/v1/providers/openai/api-key", json={"api_key": "sk-openai-good-key-CCCC"}
            )
        ).json()
    assert status["api_key"]["source"] == "file"
    assert status["api_key"]["store"] == "file"
    assert stat.S_IMODE((config.data_dir / "credentials.json").stat().st_mode) == 0o600
