"""How long an execution waits on the provider, as distinct from the daemon's own work.

Upstream time is the wait from the request going on the wire (an HTTP client hook, after the
request is built) to the answer's head, plus every wait for more of the body. The daemon's work
between chunks (parsing, translating, passing events on) happens while the body is still being
read, so it is not "from first byte to last byte": it is left out, and counts as overhead.
Under load a wait also holds other requests' work on the same event loop; at one request at a
time it is the provider's (and the network's) alone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar
from typing import TypeVar

T = TypeVar("T")


class UpstreamWatch:
    """The waits of one execution's upstream attempts (set in `WATCH` while they run)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.waited = 0.0
        self._sent_at: float | None = None

    def sent(self) -> None:
        """The request went on the wire."""
        self._sent_at = self.clock()

    def answered(self) -> None:
        """The answer's head arrived: the wait since `sent` was the provider's."""
        if self._sent_at is not None:
            self.waited += self.clock() - self._sent_at
            self._sent_at = None


WATCH: ContextVar[UpstreamWatch | None] = ContextVar("kata_upstream_watch", default=None)


async def mark_sent(*_: object) -> None:
    """An HTTP client hook (httpx2 request hook, aiohttp `on_request_headers_sent`)."""
    watch = WATCH.get()
    if watch is not None:
        watch.sent()


def answered() -> None:
    watch = WATCH.get()
    if watch is not None:
        watch.answered()


async def waited_for(body: Awaitable[T]) -> T:
    """`body` awaited, the wait added to the upstream time (a whole answer's rest)."""
    watch = WATCH.get()
    if watch is None:
        return await body
    before = watch.clock()
    try:
        return await body
    finally:
        watch.waited += watch.clock() - before


async def timed(chunks: AsyncIterator[T]) -> AsyncIterator[T]:
    """`chunks` as they come, each wait for the next added to the upstream time."""
    watch = WATCH.get()
    if watch is None:
        async for chunk in chunks:
            yield chunk
        return
    clock = watch.clock
    while True:
        before = clock()
        try:
            chunk = await anext(chunks)
        except StopAsyncIteration:
            watch.waited += clock() - before
            return
        watch.waited += clock() - before
        yield chunk
