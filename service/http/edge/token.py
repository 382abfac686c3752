"""The daemon's token: every route but the page's static code and its sign-in needs it, as a
bearer token (the daemon's own or a page token; on the compatible routes of a wire whose SDK
sends its key in another header, such as Anthropic's `x-api-key`, also that way). A token in
the URL is refused: URLs end up in logs and histories. Never a cookie: the daemon reads no
credential a browser would send by itself."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from contracts.error_body import ErrorCode
from contracts.errors import ProviderError
from service.http.access import AccessPolicy
from service.http.compat_errors import shaped_for
from service.http.edge.scope import denied, headers_of
from service.http.http_errors import send_error
from service.http.page_sessions import PageSessions

# Static code with no data in it, and the page's code-for-token exchange.
PUBLIC_GET = frozenset({"/", "/docs"})
PUBLIC_GET_PREFIXES = ("/static/", "/docs/assets/")
PUBLIC_POST = frozenset({"/v1/page/session"})
QUERY_TOKEN_NAMES = frozenset({"token", "access_token", "api_key", "key"})


class TokenCheck:
    """401 for a request without the daemon token (or a page token), or with one in the URL."""

    def __init__(self, app: ASGIApp, policy: AccessPolicy, sessions: PageSessions) -> None:
        self.app = app
        self.policy = policy
        self.sessions = sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = self._problem(scope)
        if problem is not None:
            await send_error(send, problem, scope["state"]["request_id"], scope)
            return
        await self.app(scope, receive, send)

    def _problem(self, scope: Scope) -> ProviderError | None:
        if _public(scope["method"], scope["path"]):
            return None
        if _query_has_token(scope):
            return denied(
                ErrorCode.UNAUTHORIZED,
                401,
                "A token in the URL is not accepted.",
                "Send the token in the Authorization header as 'Bearer <token>'.",
            )
        if not self._authenticated(headers_of(scope), scope):
            return denied(
                ErrorCode.UNAUTHORIZED,
                401,
                "The daemon token is missing or wrong.",
                "Send 'Authorization: Bearer <token>' with the token from the daemon's ready line.",
            )
        return None

    def _authenticated(self, headers: dict[bytes, bytes], scope: Scope) -> bool:
        authorization = headers.get(b"authorization", b"")
        scheme, _, presented = authorization.partition(b" ")
        if scheme.lower() != b"bearer" or not presented:
            # The Anthropic SDK sends its API key as `x-api-key`: on the compatible routes of a
            # wire whose SDK sends it so, the daemon token may come that way (never forwarded).
            wire = shaped_for(scope["path"], scope.get("app"))
            if wire is None or wire.token_header is None:
                return False
            api_key = headers.get(wire.token_header.encode("latin-1"), b"")
            return bool(api_key) and self.policy.token_ok(api_key)
        presented = presented.strip()
        if self.policy.token_ok(presented):
            return True
        # Said once, here: the compatible routes keep this bearer from upstream too.
        scope["state"]["page_token"] = self.sessions.valid(presented)
        return bool(scope["state"]["page_token"])


def _public(method: str, path: str) -> bool:
    if method in ("GET", "HEAD"):
        return path in PUBLIC_GET or path.startswith(PUBLIC_GET_PREFIXES)
    return method == "POST" and path in PUBLIC_POST


def _query_has_token(scope: Scope) -> bool:
    query = scope.get("query_string", b"")
    if not query:
        return False
    names = {name.lower() for name, _ in parse_qsl(query.decode("latin-1"), keep_blank_values=True)}
    return bool(names & QUERY_TOKEN_NAMES)
