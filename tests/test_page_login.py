"""The page's sign-in without cookies: a one-time code (from the link's fragment) traded for a
short-lived page token that is sent as a bearer token; nothing a browser sends by itself."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

import httpx
import pytest

from service.http.page_sessions import PageSessions
from service.process.config import DaemonConfig
from tests.support import TEST_PORT, TEST_TOKEN, app_client


def _anonymous(config: DaemonConfig) -> AbstractAsyncContextManager[httpx.AsyncClient]:
    return app_client(config)


async def _code(http: httpx.AsyncClient) -> str:
    link = await http.post("/v1/page/link", headers={"Authorization": f"Bearer {TEST_TOKEN}"})
    assert link.status_code == 200
    url = link.json()["url"]
    assert url.startswith(f"http://127.0.0.1:{TEST_PORT}/#token=")
    return str(url.split("#token=", 1)[1])


async def test_a_code_is_traded_once_for_a_page_token(config: DaemonConfig) -> None:
    async with _anonymous(config) as http:
        code = await _code(http)
        traded = await http.post("/v1/page/session", json={"code": code})
        again = await http.post("/v1/page/session", json={"code": code})
        token = traded.json()["token"]
        api = await http.get("/v1/providers", headers={"Authorization": f"Bearer {token}"})
        renewed = await http.post(
            "/v1/page/session/renew", headers={"Authorization": f"Bearer {token}"}
        )
    assert traded.status_code == 200
    assert "set-cookie" not in traded.headers
    assert token not in (code, TEST_TOKEN)
    assert traded.json()["expires_in_s"] == 900
    assert again.status_code == 401
    assert again.json()["code"] == "unauthorized"
    assert "kata-providers open" in again.json()["remediation"]
    assert api.status_code == 200
    assert renewed.status_code == 200


async def test_the_shell_may_open_the_page_with_the_daemon_token(config: DaemonConfig) -> None:
    async with _anonymous(config) as http:
        traded = await http.post("/v1/page/session", json={"code": TEST_TOKEN})
    assert traded.status_code == 200
    assert traded.json()["token"] != TEST_TOKEN


async def test_the_page_itself_is_code_without_data(config: DaemonConfig) -> None:
    async with _anonymous(config) as http:
        page = await http.get("/")
        script = await http.get("/static/app.js")
        api = await http.get("/v1/providers")
        renew = await http.post("/v1/page/session/renew")
    assert page.status_code == 200
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "set-cookie" not in page.headers
    assert "sessionStorage" in script.text
    assert "document.cookie" not in script.text
    assert api.status_code == 401
    assert renew.status_code == 401


async def test_cookies_are_never_credentials(config: DaemonConfig) -> None:
    async with _anonymous(config) as http:
        code = await _code(http)
        token = (await http.post("/v1/page/session", json={"code": code})).json()["token"]
        for cookie in (f"kata_providers_{TEST_PORT}={token}", f"token={TEST_TOKEN}"):
            refused = await http.get("/v1/providers", headers={"Cookie": cookie})
            assert refused.status_code == 401
            posted = await http.put(
                "/v1/settings", json={"default_provider": "openai"}, headers={"Cookie": cookie}
            )
            assert posted.status_code == 401


async def test_a_page_token_still_obeys_host_and_origin(config: DaemonConfig) -> None:
    async with _anonymous(config) as http:
        token = (await http.post("/v1/page/session", json={"code": TEST_TOKEN})).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        cross_site = await http.get(
            "/v1/providers", headers={**auth, "Origin": "http://127.0.0.1:9999"}
        )
        rebound = await http.get("/v1/providers", headers={**auth, "Host": f"evil.com:{TEST_PORT}"})
    assert cross_site.status_code == 403
    assert rebound.status_code == 421


def test_codes_and_tokens_expire() -> None:
    now = [0.0]
    sessions = PageSessions(TEST_TOKEN, clock=lambda: now[0], token_ttl_s=60)
    code = sessions.issue_code()
    now[0] = 601
    assert sessions.exchange(code) is None  # ten minutes
    token = sessions.exchange(TEST_TOKEN)
    assert token is not None
    now[0] += 50
    assert sessions.renew(token)
    now[0] += 50
    assert sessions.valid(token.encode())  # renewed while alive
    now[0] += 61
    assert not sessions.valid(token.encode())
    assert not sessions.renew(token)


@pytest.mark.parametrize("code", ["", "x" * 257])
async def test_a_malformed_code_is_a_422(config: DaemonConfig, code: str) -> None:
    async with _anonymous(config) as http:
        answer = await http.post("/v1/page/session", json={"code": code})
    assert answer.status_code == 422


async def test_the_api_docs_work_offline(config: DaemonConfig) -> None:
    import re

    async with _anonymous(config) as http:
        docs = await http.get("/docs")
        sources = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
        assets = [await http.get(source) for source in sources]
        redoc = await http.get("/redoc")
    assert docs.status_code == 200
    assert "script-src 'self'" in docs.headers["content-security-policy"]
    assert sources
    assert all(source.startswith("/") for source in sources), "nothing from another origin"
    assert all(asset.status_code == 200 and asset.content for asset in assets)
    assert redoc.status_code in (401, 404)
