"""`GET /`: the status page, and the one-time `/?token=` login that swaps the token for a cookie."""

from __future__ import annotations

import html

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from service.routes.deps import RuntimeDep
from service.security import AccessPolicy

router = APIRouter(include_in_schema=False)

_LOGIN = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Kata Providers: sign in</title></head><body>
<main><h1>Kata Providers</h1><p>{message}</p>
<p>Open the page link that <code>kata-providers serve</code> logged on its standard error
(it ends in <code>/?token=…</code>), or the link your desktop shell offers.</p></main>
</body></html>"""

_STATUS = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Kata Providers</title></head><body><main>
<h1>Kata Providers {version}</h1>
<table><thead><tr><th>Provider</th><th>Auth mode</th><th>Health</th><th>Last error</th></tr></thead>
<tbody>{rows}</tbody></table></main></body></html>"""


def _policy(request: Request) -> AccessPolicy:
    policy: AccessPolicy = request.app.state.policy
    return policy


@router.get("/", name="page")
async def page(request: Request, runtime: RuntimeDep) -> Response:
    policy = _policy(request)
    token = request.query_params.get("token")
    if token is not None:
        if not policy.token_ok(token.encode()):
            return HTMLResponse(_LOGIN.format(message="That link's token is not valid."), 401)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            policy.cookie_name,
            policy.session.decode(),
            httponly=True,
            samesite="strict",
            path="/",
        )
        return response
    if not request.scope["state"].get("authenticated"):
        return HTMLResponse(_LOGIN.format(message="You are not signed in."), 401)
    rows = "".join(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>".format(
            html.escape(status.display_name),
            html.escape(status.resolved_mode.value if status.resolved_mode else "none"),
            html.escape(status.health.state.value),
            html.escape(status.last_error.message if status.last_error else ""),
        )
        for status in (await runtime.providers()).providers
    )
    return HTMLResponse(_STATUS.format(version=html.escape(runtime.health().version), rows=rows))
