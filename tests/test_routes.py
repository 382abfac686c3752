"""Health and provider status before any credential exists: honest, never invented."""

from __future__ import annotations

import httpx

from service.process.config import DaemonConfig
from service.runtime import Runtime


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


async def test_executions_are_served_by_the_direct_route_and_keep_its_checks(
    client: httpx.AsyncClient, config: DaemonConfig, runtime: Runtime
) -> None:
    """POST /v1/executions skips FastAPI's routing (a direct Starlette route comes first), yet
    answers as the documented route would: unknown query parameters and bad bodies are refused
    with the taxonomy, and the OpenAPI document still describes it."""
    from starlette.routing import Match, Route

    from service.http.app import create_app

    app = create_app(config, runtime)
    scope = {"type": "http", "method": "POST", "path": "/v1/executions", "root_path": ""}
    first = next(r for r in app.router.routes if r.matches(scope)[0] is Match.FULL)
    assert type(first) is Route
    assert "createExecution" in {
        op["operationId"] for op in app.openapi()["paths"]["/v1/executions"].values()
    }
    unknown = await client.post("/v1/executions?refersh=1", json={"messages": []})
    assert unknown.status_code == 400, unknown.text  # as on every other route
    assert unknown.json()["code"] == "invalid_request"
    assert "refersh" in unknown.json()["message"]
    bad = await client.post("/v1/executions", json={"messages": []})
    assert bad.status_code == 422
    assert bad.json()["code"] == "invalid_request"
    # Another method on the path is still FastAPI's to answer: GET lists the ledger, and a
    # method nobody serves names both that are served.
    assert (await client.get("/v1/executions")).status_code == 200
    refused = await client.delete("/v1/executions")
    assert refused.status_code == 405
    assert refused.headers["allow"] == "GET, POST"
