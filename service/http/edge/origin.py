"""Origins: a page from an origin the daemon does not allow is refused (403; `null` is never
allowed), and a CORS preflight from an allowed one is answered here (204, the exact origin,
never `*`)."""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from contracts.error_body import ErrorCode
from service.http.edge.scope import denied, headers_of
from service.http.http_errors import send_error

CORS_ALLOW_HEADERS = "authorization, content-type, last-event-id"
CORS_EXPOSE_HEADERS = "x-request-id, x-kata-request-id, x-kata-overhead-ms, retry-after"


def is_preflight(scope: Scope, headers: dict[bytes, bytes]) -> bool:
    return (
        scope["method"] == "OPTIONS"
        and b"origin" in headers
        and b"access-control-request-method" in headers
    )


def cors_headers(origin: str) -> Iterable[tuple[bytes, bytes]]:
    """What an answer to an allowed origin carries (added by `ResponseHeaders`)."""
    return [
        (b"access-control-allow-origin", origin.encode("latin-1")),
        (b"access-control-expose-headers", CORS_EXPOSE_HEADERS.encode()),
        (b"vary", b"Origin"),
    ]


async def send_preflight(send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 204,
            "headers": [
                (b"access-control-allow-methods", b"GET, POST, PUT, DELETE"),
                (b"access-control-allow-headers", CORS_ALLOW_HEADERS.encode()),
                (b"access-control-max-age", b"600"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b""})


class OriginCheck:
    """Refuses an Origin not in `origins`; answers an allowed origin's preflight."""

    def __init__(self, app: ASGIApp, origins: frozenset[str]) -> None:
        self.app = app
        self.origins = origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = headers_of(scope)
        origin = headers.get(b"origin", b"").decode("latin-1").lower()
        if origin and origin not in self.origins:
            problem = denied(
                ErrorCode.INVALID_REQUEST,
                403,
                f"Origin {origin!r} may not call this daemon.",
                "Start the daemon with --allow-origin for the shell's exact origin.",
            )
            await send_error(send, problem, scope["state"]["request_id"], scope)
        elif is_preflight(scope, headers):
            await send_preflight(send)
        else:
            await self.app(scope, receive, send)
