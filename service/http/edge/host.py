"""The Host must be this daemon's own address (421 otherwise): what stops DNS rebinding."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from contracts.error_body import ErrorCode
from service.http.edge.scope import denied, headers_of
from service.http.http_errors import send_error


class HostCheck:
    """Refuses a request whose Host is not one of `hosts`."""

    def __init__(self, app: ASGIApp, hosts: frozenset[str]) -> None:
        self.app = app
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = headers_of(scope).get(b"host", b"").decode("latin-1").lower()
        if host not in self.hosts:
            problem = denied(
                ErrorCode.INVALID_REQUEST,
                421,
                f"Host {host or '(none)'!r} is not this daemon's address.",
                "Address the daemon by the URL in its ready line, or start it with --allowed-host.",
            )
            await send_error(send, problem, scope["state"]["request_id"], scope)
            return
        await self.app(scope, receive, send)
