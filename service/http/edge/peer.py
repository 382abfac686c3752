"""On a loopback bind, only this machine may call (403 for any other peer)."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from contracts.error_body import ErrorCode
from service.http.edge.scope import denied
from service.http.http_errors import send_error
from service.process.config import is_loopback


class PeerCheck:
    """Refuses a peer that is not this machine when the daemon is bound to loopback."""

    def __init__(self, app: ASGIApp, loopback_only: bool) -> None:
        self.app = app
        self.loopback_only = loopback_only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] == "http" and self.loopback_only and client and not is_loopback(client[0]):
            problem = denied(
                ErrorCode.INVALID_REQUEST,
                403,
                "Only this machine may call the daemon.",
                "Call the daemon from the machine it runs on.",
            )
            await send_error(send, problem, scope["state"]["request_id"], scope)
            return
        await self.app(scope, receive, send)
