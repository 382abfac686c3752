"""The hot path's HTTP: the daemon builds each upstream request itself (each wire's `api.py`)
and sends it on one pooled client per base URL, instead of through the SDK's per-request
machinery.

Why: the SDKs' request building (parameter transforms, option merging, header assembly) and
their per-request client work cost 2-4 ms of CPU on this path, more than everything else the
daemon does together; and the client is aiohttp, whose C parser costs ~0.5 ms of CPU a
streamed request where httpx2 (the SDKs' client) costs ~1.9 ms.

The SDKs stay the source of truth: `tests/test_wire_differential.py` proves, for every request
shape the adapters send, that this path sends what the installed SDK would (method, path, the
headers that matter, body), and that reading a recorded stream here gives the same neutral
events as reading it through the SDK. Credentials that need the SDK's token providers
(Anthropic profiles and token environments) still go through the SDK.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from adapters.passthrough import RelayAnswer, RelayRequest
from adapters.upstream_time import answered, mark_sent, timed, waited_for
from contracts.errors import ProviderError

if TYPE_CHECKING:
    import aiohttp

# Given an error answer's status, body and headers: the taxonomy error it stands for.
OnError = Callable[[int, Any, Mapping[str, str]], ProviderError]


@dataclass(frozen=True)
class UpstreamRequest:
    """One request as it goes on the wire (the body is JSON-encoded once, here)."""

    method: str
    path: str
    headers: dict[str, str]
    json_body: dict[str, Any] | None = None
    params: dict[str, str] = field(default_factory=dict)

    def all_headers(self) -> dict[str, str]:
        """The headers, with the content type when there is a body (as the SDKs send them)."""
        if self.json_body is None:
            return self.headers
        return {**self.headers, "content-type": "application/json"}

    def content(self) -> bytes | None:
        if self.json_body is None:
            return None
        return json.dumps(self.json_body, separators=(",", ":"), ensure_ascii=False).encode()


def key_headers(secret: str, key_header: str | None) -> dict[str, str]:
    """How a key travels: `authorization` as a bearer token (OpenAI, most compatible servers),
    in a header of its own (`x-api-key`: Anthropic; `api-key`: Azure), or not at all (`None`: an
    endpoint without auth). Each wire module names its own default."""
    if key_header is None:
        return {}
    if key_header == "authorization":
        return {"authorization": f"Bearer {secret}"}
    return {key_header: secret}


def error_body(raw: bytes) -> Any:
    """An error answer's JSON body, or its text when it is not JSON (a proxy's HTML page)."""
    text = raw.decode("utf-8", "replace").strip()
    try:
        return json.loads(text)
    except ValueError:
        return text


async def lines(response: aiohttp.ClientResponse) -> AsyncIterator[str]:
    """The body's lines as they arrive, without their endings (`\n` or `\r\n`). Read in
    chunks and split here, so no line is too long (a `response.completed` event carries the
    whole answer); UTF-8 never has a newline byte inside a character, so splitting bytes is
    safe."""
    rest = b""
    async for chunk in timed(response.content.iter_any()):
        rest += chunk
        if b"\n" not in chunk:
            continue
        *complete, rest = rest.split(b"\n")
        for line in complete:
            yield line.removesuffix(b"\r").decode("utf-8", "replace")
    if rest:
        yield rest.removesuffix(b"\r").decode("utf-8", "replace")


def streamed(response: aiohttp.ClientResponse) -> bool:
    """Whether an answer is an event stream (a server may stream a request asked for whole)."""
    return response.content_type == "text/event-stream"


async def whole_body(response: aiohttp.ClientResponse) -> bytes:
    """The rest of an answer asked for whole, its wait counted as the provider's."""
    return await waited_for(response.read())


def env_proxy(url: str) -> str | None:
    """The proxy the environment names for `url` (HTTPS_PROXY / HTTP_PROXY / ALL_PROXY, unless
    NO_PROXY covers its host), as the SDKs' client would use. Decided once per base URL:
    aiohttp's own `trust_env` looks it up again in a thread on every request."""
    from urllib.parse import urlsplit
    from urllib.request import (  # type: ignore[attr-defined]  # the stub omits the second
        getproxies_environment,
        proxy_bypass_environment,
    )

    proxies = getproxies_environment()
    parts = urlsplit(url)
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy or proxy_bypass_environment(parts.hostname or "", proxies):
        return None
    return proxy


class Pool:
    """One long-lived HTTP client for one provider's base URL (built on first use, inside the
    event loop; rebuilt if used from another loop, as tests do).

    A query in the base URL (Azure's `api-version`) goes with every request. Redirects are never
    followed: a credential goes only to the origin it was configured for, and a redirect to
    another one is answered as the error it is. `verify_tls=False` (an explicit opt-in for an
    endpoint a user added) accepts any certificate."""

    def __init__(self, base_url: str, timeout_s: float, *, verify_tls: bool = True) -> None:
        base, _, query = base_url.partition("?")
        self.base_url = base.rstrip("/")
        self.query = query
        self.proxy = env_proxy(self.base_url)
        self._verify_tls = verify_tls
        self._timeout = timeout_s
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def session(self) -> aiohttp.ClientSession:
        """The pooled session (imports aiohttp the first time: `preload` does that off the
        loop)."""
        loop = asyncio.get_running_loop()
        if self._session is None or self._loop is not loop:
            import aiohttp

            trace = aiohttp.TraceConfig()
            trace.on_request_headers_sent.append(mark_sent)
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=1000, keepalive_timeout=5.0, ssl=self._verify_tls
                ),
                timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=self._timeout, sock_read=self._timeout
                ),
                trace_configs=[trace],
            )
            self._loop = loop
        return self._session

    @asynccontextmanager
    async def open(
        self, request: UpstreamRequest, on_error: OnError
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """Send `request` and yield the streaming response; an error answer is read whole and
        raised as `on_error` says. The response is released on the way out."""
        response = await self.session().request(
            request.method,
            self._url(request.path),
            headers=request.all_headers(),
            data=request.content(),
            params=request.params or None,
            proxy=self.proxy,
            allow_redirects=False,
        )
        answered()
        try:
            if response.status >= 300:
                raw = await response.read()
                raise on_error(response.status, error_body(raw), response.headers)
            yield response
        finally:
            response.release()

    @asynccontextmanager
    async def relay(
        self, request: RelayRequest, auth: Mapping[str, str]
    ) -> AsyncIterator[RelayAnswer]:
        """Send a client's own request as it came, with `auth` in place of its credential; the
        answer as it comes, error statuses included (identity encoding: bytes pass unchanged)."""
        response = await self.session().request(
            request.method,
            self._url(request.path, request.query),
            headers={**request.headers, **auth, "accept-encoding": "identity"},
            data=request.body,
            proxy=self.proxy,
            allow_redirects=False,
        )
        answered()
        try:
            yield RelayAnswer(
                response.status, list(response.headers.items()), response.content.iter_any()
            )
        finally:
            response.release()

    def _url(self, path: str, query: str = "") -> str:
        """The base URL's path and query, then the request's own path and query."""
        both = "&".join(part for part in (self.query, query) if part)
        return self.base_url + path + (f"?{both}" if both else "")

    async def json(self, request: UpstreamRequest, on_error: OnError) -> Any:
        """Send `request` and return its JSON answer (an error answer raised as for `open`)."""
        async with self.open(request, on_error) as response:
            return json.loads(await response.read())

    async def aclose(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            if self._loop is asyncio.get_running_loop():
                await session.close()
