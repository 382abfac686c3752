"""SDK clients kept per credential: built once (off the event loop the first time, since that
imports the SDK), reused for connection pooling, dropped to force a fresh credential read, and
closed on shutdown. Only the SDK path uses the clients (Anthropic token sessions whose
credential providers live in the SDK); everything else takes the direct path (`adapters.pool`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from adapters.base import Credential
from adapters.upstream_time import mark_sent

if TYPE_CHECKING:
    import httpx2


def sdk_options(
    base_url: str | None, transport: httpx2.AsyncBaseTransport | None, timeout_s: float
) -> dict[str, Any]:
    """Constructor options every SDK client gets: never retry (the runtime does), the base URL,
    the timeout, an HTTP client that marks when each request is sent (the SDKs' own pool
    limits), and a test transport when one is given."""
    import httpx2

    http_client = httpx2.AsyncClient(
        transport=transport,
        timeout=timeout_s,
        follow_redirects=True,
        limits=httpx2.Limits(max_connections=1000, max_keepalive_connections=100),
        event_hooks={"request": [mark_sent]},
    )
    return {
        "base_url": base_url,
        "max_retries": 0,
        "timeout": timeout_s,
        "http_client": http_client,
    }


def host_of(base_url: str | None, default: str) -> str:
    """The host requests go to, for messages that name it."""
    from urllib.parse import urlsplit

    return (urlsplit(base_url).netloc if base_url else "") or default


class Closable(Protocol):
    async def close(self) -> None: ...


C = TypeVar("C", bound=Closable)


class SdkClients(Generic[C]):
    """A cache of SDK clients keyed by credential."""

    def __init__(self, build: Callable[[Credential], C]) -> None:
        self._build = build
        self._clients: dict[tuple[object, ...], C] = {}
        self._closing: set[asyncio.Future[None]] = set()

    def get(self, credential: Credential) -> C:
        """The client for `credential`, built now if needed."""
        client = self._clients.get(credential.cache_key)
        if client is None:
            client = self._clients[credential.cache_key] = self._build(credential)
        return client

    async def warm(self, credential: Credential) -> None:
        """Build the client before timing starts; the first build imports the SDK (about a
        second), so it runs in a thread."""
        if credential.cache_key not in self._clients:
            client = await asyncio.to_thread(self._build, credential)
            self._clients.setdefault(credential.cache_key, client)

    def forget(self, credential: Credential) -> None:
        """Drop the client for `credential`, so the next request reads the credential afresh."""
        client = self._clients.pop(credential.cache_key, None)
        if client is not None:
            self._closing.add(asyncio.ensure_future(client.close()))
            self._closing = {task for task in self._closing if not task.done()}

    async def aclose(self) -> None:
        """Close every client (and its connection pool)."""
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.close()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
