"""Request bodies: JSON only (415), at most the configured size (413), whether the size is
declared up front or the body streams past it. Past the limit the 413 goes at once and the app
is told the client left, so whatever it makes of a half-read body is never sent."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contracts.error_body import ErrorCode
from contracts.errors import ProviderError
from service.http.edge.scope import denied, headers_of
from service.http.http_errors import send_error

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def too_large(limit: int) -> ProviderError:
    return denied(
        ErrorCode.INVALID_REQUEST,
        413,
        f"The request body is larger than {limit // (1024 * 1024)} MiB.",
        "Send a smaller request; split large inputs across requests.",
    )


class BodyLimits:
    """415 and 413 before the app reads a body; a streamed body cut off at `max_body`."""

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = scope["state"]["request_id"]
        if scope["method"] in STATE_CHANGING:
            problem = self._declared(headers_of(scope))
            if problem is not None:
                await send_error(send, problem, request_id, scope)
                return
        received = 0
        started = False
        rejected = False
        limit = self.max_body

        async def limited_receive() -> Message:
            nonlocal received, started, rejected
            if rejected:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    rejected = True
                    if not started:
                        started = True
                        await send_error(send, too_large(limit), request_id, scope)
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if rejected:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, limited_receive, tracking_send)

    def _declared(self, headers: dict[bytes, bytes]) -> ProviderError | None:
        length = headers.get(b"content-length")
        has_body = headers.get(b"transfer-encoding") is not None or (
            length is not None and length.strip() not in (b"", b"0")
        )
        content_type = headers.get(b"content-type")
        if content_type is not None or has_body:
            media = (content_type or b"").split(b";", 1)[0].strip().lower()
            if media != b"application/json":
                return denied(
                    ErrorCode.INVALID_REQUEST,
                    415,
                    "Request bodies must be application/json.",
                    "Send the body as JSON with 'Content-Type: application/json'.",
                )
        if length is not None:
            try:
                size = int(length)
            except ValueError:
                size = 0
            if size > self.max_body:
                return too_large(self.max_body)
        return None
