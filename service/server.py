"""Running the daemon: bind, serve, print the ready line, drain on SIGTERM, watch the parent."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Callable, Coroutine
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import uvicorn

from service import __version__
from service.app import create_app
from service.config import DaemonConfig, unknown_env
from service.connections import protocol_class
from service.instance import (
    EXIT_ALREADY_RUNNING,
    EXIT_DATA_DIR,
    AlreadyRunning,
    DataDirError,
    InstanceLock,
    alive,
    prepare_data_dir,
)
from service.logs import Redactor, configure_logging, use_text

log = logging.getLogger("kata.server")

PARENT_POLL_S = 1.0


def bind(host: str, port: int) -> socket.socket:
    """Bind the listening socket before serving, so `--port 0` has a real port to report."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on sockets whose proto says TCP,
    # and without it every response pays Nagle against the client's delayed ACK (~40 ms).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host.strip("[]"), port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class DaemonServer(uvicorn.Server):
    """uvicorn's server, plus the ready line once listening and the parent-process watch."""

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


def ready_line(config: DaemonConfig) -> str:
    """The one JSON line on stdout that tells the shell where and how to reach the daemon."""
    host = f"[{config.host}]" if ":" in config.host else config.host
    url = f"http://{host}:{config.port}"
    return json.dumps(
        {
            "event": "ready",
            "url": url,
            "port": config.port,
            "token": config.token,
            "pid": os.getpid(),
            "version": __version__,
        }
    )


def serve(config: DaemonConfig, redactor: Redactor, stdout: TextIO) -> int:
    """Serve until SIGTERM, SIGINT or the parent exits; returns the exit code."""
    configure_logging(config.log_level, redactor, config.log_format)
    redactor.add(config.token)
    for name in unknown_env(dict(os.environ)):
        log.warning("unknown setting ignored (a typo?)", extra={"variable": name})
    if not config.loopback_only:
        log.warning(
            "binding a non-loopback address: other machines can reach this daemon",
            extra={"host": config.host},
        )
    if config.parent_pid is not None and not alive(config.parent_pid):
        log.error("parent process is not running", extra={"parent_pid": config.parent_pid})
        return 1
    if config.demo:
        # A sandbox that starts fresh every run and leaves nothing behind.
        config = replace(config, data_dir=Path(tempfile.mkdtemp(prefix="kata-providers-demo-")))
    lock = InstanceLock(config.data_dir)
    try:
        removed = prepare_data_dir(config.data_dir)
        lock.acquire()
    except DataDirError as exc:
        print(f"kata-providers: {exc}", file=sys.stderr)
        return EXIT_DATA_DIR
    except AlreadyRunning as exc:
        print(f"kata-providers: {exc}", file=sys.stderr)
        return EXIT_ALREADY_RUNNING
    if removed:
        log.info("removed files left by interrupted writes", extra={"count": len(removed)})
    try:
        return _serve_locked(config, stdout, lock)
    finally:
        lock.release()
        if config.demo:
            shutil.rmtree(config.data_dir, ignore_errors=True)


def _serve_locked(config: DaemonConfig, stdout: TextIO, lock: InstanceLock) -> int:
    try:
        sock = bind(config.host, config.port)
    except OSError as exc:
        log.error(
            "cannot bind", extra={"host": config.host, "port": config.port, "error": str(exc)}
        )
        return 1
    config = replace(config, port=sock.getsockname()[1])
    runtime = None
    if config.demo:
        from service.demo import demo_runtime

        runtime = demo_runtime(config)
    app = create_app(config, runtime)

    url = json.loads(ready_line(config))["url"]

    def on_ready() -> None:
        line = ready_line(config)
        lock.publish({**json.loads(line), "started_at": datetime.now(UTC).isoformat()})
        stdout.write(line + "\n")
        stdout.flush()
        log.info(
            "ready",
            extra={"port": config.port, "pid": os.getpid(), "data_dir": str(config.data_dir)},
        )
        code = app.state.page_sessions.issue_code()
        link = f"{url}/#token={code}"
        log.info("status page (the link works once)", extra={"login_url": link})
        if use_text(config.log_format):
            sys.stderr.write(banner(config, url, link))
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
        lambda: daemon.drain(config.shutdown_grace_s),
        daemon.warmed,
    )
    # uvicorn re-raises the signal it caught once it has drained; these handlers make that a
    # clean exit 0 instead of death by the default SIGTERM action.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    with contextlib.closing(sock), asyncio.Runner(loop_factory=loop_factory()) as runner:
        runner.run(server.serve(sockets=[sock]))
    log.info("stopped")
    return 0 if server.started else 1


def banner(config: DaemonConfig, url: str, link: str) -> str:
    """What a person at a terminal needs once the daemon is ready."""
    cli = Path(sys.executable).with_name("kata-providers")
    command = str(cli) if cli.exists() else "kata-providers"
    with contextlib.suppress(ValueError):
        command = str(Path(command).relative_to(Path.cwd()))
    demo = "  (demo: built-in fake providers, nothing of yours is used)\n" if config.demo else ""
    return (
        f"\nKata Providers {__version__} is ready at {url}\n{demo}"
        f"  status page:  {link}\n"
        f"                (works once; `{command} open` gives a fresh one)\n"
        f"  try:          {command} status\n"
        f"  data folder:  {config.data_dir}\n"
        "  stop:         Ctrl-C\n\n"
    )


def main_stdout() -> TextIO:
    """Keep the real stdout for the ready line and send anything else printed to stderr."""
    real = sys.stdout
    sys.stdout = sys.stderr
    return real
