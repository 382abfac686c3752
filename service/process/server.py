"""Starting the daemon: check the settings, take the data folder, bind, print the ready line;
then `service.process.serving` loads the app and serves (drain on SIGTERM, parent watch)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from service import __version__
from service.process.config import DaemonConfig, unknown_env
from service.process.instance import (
    EXIT_ALREADY_RUNNING,
    EXIT_DATA_DIR,
    AlreadyRunning,
    DataDirError,
    InstanceLock,
    alive,
    prepare_data_dir,
)
from service.process.logs import Redactor, configure_logging

log = logging.getLogger("kata.server")


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
    # The port listens from here: a connection waits in its backlog until the app below serves
    # it, so the shell may start talking now while the web framework loads (about 0.6 s here).
    # Until the server below takes the signals over, SIGTERM or SIGINT ends the process at once,
    # exit 0: nothing has been served, so there is nothing to drain.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _exit_now(lock, config))
    line = ready_line(config)
    url = json.loads(line)["url"]
    lock.publish({**json.loads(line), "started_at": datetime.now(UTC).isoformat()})
    # Logged before the line is printed: a SIGTERM sent on reading it ends the process at once.
    log.info(
        "ready", extra={"port": config.port, "pid": os.getpid(), "data_dir": str(config.data_dir)}
    )
    stdout.write(line + "\n")
    stdout.flush()
    from service.process.serving import run

    return run(config, sock, url, lambda link: banner(config, url, link))


def _exit_now(lock: InstanceLock, config: DaemonConfig) -> Callable[..., None]:
    """A signal handler for start-up: clean up and exit 0 at once. Not `SystemExit`: raised in
    a signal handler it lands in whatever runs, and one that lands inside a C extension (seen:
    pydantic-core building a validator) can be reported and turned into exit 1."""

    def handler(*_: object) -> None:
        lock.release()
        if config.demo:
            shutil.rmtree(config.data_dir, ignore_errors=True)
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        os._exit(0)

    return handler


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
