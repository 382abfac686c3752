"""SDK clients kept per credential: built once (off the event loop the first time, since that
imports the SDK), reused for connection pooling, dropped to force a fresh credential read, and
closed on shutdown. Both adapters hold one."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from adapters.base import Credential

if TYPE_CHECKING:
    import httpx2


def sdk_options(
    base_url: str | None, transport: httpx2.AsyncBaseTransport | None, timeout_s: float
) -> dict[str, Any]:
    """Constructor options every SDK client gets: never retry (the runtime does), the base URL,
    the timeout, and a test transport when one is given."""
    import httpx2

    options: dict[str, Any] = {"base_url": base_url, "max_retries": 0, "timeout": timeout_s}
    if transport is not None:
        options["http_client"] = httpx2.AsyncClient(transport=transport)
    return options


def import_sdks() -> None:
    """Import both SDKs (about 1.5 s together): run in a thread right after start."""
    import anthropic  # noqa: F401
    import openai  # noqa: F401


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
