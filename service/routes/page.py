"""The status and settings page: `GET /` (with the `/?token=` login that swaps a token for a
cookie) and its two static files. Without the cookie the page only says how to get in."""

from __future__ import annotations

import hmac
import secrets
from functools import cache
from importlib import resources

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from service.security import AccessPolicy

router = APIRouter(include_in_schema=False)

STATIC = {"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8"}
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
LOGIN = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Kata Providers: sign in</title></head><body>
<main><h1>Kata Providers</h1><p>{message}</p>
<p>Open the page link that <code>kata-providers serve</code> logged on its standard error
(it ends in <code>/?token=…</code>), or the link your desktop shell offers.</p></main>
</body></html>"""


class LoginCodes:
    """A one-time code for the logged page link: it opens the page once and is then spent, and
    it is never an API token, so the daemon's token itself is never logged."""

    def __init__(self) -> None:
        self._code: str | None = secrets.token_urlsafe(24)

    def issue(self) -> str | None:
        """The current unspent code."""
        return self._code

    def spend(self, presented: str) -> bool:
        """True (once) when `presented` is the code."""
        code = self._code
        if code is not None and hmac.compare_digest(presented.encode(), code.encode()):
            self._code = None
            return True
        return False


@cache
def _asset(name: str) -> bytes:
    return resources.files("service").joinpath("static", name).read_bytes()


def _login_page(message: str) -> HTMLResponse:
    return HTMLResponse(
        LOGIN.format(message=message), 401, headers={"content-security-policy": CSP}
    )


@router.get("/", name="page")
async def page(request: Request) -> Response:
    policy: AccessPolicy = request.app.state.policy
    codes: LoginCodes = request.app.state.login_codes
    token = request.query_params.get("token")
    if token is not None:
        if not (policy.token_ok(token.encode()) or codes.spend(token)):
            return _login_page("That link is not valid (a page link works once).")
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            policy.cookie_name, policy.session.decode(), httponly=True, samesite="strict", path="/"
        )
        return response
    if not request.scope["state"].get("authenticated"):
        return _login_page("You are not signed in.")
    return HTMLResponse(_asset("index.html"), headers={"content-security-policy": CSP})


@router.get("/static/{name}", name="asset")
async def asset(name: str) -> Response:
    if name not in STATIC:
        return Response(status_code=404)
    return Response(_asset(name), media_type=STATIC[name], headers={"content-security-policy": CSP})
