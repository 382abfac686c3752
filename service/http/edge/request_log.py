"""The outermost layer: each request's id and start time, and one access-log line as it ends
(refused requests included)."""

from __future__ import annotations

import logging
import os
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("kata.access")


class RequestLog:
    """Gives the request `state.request_id` and `state.started`, and logs it when it ends."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        # From the request's first byte when the server protocol noted it
        # (service.http.connections).
        started = state.get("received") or time.perf_counter()
        request_id = f"req_{os.urandom(12).hex()}"
        state["request_id"] = request_id
        state["started"] = started
        status = 0

        async def logged_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, logged_send)
        finally:
            log.info(
                "request",
                extra={
                    "request_id": request_id,
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                },
            )
