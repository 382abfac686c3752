"""Test helpers: a live in-thread server, the real CLI as a subprocess, and an SSE reader."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import httpx
import uvicorn

from service.http.app import build_runtime, create_app
from service.process.config import DaemonConfig
from service.process.server import bind
from service.runtime import Runtime

TEST_TOKEN = "test-token-0123456789abcdef"
TEST_PORT = 18765
T = TypeVar("T")


@dataclass
class SseEvent:
    """One parsed server-sent event."""

    event: str = "message"
    id: str | None = None
    data: str = ""

    def json(self) -> Any:
        return json.loads(self.data)


def read_sse(
    lines: Iterator[str], want: int, *, comments: list[str] | None = None
) -> list[SseEvent]:
    """Read `want` events from an iterator of SSE lines; comment lines go to `comments`."""
    events: list[SseEvent] = []
    current = SseEvent()
    data: list[str] = []
    for line in lines:
        if line == "":
            if data or current.id is not None:
                current.data = "\n".join(data)
                events.append(current)
                if len(events) >= want:
                    return events
            current, data = SseEvent(), []
        elif line.startswith(":"):
            if comments is not None:
                comments.append(line)
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                current.event = value
            elif name == "id":
                current.id = value
            elif name == "data":
                data.append(value)
    return events


def sandbox_env(home: Path) -> dict[str, str]:
    """Environment for a spawned daemon whose home, provider tooling, data folder and keyring
    all live under `home` (the keyring: none, so keys go to the 0600 file)."""
    return {
        "HOME": str(home),
        "ANTHROPIC_CONFIG_DIR": str(home / ".config" / "anthropic"),
        "CODEX_HOME": str(home / ".codex"),
        "CLAUDE_CONFIG_DIR": str(home / ".claude"),
        "KATA_PROVIDERS_HOME": str(home / "data"),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
    }


class Sleeps:
    """Records retry waits instead of sleeping them (a RetryPolicy's `sleep`)."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def make_runtime(config: DaemonConfig, keyring: Any = None, **kwargs: Any) -> Runtime:
    """A runtime on the isolated environment, with an in-memory keyring unless one is given."""
    from service.providers.credentials.keyring_access import KeyringAccess
    from tests.fakes_keyring import MemoryKeyring

    backend = keyring if keyring is not None else MemoryKeyring()
    env = dict(os.environ)
    return build_runtime(
        config,
        keyring=KeyringAccess(lambda: backend),
        env=env,
        home=Path(env["HOME"]),
        **kwargs,
    )


def error_in_routes_shape(path: str, body: Any) -> dict[str, Any] | None:
    """Assert an error body is in the shape of the route that sent it (the provider's under
    `/anthropic/` and `/openai/`, the wire's under `/providers/<id>/`, the taxonomy's
    elsewhere); the taxonomy body inside it, or
    None for a provider's own answer passed on unchanged."""
    anthropic_shaped = path.startswith("/anthropic/") or (
        path.startswith("/providers/") and body.get("type") == "error"  # its wire's shape
    )
    if anthropic_shaped:
        assert body["type"] == "error", body
        assert body["error"]["type"], body
        assert body["error"]["message"], body
        kata = body.get("kata")
    elif path.startswith(("/openai/", "/providers/")):
        assert body["error"]["message"], body
        assert body["error"]["type"], body
        kata = body["error"].get("kata")
    else:
        kata = body
    if kata is not None:
        assert kata["code"], body
        assert kata["remediation"], body
    return kata if isinstance(kata, dict) else None


def sandboxed_runtime(config: DaemonConfig, home: Path, fakes: Upstreams) -> Runtime:
    """A runtime for a daemon that outlives one test (a module's): its own home under `home`,
    both test keys in its environment (a deleted stored key leaves them usable), the fakes."""
    from service.providers.credentials.keyring_access import KeyringAccess
    from tests.fakes_keyring import MemoryKeyring

    env = {
        **sandbox_env(home),
        "PATH": os.environ.get("PATH", ""),
        "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
        "OPENAI_API_KEY": OPENAI_KEY,
    }
    return build_runtime(
        config,
        keyring=KeyringAccess(MemoryKeyring),
        env=env,
        home=home,
        adapters=fakes.adapters(),
        watch=False,
    )


@contextlib.asynccontextmanager
async def app_client(
    config: DaemonConfig,
    runtime: Runtime | None = None,
    *,
    peer: str = "127.0.0.1",
    headers: dict[str, str] | None = None,
) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client for the app, with its lifespan run (JSON routes only)."""
    app = create_app(config, runtime or make_runtime(config))
    transport = httpx.ASGITransport(app=app, client=(peer, 50000))
    host = f"[{config.host}]" if ":" in config.host else config.host
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=transport, base_url=f"http://{host}:{config.port}", headers=headers or {}
        ) as http,
    ):
        yield http


@dataclass
class LiveServer:
    """The app served by uvicorn on 127.0.0.1 in a thread with its own event loop."""

    config: DaemonConfig
    runtime: Runtime
    server: uvicorn.Server
    thread: threading.Thread
    loop: asyncio.AbstractEventLoop
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.config.port}"

    @classmethod
    @contextlib.contextmanager
    def start(cls, config: DaemonConfig, runtime: Runtime) -> Iterator[LiveServer]:
        sock = bind("127.0.0.1", 0)
        config = replace(config, port=sock.getsockname()[1])
        runtime.config = config
        app = create_app(config, runtime)
        server = uvicorn.Server(
            uvicorn.Config(app, log_config=None, access_log=False, lifespan="on", ws="none")
        )
        loop = asyncio.new_event_loop()

        def run() -> None:
            loop.run_until_complete(server.serve(sockets=[sock]))
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.wait(pending, timeout=5))
            loop.close()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("live server did not start")
            time.sleep(0.01)
        live = cls(
            config, runtime, server, thread, loop, {"Authorization": f"Bearer {config.token}"}
        )
        try:
            yield live
        finally:
            server.should_exit = True
            thread.join(30)
            sock.close()
            # A server still shutting down has not run its lifespan's end (the ledger's last
            # write among it): a test that starts the next one must not race it.
            assert not thread.is_alive(), "the live server did not stop within 30 s"

    def call(self, fn: Callable[[], T]) -> T:
        """Run `fn` on the server's event loop and return its result."""

        async def run() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(5)

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=self.headers, timeout=10, **kwargs)


