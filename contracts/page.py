"""The status page's sign-in: a one-time code traded for a short-lived page token."""

from __future__ import annotations

from pydantic import Field

from contracts.base import Request, Response


class PageSessionRequest(Request):
    """The code from a page link's `#token=` fragment (or the daemon token itself)."""

    code: str = Field(min_length=1, max_length=256)


class PageSession(Response):
    """A page token: send it as `Authorization: Bearer`; renew it before it expires."""

    token: str
    expires_in_s: float


class PageLink(Response):
    """A fresh one-time page link."""

    url: str
    expires_in_s: float
