"""Connection hygiene for uvicorn's HTTP protocol: a request head must be complete within a
bound (10 s by default) or the connection is closed, and open connections are capped (logged
when the cap is reached). Neither needs a token: these hold before any request is read.

uvicorn has no request-head timeout of its own: a client that connects and then sends nothing,
or half a request line, would hold its connection forever.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

log = logging.getLogger("kata.connections")

LOG_EVERY_S = 10.0


def protocol_class(head_timeout_s: float, max_connections: int) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol (httptools when installed, else h11) with the two bounds."""
    base: Any
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        base = HttpToolsProtocol
    except ImportError:
        from uvicorn.protocols.http.h11_impl import H11Protocol

        base = H11Protocol

    last_logged = [0.0]

    class Bounded(base):  # type: ignore[misc]
        _head_timer: asyncio.TimerHandle | None = None
        _armed_cycle: object = None

        def connection_made(self, transport: asyncio.Transport) -> None:
            super().connection_made(transport)
            if len(self.connections) > max_connections:
                now = time.monotonic()
                if now - last_logged[0] > LOG_EVERY_S:
                    last_logged[0] = now
                    log.warning(
                        "connection limit reached; refusing new connections",
                        extra={"max_connections": max_connections},
                    )
                transport.close()
                return
            self._arm()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            # When the request began to arrive: the daemon's own time counts from here.
            self.scope["state"]["received"] = time.perf_counter()

        def data_received(self, data: bytes) -> None:
            before = self.cycle
            super().data_received(data)
            if self.cycle is not before:
                self._disarm()  # a new request's head was read whole
            elif self._head_timer is None and (self.cycle is None or self.cycle.response_complete):
                # Part of the next request's head on a kept-alive connection: it has the bound
                # to complete. (A head that comes whole, the usual case, never sets a timer.)
                self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._armed_cycle = self.cycle
            self._head_timer = self.loop.call_later(head_timeout_s, self._head_timed_out)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_timed_out(self) -> None:
            self._head_timer = None
            if self.cycle is self._armed_cycle and not self.transport.is_closing():
                log.info("closing a connection whose request head never completed")
                self.transport.close()

    return Bounded