@dataclass
class Daemon:
    """The real `kata-providers serve` process, its ready line, and its stderr as it comes."""

    process: subprocess.Popen[str]
    ready: dict[str, Any]
    stderr: list[str] = field(default_factory=list)
    _drain: threading.Thread | None = None

    @property
    def url(self) -> str:
        return str(self.ready["url"])

    @property
    def token(self) -> str:
        return str(self.ready["token"])

    def stop(self, timeout: float = 10) -> int:
        """SIGTERM (if still running), wait, and collect the rest of stderr."""
        if self.process.poll() is None:
            self.process.terminate()
        code = self.process.wait(timeout)
        if self._drain is not None:
            self._drain.join(timeout)
        if self.process.stdout is not None:
            self.process.stdout.close()
        return code

    def stderr_lines(self) -> list[dict[str, Any]]:
        """The JSON log lines the daemon wrote; call after it has exited."""
        self.stop()
        return [json.loads(line) for line in self.stderr if line.strip()]


SPAWNED: list[Daemon] = []  # every daemon of the session, for the secrets sweep


def spawn_daemon(*args: str, env: dict[str, str] | None = None, timeout: float = 20) -> Daemon:
    """Start `kata-providers serve` as a subprocess (at DEBUG unless told otherwise) and wait
    for its ready line."""
    process = subprocess.Popen(
        [sys.executable, "-m", "service.process.cli", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "KATA_PROVIDERS_LOG_LEVEL": "DEBUG", **(env or {})},
    )
    stdout, stderr = process.stdout, process.stderr
    assert stdout is not None
    assert stderr is not None
    daemon = Daemon(process, {})
    SPAWNED.append(daemon)
    daemon._drain = threading.Thread(target=lambda: daemon.stderr.extend(stderr), daemon=True)
    daemon._drain.start()
    reader = threading.Thread(
        target=lambda: daemon.ready.update(json.loads(stdout.readline() or "{}"))
    )
    reader.start()
    reader.join(timeout)
    if not daemon.ready:
        process.kill()
        daemon.stop()
        raise RuntimeError(f"daemon did not become ready: {''.join(daemon.stderr)[-2000:]}")
    return daemon


