"""A small HTTP/1.1 server on asyncio streams, built for faults an ordinary server cannot make:
headers then silence, drips, resets (RST) after some events, and byte-for-byte replays.

Keep-alive is supported, so SDK connection pooling behaves as against a real API.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from adapters.fakes.http11 import FakeRequest as FakeRequest  # re-exported: the fakes build on it
from adapters.fakes.http11 import read_request, send_reply


@dataclass
class Reply:
    """What the fake sends back, and how."""

    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    chunks: list[bytes] | None = None
    delay_s: float = 0.0
    drip_s: float = 0.0
    stall_after_headers: bool = False
    reset_after: int | None = None
    sent: int = 0  # stream chunks written before the reply ended (or was cut)

    @classmethod
    def json(cls, status: int, data: Any, headers: list[tuple[str, str]] | None = None) -> Reply:
        body = json.dumps(data).encode()
        return cls(status, [("content-type", "application/json"), *(headers or [])], body)


@dataclass
class Step:
    """A scripted answer for the next matching request (a test says what it gets)."""

    status: int | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: Any = None
    delay_s: float = 0.0
    drip_s: float = 0.0
    stall_after_headers: bool = False
    reset_after_events: int | None = None
    error_after_events: int | None = None
    malformed_after_events: int | None = None
    replay: bytes | None = None
    path: str | None = None
    repeat: int = 1


Handler = Callable[[FakeRequest, Step | None], Awaitable[Reply]]


def scripted(reply: Reply, step: Step | None) -> Reply:
    """Apply a step's delivery faults (delay, drip, stall, reset, extra headers) to a reply."""
    if step is not None:
        reply.delay_s, reply.drip_s = step.delay_s, step.drip_s
        reply.stall_after_headers = step.stall_after_headers
        reply.reset_after = step.reset_after_events
        reply.headers += [h for h in step.headers if h not in reply.headers]
    return reply


def split_events(raw: bytes) -> list[bytes]:
    """Recorded SSE bytes cut at event boundaries, unchanged: joined, they are the recording."""
    parts = raw.split(b"\n\n")
    return [part + b"\n\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


class FakeServer:
    """Serves a handler on 127.0.0.1 with a scenario queue, a request log and connection counts."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self.script: deque[Step] = deque()
        self.requests: list[FakeRequest] = []
        self.open_connections = 0
        self.closed_connections = 0
        self._server: asyncio.Server | None = None
        self.port = 0
        # A provider's concurrency limit: past `concurrency_limit` requests (POSTs) in progress
        # at once, each further one gets `limit_reply()` (the provider's own 429).
        self.concurrency_limit: int | None = None
        self.limit_reply: Callable[[], Reply] | None = None
        self.in_progress = 0
        self.peak_in_progress = 0
        self.limited = 0
        # For a separate process to watch: a pause between the events of every stream, and a
        # call as each request ends, saying whether its reply was sent whole (False: the client
        # closed the connection first).
        self.drip_s = 0.0
        self.on_request_end: Callable[[FakeRequest, bool, Reply | None], None] | None = None
        # Faults drawn for a request no scripted step matched (a chaos run's schedule).
        self.faults: Callable[[FakeRequest], Step | None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def push(self, *steps: Step) -> None:
        """Queue scripted answers; each serves `repeat` matching requests in order."""
        for step in steps:
            self.script.extend([step] * step.repeat)

    def _next_step(self, request: FakeRequest) -> Step | None:
        for step in self.script:
            if step.path is None or request.path.startswith(step.path):
                self.script.remove(step)
                return step
        return None

    async def start(self, port: int = 0, sock: socket.socket | None = None) -> str:
        """Listen on 127.0.0.1 (or on a socket bound beforehand, so the URL is known early)."""
        if sock is not None:
            self._server = await asyncio.start_server(self._connection, sock=sock)
        else:
            self._server = await asyncio.start_server(self._connection, "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.url

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    @contextlib.contextmanager
    def in_thread(self) -> Iterator[FakeServer]:
        """Run on its own event loop in a daemon thread (for tests driving a separate process)."""
        loop = asyncio.new_event_loop()
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self.start())
            started.set()
            loop.run_forever()
            pending = asyncio.all_tasks(loop)  # open connections: end them, then the loop
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.wait(pending, timeout=5))
            loop.close()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        started.wait(10)
        try:
            yield self
        finally:
            asyncio.run_coroutine_threadsafe(self.stop(), loop).result(5)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(5)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open_connections += 1
        try:
            while True:
                request = await read_request(reader)
                if request is None:
                    return
                self.requests.append(request)
                counted = request.method == "POST"
                self.in_progress += counted
                self.peak_in_progress = max(self.peak_in_progress, self.in_progress)
                reply: Reply | None = None
                try:
                    limit = self.concurrency_limit
                    if counted and limit is not None and self.in_progress > limit:
                        assert self.limit_reply is not None
                        self.limited += 1
                        reply = self.limit_reply()
                    else:
                        step = self._next_step(request)
                        if step is None and self.faults is not None:
                            step = self.faults(request)
                        reply = await self._handler(request, step)
                    if self.drip_s and not reply.drip_s:
                        reply.drip_s = self.drip_s
                    sent = False
                    sent = await send_reply(reader, writer, reply)
                finally:
                    self.in_progress -= counted
                    if self.on_request_end is not None:
                        self.on_request_end(request, sent, reply)
                if not sent:
                    return
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            return
        finally:
            self.open_connections -= 1
            self.closed_connections += 1
            with contextlib.suppress(Exception):
                writer.close()
