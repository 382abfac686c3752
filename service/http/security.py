"""The security edge: every request passes here before any route runs.

Checks, in order, each answering with the taxonomy's error body:
  non-loopback peer on a loopback bind   403
  Host not this daemon's address          421  (DNS rebinding)
  Origin not allowed                      403  (cross-site pages; `null` is never allowed)
  CORS preflight from an allowed origin   204  (exact origin, never `*`)
  token missing, wrong or in the URL      401  (bearer only: the daemon token or a page token)
  body that is not application/json       415
  body over the size limit                413
"""

from __future__ import annotations

import logging
import os
import time
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contracts.error_body import ErrorCode
from contracts.errors import ProviderError
from service.http.access import AccessPolicy
from service.http.compat_errors import KATA_REQUEST_ID, shaped_for
from service.http.cors import cors_headers, is_preflight, send_preflight
from service.http.http_errors import send_error
from service.http.page_sessions import PageSessions
from service.process.config import is_loopback

log = logging.getLogger("kata.access")

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Static code with no data in it, and the page's code-for-token exchange. Never a cookie: the
# daemon reads no credential that a browser would send by itself.
PUBLIC_GET = frozenset({"/", "/docs"})
PUBLIC_GET_PREFIXES = ("/static/", "/docs/assets/")
PUBLIC_POST = frozenset({"/v1/page/session"})
SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]


def _headers(scope: Scope) -> dict[bytes, bytes]:
    return {key.lower(): value for key, value in scope["headers"]}


def _denied(code: ErrorCode, status: int, message: str, remediation: str) -> ProviderError:
    return ProviderError.of(code, message, remediation, status=status)


class SecurityMiddleware:
    """Pure ASGI middleware (no buffering, so streams pass straight through)."""

    def __init__(self, app: ASGIApp, policy: AccessPolicy, sessions: PageSessions) -> None:
        self.app = app
        self.policy = policy
        self.sessions = sessions

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
        headers = _headers(scope)
        origin = headers.get(b"origin", b"").decode("latin-1").lower()
        cors_origin = origin if origin and origin in self.policy.origins else ""
        status_holder = [0]

        # On a compatible route `x-request-id` is the provider's: the daemon's id has its own.
        id_header = KATA_REQUEST_ID if shaped_for(scope["path"]) else b"x-request-id"

        async def send_wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder[0] = message["status"]
                sent = message.get("headers", [])
                extra = [(id_header, request_id.encode()), *SECURITY_HEADERS]
                if cors_origin:
                    extra += cors_headers(cors_origin)
                # One of each: a header the answer already has (a stream's cache-control, say)
                # is not sent twice.
                named = {name.lower() for name, _ in sent}
                message["headers"] = [*sent, *(h for h in extra if h[0] not in named)]
            await send(message)

        try:
            problem = self._check(scope, headers, origin)
            if problem is None and is_preflight(scope, headers):
                await send_preflight(send_wrapped)
            elif problem is not None:
                await send_error(send_wrapped, problem, request_id, scope)
            else:
                await self._call_app(scope, receive, send_wrapped, headers, request_id)
        finally:
            log.info(
                "request",
                extra={
                    "request_id": request_id,
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status_holder[0],
                    "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                },
            )

    def _check(
        self, scope: Scope, headers: dict[bytes, bytes], origin: str
    ) -> ProviderError | None:
        policy = self.policy
        client = scope.get("client")
        if policy.loopback_only and client and not is_loopback(client[0]):
            return _denied(
                ErrorCode.INVALID_REQUEST,
                403,
                "Only this machine may call the daemon.",
                "Call the daemon from the machine it runs on.",
            )
        host = headers.get(b"host", b"").decode("latin-1").lower()
        if host not in policy.hosts:
            return _denied(
                ErrorCode.INVALID_REQUEST,
                421,
                f"Host {host or '(none)'!r} is not this daemon's address.",
                "Address the daemon by the URL in its ready line, or start it with --allowed-host.",
            )
        if origin and origin not in policy.origins:
            return _denied(
                ErrorCode.INVALID_REQUEST,
                403,
                f"Origin {origin!r} may not call this daemon.",
                "Start the daemon with --allow-origin for the shell's exact origin.",
            )
        if is_preflight(scope, headers):
            return None
        return self._check_auth(scope, headers)

    def _check_auth(self, scope: Scope, headers: dict[bytes, bytes]) -> ProviderError | None:
        authenticated = self._authenticated(headers, scope["path"])
        scope["state"]["authenticated"] = authenticated
        if _public(scope["method"], scope["path"]):
            return None
        if _query_has_token(scope):
            return _denied(
                ErrorCode.UNAUTHORIZED,
                401,
                "A token in the URL is not accepted.",
                "Send the token in the Authorization header as 'Bearer <token>'.",
            )
        if not authenticated:
            return _denied(
                ErrorCode.UNAUTHORIZED,
                401,
                "The daemon token is missing or wrong.",
                "Send 'Authorization: Bearer <token>' with the token from the daemon's ready line.",
            )
        return None

    def _authenticated(self, headers: dict[bytes, bytes], path: str) -> bool:
        authorization = headers.get(b"authorization", b"")
        scheme, _, presented = authorization.partition(b" ")
        if scheme.lower() != b"bearer" or not presented:
            # The Anthropic SDK sends its API key as `x-api-key`: on the Anthropic-compatible
            # routes, the daemon token may come that way (and is never forwarded).
            api_key = headers.get(b"x-api-key", b"")
            return (
                bool(api_key) and path.startswith("/anthropic/") and self.policy.token_ok(api_key)
            )
        presented = presented.strip()
        return self.policy.token_ok(presented) or self.sessions.valid(presented)

    async def _call_app(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        headers: dict[bytes, bytes],
        request_id: str,
    ) -> None:
        if scope["method"] in STATE_CHANGING:
            problem = self._check_body(headers)
            if problem is not None:
                await send_error(send, problem, request_id, scope)
                return
        received = 0
        started = False
        rejected = False
        limit = self.policy.max_body

        async def limited_receive() -> Message:
            # Past the limit, answer 413 at once and tell the app the client left, so whatever
            # the app makes of a half-read body is never sent.
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
                        await send_error(send, _too_large(limit), request_id, scope)
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

    def _check_body(self, headers: dict[bytes, bytes]) -> ProviderError | None:
        length = headers.get(b"content-length")
        has_body = headers.get(b"transfer-encoding") is not None or (
            length is not None and length.strip() not in (b"", b"0")
        )
        content_type = headers.get(b"content-type")
        if content_type is not None or has_body:
            media = (content_type or b"").split(b";", 1)[0].strip().lower()
            if media != b"application/json":
                return _denied(
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
            if size > self.policy.max_body:
                return _too_large(self.policy.max_body)
        return None


def _too_large(limit: int) -> ProviderError:
    return _denied(
        ErrorCode.INVALID_REQUEST,
        413,
        f"The request body is larger than {limit // (1024 * 1024)} MiB.",
        "Send a smaller request; split large inputs across requests.",
    )


def _public(method: str, path: str) -> bool:
    if method in ("GET", "HEAD"):
        return path in PUBLIC_GET or path.startswith(PUBLIC_GET_PREFIXES)
    return method == "POST" and path in PUBLIC_POST


def _query_has_token(scope: Scope) -> bool:
    query = scope.get("query_string", b"")
    if not query:
        return False
    names = {name.lower() for name, _ in parse_qsl(query.decode("latin-1"), keep_blank_values=True)}
    return bool(names & {"token", "access_token", "api_key", "key"})