ANTHROPIC_KEY = "sk-ant-api03-fake-upstream-key-A1"
OPENAI_KEY = "sk-proj-fake-upstream-key-O1"


@dataclass
class Upstreams:
    """Both fakes, running in their own thread, and adapters pointed at them."""

    anthropic: Any
    openai: Any

    def adapters(self) -> dict[Any, Any]:
        from adapters.anthropic.adapter import AnthropicAdapter
        from adapters.openai.adapter import OpenAIAdapter
        from contracts.base import ProviderId

        return {
            ProviderId.ANTHROPIC: AnthropicAdapter(self.anthropic.url),
            ProviderId.OPENAI: OpenAIAdapter(
                f"{self.openai.url}/v1", codex_base_url=f"{self.openai.url}/backend-api/codex"
            ),
        }

    def env(self) -> dict[str, str]:
        return {
            "ANTHROPIC_BASE_URL": self.anthropic.url,
            "OPENAI_BASE_URL": f"{self.openai.url}/v1",
            "KATA_PROVIDERS_CODEX_BASE_URL": f"{self.openai.url}/backend-api/codex",
        }


@contextlib.contextmanager
def upstreams(chatgpt_tokens: set[str] | None = None) -> Iterator[Upstreams]:
    """Start both fake upstreams with the test credentials."""
    from adapters.anthropic.fake import AnthropicAuth, FakeAnthropic
    from adapters.openai.fake import FakeOpenAI, OpenAIAuth
    from tests.sessions_fixtures import PROFILE_TOKEN

    anthropic = FakeAnthropic(AnthropicAuth(api_keys={ANTHROPIC_KEY}, oauth_tokens={PROFILE_TOKEN}))
    openai = FakeOpenAI(
        OpenAIAuth(
            api_keys={OPENAI_KEY, "sk-proj-distinctive-codex-key-Vb6n"},
            chatgpt_tokens=chatgpt_tokens or set(),
        )
    )
    with anthropic.in_thread(), openai.in_thread():
        yield Upstreams(anthropic, openai)


@contextlib.asynccontextmanager
async def loopback(handler: Callable[[Any], Any]) -> AsyncIterator[str]:
    """A loopback HTTP server answering every request with `handler(httpx2.Request)` (an
    `httpx2.Response`): a hand-written upstream for the direct path, which sends real HTTP."""
    import httpx2
    from aiohttp import web

    async def answer(request: web.Request) -> web.Response:
        body = await request.read()
        out = handler(
            httpx2.Request(request.method, str(request.url), headers=request.headers, content=body)
        )
        try:  # a response built on a stream is sent as its raw bytes (compressed, say)
            raw = b"".join(out.iter_raw())
        except httpx2.StreamConsumed:  # built with content=: already read
            raw = out.content
        return web.Response(status=out.status_code, body=raw, headers=out.headers)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def recorded_rows(http: httpx.Client, tries: int = 40) -> list[Any]:
    """The ledger's rows (`GET /v1/executions`), asked again every 50 ms until there is one: a
    row is written as its response ends, which the client may see first."""
    rows: list[Any] = []
    for _ in range(tries):
        rows = http.get("/v1/executions").json()["executions"]
        if rows:
            break
        time.sleep(0.05)
    return rows
