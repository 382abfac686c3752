"""The page's one-time login: `/?token=` becomes an HttpOnly, SameSite=Strict cookie."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

import httpx

from service.config import DaemonConfig
from tests.support import TEST_PORT, TEST_TOKEN, app_client


def _anonymous(config: DaemonConfig) -> AbstractAsyncContextManager[httpx.AsyncClient]:
    return app_client(config)


async def test_token_link_sets_a_strict_httponly_cookie_and_redirects(config: DaemonConfig) -> None:
    async with _anonymous(config) as http:
        response = await http.get("/", params={"token": TEST_TOKEN})
        assert response.status_code == 303
        assert response.headers["location"] == "/"
        cookie = response.headers["set-cookie"]
        assert cookie.startswith(f"kata_providers_{TEST_PORT}=")
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
        assert TEST_TOKEN not in cookie
        assert response.headers["referrer-policy"] == "no-referrer"
        page = await http.get("/")
        api = await http.get("/v1/providers")
    assert page.status_code == 200
    assert "Anthropic" in page.text
    assert "OpenAI" in page.text
    assert api.status_code == 200


async def test_without_the_cookie_the_page_only_says_how_to_get_in(config: DaemonConfig) -> None:
    async with _anonymous(config) as http:
        response = await http.get("/")
        api = await http.get("/v1/providers")
    assert response.status_code == 401
    assert "?token=" in response.text
    assert "Anthropic" not in response.text
    assert api.status_code == 401


async def test_a_wrong_token_link_sets_nothing(config: DaemonConfig) -> None:
    async with _anonymous(config) as http:
        response = await http.get("/", params={"token": "wrong-token-wrong-token"})
        api = await http.get("/v1/providers")
    assert response.status_code == 401
    assert "set-cookie" not in response.headers
    assert api.status_code == 401


async def test_a_forged_or_foreign_cookie_is_refused(config: DaemonConfig) -> None:
    async with _anonymous(config) as http:
        forged = await http.get(
            "/v1/providers", headers={"Cookie": f"kata_providers_{TEST_PORT}={TEST_TOKEN}"}
        )
        garbage = await http.get("/v1/providers", headers={"Cookie": 'x="unterminated'})
    assert forged.status_code == 401
    assert garbage.status_code == 401


async def test_the_cookie_still_obeys_host_and_origin(config: DaemonConfig) -> None:
    async with _anonymous(config) as http:
        await http.get("/", params={"token": TEST_TOKEN})
        cross_site = await http.get("/v1/providers", headers={"Origin": "https://evil.com"})
        rebound = await http.get("/v1/providers", headers={"Host": f"evil.com:{TEST_PORT}"})
    assert cross_site.status_code == 403
    assert rebound.status_code == 421
