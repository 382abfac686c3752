"""CORS for the origins the daemon allows: exact origins, never `*`; preflights answered here."""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import Scope, Send

CORS_ALLOW_HEADERS = "authorization, content-type, last-event-id"
CORS_EXPOSE_HEADERS = "x-request-id, x-kata-request-id, x-kata-overhead-ms, retry-after"


def is_preflight(scope: Scope, headers: dict[bytes, bytes]) -> bool:
    return (
        scope["method"] == "OPTIONS"
        and b"origin" in headers
        and b"access-control-request-method" in headers
    )


def cors_headers(origin: str) -> Iterable[tuple[bytes, bytes]]:
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
