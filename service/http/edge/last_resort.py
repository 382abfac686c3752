"""The outermost error layer: whatever escapes a route (our own bugs included) becomes the
taxonomy's error body when nothing was sent yet, or a cleanly ended body when a response had
started. Never a bare 500, never a reset connection, never an exception left for the server.

Execution streams carry their own terminal-event guarantee (`Execution.events`); this layer
only makes sure the HTTP exchange itself ends well."""

from __future__ import annotations

import contextlib
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.http.http_errors import send_error, unexpected_error

log = logging.getLogger("kata.errors")


class LastResort:
    """Pure ASGI middleware; sits just inside the security edge."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = ended = False

        async def tracking_send(message: Message) -> None:
            nonlocal started, ended
            if message["type"] == "http.response.start":
                started = True
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                ended = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            request_id = scope.get("state", {}).get("request_id") or "unknown"
            log.exception("unhandled error", extra={"request_id": request_id})
            # The client may be gone already; there is nobody left to tell then.
            with contextlib.suppress(Exception):
                if not started:
                    await send_error(
                        send,
                        unexpected_error(request_id),
                        request_id,
                        scope,
                    )
                elif not ended:
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
