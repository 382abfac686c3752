"""Health and provider status before any credential exists: honest, never invented."""

from __future__ import annotations

import httpx


async def test_health_reports_version_pid_and_uptime(client: httpx.AsyncClient) -> None:
    import os

    from service import __version__

    body = (await client.get("/v1/health")).json()
    assert body["status"] == "ok"
    assert body["version"] == __version__
    assert body["pid"] == os.getpid()
    assert body["uptime_s"] >= 0
    assert body["demo"] is False


async def test_providers_report_missing_auth_with_remediation(client: httpx.AsyncClient) -> None:
    body = (await client.get("/v1/providers")).json()
    assert body["default_provider"] is None
    assert [p["id"] for p in body["providers"]] == ["anthropic", "openai"]
    for provider in body["providers"]:
        assert provider["usable"] is False
        assert provider["resolved_mode"] is None
        assert provider["api_key"]["state"] == "missing"
        assert provider["token_session"]["state"] == "missing"
        assert provider["health"]["state"] == "unknown"
        assert provider["health"]["checked_at"] is None
        assert provider["last_error"]["code"] == "missing_auth"
        assert provider["last_error"]["remediation"]


async def test_one_provider_matches_the_listing(client: httpx.AsyncClient) -> None:
    listing = (await client.get("/v1/providers")).json()
    one = (await client.get("/v1/providers/openai")).json()
    assert one == listing["providers"][1]
