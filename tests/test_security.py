"""The security edge, in process: every check, on every kind of route."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager

import httpx
import pytest

from service.process.config import DaemonConfig
from tests.support import TEST_PORT, TEST_TOKEN, app_client

GOOD_HOST = f"127.0.0.1:{TEST_PORT}"
AUTH = {"Authorization": f"Bearer {TEST_TOKEN}"}
# `/`, `/docs` and their static files are public: code with no data in it.
ROUTES = ["/v1/health", "/v1/providers", "/v1/providers/openai", "/openapi.json"]


def _client(
    config: DaemonConfig, peer: str = "127.0.0.1"
) -> AbstractAsyncContextManager[httpx.AsyncClient]:
    return app_client(config, peer=peer)


def _no_cors(response: httpx.Response) -> None:
    assert not [h for h in response.headers if h.lower().startswith("access-control-")]


@pytest.mark.parametrize("path", ROUTES)
async def test_every_route_needs_the_token(config: DaemonConfig, path: str) -> None:
    async with _client(config) as http:
        missing = await http.get(path)
        wrong = await http.get(path, headers={"Authorization": "Bearer not-the-token-at-all"})
        basic = await http.get(path, headers={"Authorization": f"Basic {TEST_TOKEN}"})
        ok = await http.get(path, headers=AUTH)
    for response in (missing, wrong, basic):
        assert response.status_code == 401
        body = response.json()
        assert body["code"] == "unauthorized"
        assert body["remediation"]
        assert TEST_TOKEN not in response.text
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert ok.status_code == 200


@pytest.mark.parametrize("name", ["token", "access_token", "api_key"])
async def test_a_token_in_the_query_string_is_refused(config: DaemonConfig, name: str) -> None:
    async with _client(config) as http:
        alone = await http.get("/v1/health", params={name: TEST_TOKEN})
        with_header = await http.get("/v1/health", params={name: TEST_TOKEN}, headers=AUTH)
    assert alone.status_code == 401
    assert with_header.status_code == 401
    assert "URL" in with_header.json()["message"]


@pytest.mark.parametrize(
    "host",
    ["evil.com", f"evil.com:{TEST_PORT}", "127.0.0.1:1", "localhost", "", f"[::1]:{TEST_PORT}"],
)
async def test_a_foreign_host_is_misdirected(config: DaemonConfig, host: str) -> None:
    async with _client(config) as http:
        response = await http.get("/v1/health", headers={**AUTH, "Host": host})
    assert response.status_code == 421
    assert response.json()["code"] == "invalid_request"


@pytest.mark.parametrize("host", [GOOD_HOST, f"localhost:{TEST_PORT}", f"LOCALHOST:{TEST_PORT}"])
async def test_loopback_hosts_with_the_bound_port_pass(config: DaemonConfig, host: str) -> None:
    async with _client(config) as http:
        response = await http.get("/v1/health", headers={**AUTH, "Host": host})
    assert response.status_code == 200


async def test_ipv6_bind_accepts_bracketed_host(tmp_path_factory: pytest.TempPathFactory) -> None:
    config = DaemonConfig(
        token=TEST_TOKEN, host="::1", port=TEST_PORT, data_dir=tmp_path_factory.mktemp("d")
    )
    async with _client(config, peer="::1") as http:
        v6 = await http.get("/v1/health", headers={**AUTH, "Host": f"[::1]:{TEST_PORT}"})
        v4 = await http.get("/v1/health", headers={**AUTH, "Host": GOOD_HOST})
    assert v6.status_code == 200
    assert v4.status_code == 421


async def test_allowed_host_extends_the_list(tmp_path_factory: pytest.TempPathFactory) -> None:
    config = DaemonConfig(
        token=TEST_TOKEN,
        port=TEST_PORT,
        allowed_hosts=("kata.internal", "proxy.local:8080"),
        data_dir=tmp_path_factory.mktemp("d"),
    )
    async with _client(config) as http:
        named = await http.get("/v1/health", headers={**AUTH, "Host": f"kata.internal:{TEST_PORT}"})
        mapped = await http.get("/v1/health", headers={**AUTH, "Host": "proxy.local:8080"})
        other_port = await http.get("/v1/health", headers={**AUTH, "Host": "proxy.local:9"})
    assert (named.status_code, mapped.status_code, other_port.status_code) == (200, 200, 421)


async def test_a_remote_peer_is_refused_on_a_loopback_bind(config: DaemonConfig) -> None:
    async with _client(config, peer="192.0.2.7") as http:
        response = await http.get("/v1/health", headers=AUTH)
    assert response.status_code == 403


@pytest.mark.parametrize(
    "origin", ["https://evil.com", "null", f"http://127.0.0.1:{TEST_PORT + 1}", "app://other"]
)
async def test_a_foreign_origin_gets_403_and_no_cors(config: DaemonConfig, origin: str) -> None:
    async with _client(config) as http:
        simple = await http.get("/v1/health", headers={**AUTH, "Origin": origin})
        preflight = await http.options(
            "/v1/health",
            headers={"Origin": origin, "Access-Control-Request-Method": "GET"},
        )
    for response in (simple, preflight):
        assert response.status_code == 403
        _no_cors(response)


async def test_an_allowed_origin_gets_exact_cors(tmp_path_factory: pytest.TempPathFactory) -> None:
    origin = "app://kata-cloud"
    config = DaemonConfig(
        token=TEST_TOKEN,
        port=TEST_PORT,
        allow_origins=(origin,),
        data_dir=tmp_path_factory.mktemp("d"),
    )
    async with _client(config) as http:
        preflight = await http.options(
            "/v1/providers",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "PUT",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
        actual = await http.get("/v1/providers", headers={**AUTH, "Origin": origin})
        unauthenticated = await http.get("/v1/providers", headers={"Origin": origin})
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == origin
    assert "authorization" in preflight.headers["access-control-allow-headers"]
    assert actual.status_code == 200
    assert actual.headers["access-control-allow-origin"] == origin
    assert "access-control-allow-credentials" not in actual.headers
    assert unauthenticated.status_code == 401


async def test_the_daemons_own_origin_is_same_origin(config: DaemonConfig) -> None:
    async with _client(config) as http:
        response = await http.get("/v1/health", headers={**AUTH, "Origin": f"http://{GOOD_HOST}"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""],
)
async def test_state_changing_bodies_must_be_json(config: DaemonConfig, content_type: str) -> None:
    async with _client(config) as http:
        response = await http.post(
            "/v1/executions", content=b'{"a": 1}', headers={**AUTH, "Content-Type": content_type}
        )
    assert response.status_code == 415
    assert response.json()["code"] == "invalid_request"


async def test_an_oversized_body_gets_413(config: DaemonConfig) -> None:
    body = b"[" + b"1," * (2 * 1024 * 1024 + 10) + b"1]"
    async with _client(config) as http:
        declared = await http.post(
            "/v1/executions", content=body, headers={**AUTH, "Content-Type": "application/json"}
        )

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(body), 65536):
                yield body[start : start + 65536]

        streamed = await http.post(
            "/v1/executions", content=chunks(), headers={**AUTH, "Content-Type": "application/json"}
        )
    assert declared.status_code == 413
    assert streamed.status_code == 413
    assert streamed.json()["code"] == "invalid_request"


async def test_unknown_routes_and_methods_use_the_error_body(client: httpx.AsyncClient) -> None:
    missing = await client.get("/v1/nothing-here")
    wrong_method = await client.delete("/v1/health")
    assert missing.status_code == 404
    assert missing.json()["code"] == "invalid_request"
    assert wrong_method.status_code == 405
    assert wrong_method.json()["code"] == "invalid_request"


async def test_a_provider_id_of_the_wrong_shape_is_a_clear_422(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/providers/Gemini!")
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid_request"
    assert body["details"][0]["loc"] == ["path", "provider"]


async def test_an_unknown_provider_is_named_wherever_it_is_asked_for(
    client: httpx.AsyncClient,
) -> None:
    # Ids are an open set (user-added providers): one the daemon does not know is a 404 in a
    # path and a 422 naming the field in a query or a body, each listing the providers.
    for method, path in [
        ("GET", "/v1/providers/gemini"),
        ("PUT", "/v1/providers/gemini/settings"),
        ("DELETE", "/v1/providers/gemini/api-key"),
        ("POST", "/v1/providers/gemini/check"),
    ]:
        body: dict[str, object] | None = {} if method == "PUT" else None
        response = await client.request(method, path, json=body)
        assert response.status_code == 404, (path, response.text)
        error = response.json()
        assert error["code"] == "invalid_request"
        assert "no provider 'gemini'" in error["message"]
        assert "anthropic, openai" in error["message"]
    put_key = await client.put("/v1/providers/gemini/api-key", json={"api_key": "sk-x-12345678"})
    assert put_key.status_code == 404
    listed = await client.get("/v1/models", params={"provider": "gemini"})
    assert listed.status_code == 422
    assert listed.json()["details"][0]["loc"] == ["query", "provider"]
    executed = await client.post(
        "/v1/executions",
        json={"provider": "gemini", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert executed.status_code == 422
    assert executed.json()["details"][0]["loc"] == ["body", "provider"]
    settings = await client.put("/v1/settings", json={"default_provider": "gemini"})
    assert settings.status_code == 422
    assert settings.json()["details"][0]["loc"] == ["body", "default_provider"]
    kept = (await client.get("/v1/settings")).json()
    assert kept["default_provider"] != "gemini"


async def test_every_response_carries_security_headers(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/health")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-request-id"].startswith("req_")


async def test_malformed_json_is_a_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/executions", content=b'{"messages": [', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_request"
    assert "JSON" in body["message"]


@pytest.mark.parametrize(
    ("payload", "where"),
    [
        ({"messages": []}, ["body", "messages"]),
        ({"messages": [{"role": "user", "content": "hi"}], "surprise": 1}, ["body", "surprise"]),
        ({"messages": [{"role": "system", "content": "hi"}]}, ["body", "messages", 0, "role"]),
        (
            {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 0},
            ["body", "max_tokens"],
        ),
    ],
)
async def test_schema_violations_are_422_with_details(
    client: httpx.AsyncClient, payload: dict[str, object], where: list[object]
) -> None:
    response = await client.post("/v1/executions", json=payload)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid_request"
    assert any(detail["loc"][: len(where)] == where for detail in body["details"]), body


async def test_an_execution_without_credentials_says_what_to_do(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/executions",
        json={"provider": "anthropic", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert response.status_code == 424
    body = response.json()
    assert body["code"] == "missing_auth"
    assert body["provider"] == "anthropic"
    assert "ANTHROPIC_API_KEY" in body["remediation"]
