"""The status and settings page and the API docs, served from the package (nothing from another
origin, a strict CSP on every HTML response), and the page's sign-in: a one-time code from the
link's `#token=` fragment traded for a short-lived page token (see `service.http.page_sessions`)."""

from __future__ import annotations

from functools import cache
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from contracts.errors import Unauthorized
from contracts.page import PageLink, PageSession, PageSessionRequest
from service.http.http_errors import error_responses
from service.http.page_sessions import CODE_TTL_S, PageSessions
from service.http.strict_json import StrictJsonRoute

router = APIRouter(route_class=StrictJsonRoute)

STATIC = {
    "app.js": "text/javascript; charset=utf-8",
    "usage.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    "docs.js": "text/javascript; charset=utf-8",
}
DOCS_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; font-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)
# Swagger UI sets inline style attributes; scripts stay 'self' only.
DOCS_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
DOCS_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Kata Providers API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/static/docs.js"></script></body></html>"""
UNAUTHORIZED_PAGE = error_responses(401)


@cache
def _asset(name: str) -> bytes:
    return resources.files("service.http").joinpath("static", name).read_bytes()


@cache
def _docs_asset(name: str) -> bytes:
    import swagger_ui_bundle

    return (Path(str(swagger_ui_bundle.swagger_ui_path)) / name).read_bytes()


def _sessions(request: Request) -> PageSessions:
    sessions: PageSessions = request.app.state.page_sessions
    return sessions


def _page(app: Any) -> bytes:
    """The page, with the wire formats of the wires this daemon speaks in its Add form (made
    once per app)."""
    made: bytes | None = getattr(app.state, "page_html", None)
    if made is None:
        options = "\n".join(
            f'            <option value="{escape(spoken.id)}">{escape(spoken.label)}</option>'
            for spoken in app.state.runtime.wires.formats()
        )
        made = _asset("index.html").replace(b"            <!-- wire formats -->", options.encode())
        app.state.page_html = made
    return made


@router.get("/", name="page", include_in_schema=False)
async def page(request: Request) -> Response:
    return HTMLResponse(_page(request.app), headers={"content-security-policy": CSP})


@router.get("/static/{name}", name="asset", include_in_schema=False)
async def asset(name: str) -> Response:
    if name not in STATIC:
        return Response(status_code=404)
    return Response(_asset(name), media_type=STATIC[name], headers={"content-security-policy": CSP})


@router.get("/docs", name="docs", include_in_schema=False)
async def docs() -> Response:
    return HTMLResponse(DOCS_PAGE, headers={"content-security-policy": DOCS_CSP})


@router.get("/docs/assets/{name}", name="docsAsset", include_in_schema=False)
async def docs_asset(name: str) -> Response:
    if name not in DOCS_ASSETS:
        return Response(status_code=404)
    return Response(_docs_asset(name), media_type=DOCS_ASSETS[name])


@router.post(
    "/v1/page/session",
    name="createPageSession",
    summary="Trade a page link's one-time code for a page token (no bearer token needed)",
    tags=["page"],
    responses=UNAUTHORIZED_PAGE,
)
async def create_page_session(body: PageSessionRequest, request: Request) -> PageSession:
    sessions = _sessions(request)
    token = sessions.exchange(body.code)
    if token is None:
        raise Unauthorized(
            "That page link is not valid: a link works once and for ten minutes.",
            "Ask the daemon for a fresh link with `kata-providers open`, or open the page from "
            "the desktop shell.",
        )
    return PageSession(token=token, expires_in_s=sessions.token_ttl_s)


@router.post(
    "/v1/page/session/renew",
    name="renewPageSession",
    summary="Extend the life of the page token this request carries",
    tags=["page"],
    responses=UNAUTHORIZED_PAGE,
)
async def renew_page_session(request: Request) -> PageSession:
    sessions = _sessions(request)
    presented = request.headers.get("authorization", "").partition(" ")[2].strip()
    if not sessions.renew(presented):
        raise Unauthorized(
            "Only a page token can be renewed, and only while it is valid.",
            "Open a fresh page link with `kata-providers open`.",
        )
    return PageSession(token=presented, expires_in_s=sessions.token_ttl_s)


@router.post(
    "/v1/page/link",
    name="createPageLink",
    summary="A fresh one-time link to the status page",
    tags=["page"],
)
async def create_page_link(request: Request) -> PageLink:
    code = _sessions(request).issue_code()
    host = request.headers.get("host", "")
    return PageLink(url=f"http://{host}/#token={code}", expires_in_s=CODE_TTL_S)
