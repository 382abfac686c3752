"""The hot path's HTTP: the daemon builds each wire request itself and sends it on one pooled
client per adapter, instead of through the SDK's per-request machinery.

Why: the SDKs' request building (parameter transforms, option merging, header assembly) and
their per-request client work cost 2-4 ms of CPU on this path, more than everything else the
daemon does together. The SDKs stay the source of truth: `tests/test_wire_differential.py`
proves, for every request shape the adapters send, that this path sends what the installed SDK
would (method, path, the headers that matter, body) and that reading a recorded stream here
gives the same neutral events as reading it through the SDK. Credentials that need the SDK's
token providers (Anthropic profiles and token environments) still go through the SDK.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from adapters.clients import _mark_sent
from contracts.errors import ProviderError

if TYPE_CHECKING:
    import httpx2

# Given an error answer's status, body and headers: the taxonomy error it stands for.
OnError = Callable[[int, Any, Mapping[str, str]], ProviderError]


@dataclass(frozen=True)
class WireRequest:
    """One request as it goes on the wire (the body is JSON-encoded once, here)."""

    method: str
    path: str
    headers: dict[str, str]
    json_body: dict[str, Any] | None = None
    params: dict[str, str] = field(default_factory=dict)

    def content(self) -> bytes | None:
        if self.json_body is None:
            return None
        return json.dumps(self.json_body, separators=(",", ":"), ensure_ascii=False).encode()


def error_body(raw: bytes) -> Any:
    """An error answer's JSON body, or its text when it is not JSON (a proxy's HTML page)."""
    text = raw.decode("utf-8", "replace").strip()
    try:
        return json.loads(text)
    except ValueError:
        return text


def fallback_message(status: int, body: Any) -> str:
    """The message for an error answer that carries none of its own, worded as the SDKs word
    theirs (so both paths report the same thing)."""
    if isinstance(body, str):
        return body or f"Error code: {status}"
    return f"Error code: {status} - {body}"


class Wire:
    """One long-lived HTTP client for one provider's base URL (built on first use)."""

    def __init__(
        self, base_url: str, transport: httpx2.AsyncBaseTransport | None, timeout_s: float
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._transport = transport
        self._timeout = timeout_s
        self._client: httpx2.AsyncClient | None = None

    def client(self) -> httpx2.AsyncClient:
        """The pooled client (imports httpx2 the first time: call `load` off the loop)."""
        if self._client is None:
            import httpx2

            self._client = httpx2.AsyncClient(
                transport=self._transport,
                timeout=self._timeout,
                follow_redirects=True,
                limits=httpx2.Limits(max_connections=1000, max_keepalive_connections=100),
                event_hooks={"request": [_mark_sent]},
            )
        return self._client

    def _build(self, request: WireRequest) -> httpx2.Request:
        return self.client().build_request(
            request.method,
            self.base_url + request.path,
            headers=request.headers,
            content=request.content(),
            params=request.params or None,
        )

    @asynccontextmanager
    async def open(self, request: WireRequest, on_error: OnError) -> AsyncIterator[httpx2.Response]:
        """Send `request` and yield the streaming response; an error answer is read whole and
        raised as `on_error` says. The response is closed on the way out."""
        client = self.client()
        response = await client.send(self._build(request), stream=True)
        try:
            if response.status_code >= 400:
                raw = await response.aread()
                raise on_error(response.status_code, error_body(raw), response.headers)
            yield response
        finally:
            await response.aclose()

    async def json(self, request: WireRequest, on_error: OnError) -> Any:
        """Send `request` and return its JSON answer (an error answer raised as for `open`)."""
        async with self.open(request, on_error) as response:
            return json.loads(await response.aread())

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()
