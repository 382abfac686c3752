"""Signing the status page in without anything a browser sends by itself.

No cookies: cookies are not port-scoped, so every server on 127.0.0.1 would receive one. The
page link is `/#token=<one-time code>` (a fragment never reaches any server); the page trades
the code (or the daemon token itself, which the shell may put there) for a short-lived page
token, keeps it in `sessionStorage` (scoped to this origin, port included, and to the tab) and
sends it as a bearer token. While the page is open it renews the token before it expires.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable

CODE_TTL_S = 600.0
TOKEN_TTL_S = 900.0
MAX_LIVE = 64  # codes or tokens alive at once; the oldest go first


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


class PageSessions:
    """One-time codes and the page tokens they are traded for. Only digests are kept."""

    def __init__(
        self,
        daemon_token: str,
        clock: Callable[[], float] = time.monotonic,
        token_ttl_s: float = TOKEN_TTL_S,
    ) -> None:
        self._daemon = _digest(daemon_token)
        self._clock = clock
        self.token_ttl_s = token_ttl_s
        self._codes: dict[bytes, float] = {}
        self._tokens: dict[bytes, float] = {}

    def issue_code(self) -> str:
        """A fresh one-time code for a page link (valid for ten minutes)."""
        code = secrets.token_urlsafe(24)
        self._add(self._codes, _digest(code), CODE_TTL_S)
        return code

    def exchange(self, presented: str) -> str | None:
        """A page token for a one-time code (spent now) or for the daemon token; else None."""
        digest = _digest(presented)
        expires = self._codes.pop(digest, None)
        if (expires is None or expires < self._clock()) and not hmac.compare_digest(
            digest, self._daemon
        ):
            return None
        token = secrets.token_urlsafe(32)
        self._add(self._tokens, _digest(token), self.token_ttl_s)
        return token

    def valid(self, presented: bytes) -> bool:
        """Whether `presented` is a live page token."""
        try:
            digest = _digest(presented.decode("ascii"))
        except UnicodeDecodeError:
            return False
        expires = self._tokens.get(digest)
        return expires is not None and expires >= self._clock()

    def renew(self, presented: str) -> bool:
        """Extend a live page token's life; False when it is not live."""
        digest = _digest(presented)
        if not self.valid(presented.encode()):
            return False
        self._tokens[digest] = self._clock() + self.token_ttl_s
        return True

    def _add(self, table: dict[bytes, float], digest: bytes, ttl_s: float) -> None:
        now = self._clock()
        for key in [key for key, expires in table.items() if expires < now]:
            del table[key]
        while len(table) >= MAX_LIVE:
            del table[min(table, key=table.__getitem__)]
        table[digest] = now + ttl_s
