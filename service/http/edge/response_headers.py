"""The headers every answer carries, refusals included: the request's id (under its own name on
a compatible route, where `x-request-id` is the provider's), the security headers, and CORS for
an allowed origin. A header the answer already has is not sent twice."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.http.access import AccessPolicy
from service.http.compat_errors import KATA_REQUEST_ID, is_compat
from service.http.edge.origin import cors_headers
from service.http.edge.scope import headers_of

SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]


class ResponseHeaders:
    """Adds the id, security and CORS headers to the answer's start."""

    def __init__(self, app: ASGIApp, policy: AccessPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        origin = headers_of(scope).get(b"origin", b"").decode("latin-1").lower()
        id_header = KATA_REQUEST_ID if is_compat(scope["path"]) else b"x-request-id"
        extra = [(id_header, scope["state"]["request_id"].encode()), *SECURITY_HEADERS]
        if origin and origin in self.policy.origins:
            extra += cors_headers(origin)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                sent = message.get("headers", [])
                named = {name.lower() for name, _ in sent}
                message["headers"] = [*sent, *(h for h in extra if h[0] not in named)]
            await send(message)

        await self.app(scope, receive, send_with_headers)
