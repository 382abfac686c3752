"""Serving the app with uvicorn on the socket `service.process.server` bound and announced. Imported
only after the ready line: it loads the web framework (FastAPI, about 0.6 s here)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable, Coroutine
from typing import Any

import uvicorn

from service.http.app import create_app
from service.http.connections import protocol_class
from service.process.config import DaemonConfig
from service.process.instance import alive
from service.process.logs import use_text

log = logging.getLogger("kata.server")

PARENT_POLL_S = 1.0
GC_YOUNG_THRESHOLD = 10_000


class DaemonServer(uvicorn.Server):
    """uvicorn's server, plus the status-page link once serving, the drain and the
    parent-process watch."""

    def __init__(
        self,
        config: uvicorn.Config,
        on_ready: Callable[[], None],
        parent_pid: int | None,
        drain: Callable[[], Coroutine[Any, Any, None]],
        loaded: asyncio.Event,
    ):
        super().__init__(config)
        self._loaded = loaded
        self._freeze: asyncio.Task[None] | None = None
        self._on_ready = on_ready
        self._parent_pid = parent_pid
        self._drain = drain
        self._watch: asyncio.Task[None] | None = None
        self.early_signals: list[int] = []

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # uvicorn stops listening and waits for open connections; meanwhile the runtime lets
        # executions finish, then ends the rest with a terminal event so no stream just stops.
        drain = asyncio.create_task(self._drain())
        try:
            await super().shutdown(sockets)
        finally:
            drain.cancel()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.early_signals:
            self.should_exit = True
        if self.started and not self.should_exit:
            self._freeze = asyncio.create_task(self._freeze_when_loaded())
            if self._parent_pid is not None:
                self._watch = asyncio.create_task(self._watch_parent(self._parent_pid))
            self._on_ready()

    async def _freeze_when_loaded(self) -> None:
        # Everything alive once the hot path is loaded lives as long as the process: moved out of
        # the collector's reach, a full collection no longer walks it (measured: a 2.3 MB request
        # stalled the loop 277 ms in one such collection, 25 ms without).
        await self._loaded.wait()
        gc.freeze()
        # A request allocates a few thousand short-lived containers (models, dicts, frames) that
        # reference counting frees; at the default threshold (700) the collector ran about 0.08
        # times a request and took 0.09 ms of one's ~1.5 ms CPU (measured, 20,000 requests).
        # At 10,000 the same run saw 237 collections in all, start-up's included (1,480
        # before); what only a collection frees (cycles) waits longer, and RSS stayed the same.
        gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])

    async def _watch_parent(self, pid: int) -> None:
        gone = asyncio.Event()
        try:
            fd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            fd = None
        if fd is not None:
            asyncio.get_running_loop().add_reader(fd, gone.set)
            try:
                await gone.wait()
            finally:
                asyncio.get_running_loop().remove_reader(fd)
                os.close(fd)
        else:
            # No pidfd on this platform: polling is the only way to notice the parent exit.
            while alive(pid):  # noqa: ASYNC110
                await asyncio.sleep(PARENT_POLL_S)
        log.info("parent process exited; shutting down", extra={"parent_pid": pid})
        self.should_exit = True


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop where it is installed (measured: about 0.5 ms less per request
    here), else asyncio's own."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run(config: DaemonConfig, sock: socket.socket, url: str, banner: Callable[[str], str]) -> int:
    """Build the app and serve it on `sock` until SIGTERM, SIGINT or the parent exits."""
    runtime = None
    if config.demo:
        from service.process.demo import demo_runtime

        runtime = demo_runtime(config)
    app = create_app(config, runtime)

    def on_ready() -> None:
        code = app.state.page_sessions.issue_code()
        link = f"{url}/#token={code}"
        log.info("status page (the link works once)", extra={"login_url": link})
        if use_text(config.log_format):
            sys.stderr.write(banner(link))
            sys.stderr.flush()

    uv_config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        server_header=False,
        date_header=True,
        lifespan="on",
        ws="none",
        http=protocol_class(config.head_timeout_s, config.max_connections),
        # The drain ends executions at shutdown_grace_s; the margin lets their last events go.
        timeout_graceful_shutdown=round(config.shutdown_grace_s) + 2,
        # A local client keeps its connections open; closing them early races its reuse.
        timeout_keep_alive=75,
    )
    daemon = app.state.runtime
    server = DaemonServer(
        uv_config,
        on_ready,
        config.parent_pid,
        lambda: daemon.dispatcher.drain(config.shutdown_grace_s),
        daemon.warmed,
    )
    # uvicorn re-raises the signal it caught once it has drained; these handlers make that a
    # clean exit 0 instead of death by the default SIGTERM action. One that comes before uvicorn
    # takes the signals over is kept, and the server stops as soon as it has started.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda number, _: server.early_signals.append(number))
    with contextlib.closing(sock), asyncio.Runner(loop_factory=loop_factory()) as runner:
        runner.run(server.serve(sockets=[sock]))
    log.info("stopped")
    return 0 if server.started else 1
