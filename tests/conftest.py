"""Fixtures shared by the whole suite. Nothing here touches the real home folder or network."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from service.executions.retry import RetryPolicy
from service.http.app import build_runtime
from service.process.config import DaemonConfig
from service.providers.credentials.keyring_access import KeyringAccess
from service.runtime import Runtime
from tests.fakes_keyring import MemoryKeyring
from tests.support import (
    ANTHROPIC_KEY,
    OPENAI_KEY,
    TEST_PORT,
    TEST_TOKEN,
    LiveServer,
    Sleeps,
    Upstreams,
    app_client,
    make_runtime,
    upstreams,
)

ISOLATED_ENV = (
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_BASE_URL",
    "ANTHROPIC_PROFILE",
    "CLAUDE_CODE_OAUTH_TOKEN",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "KATA_PROVIDERS_TOKEN",
    "KATA_PROVIDERS_LOG_LEVEL",
)


@pytest.fixture(scope="session", autouse=True)
def secrets_sweep(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The whole suite runs at DEBUG with distinctive keys and tokens; at the end, not one of
    them may appear in any log line, in-process or from a spawned daemon."""
    from service.process.logs import JsonFormatter, Redactor
    from tests.sessions_fixtures import CODEX_KEY, PROFILE_TOKEN, REFRESH_TOKEN
    from tests.support import ANTHROPIC_KEY, OPENAI_KEY, SPAWNED

    path = tmp_path_factory.mktemp("sweep") / "daemon.log"
    handler = logging.FileHandler(path)
    handler.setFormatter(JsonFormatter(Redactor()))  # no known secrets: patterns only
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        handler.close()
        written = path.read_text() + "".join("".join(d.stderr) for d in SPAWNED)
        secrets = [
            ANTHROPIC_KEY,
            OPENAI_KEY,
            CODEX_KEY,
            PROFILE_TOKEN,
            REFRESH_TOKEN,
            "rt-distinctive-codex-refresh-Xy1",
            "sk-ant-api03-distinctive-anthropic-key-7Q2x",
            "sk-proj-distinctive-openai-key-9Z3w",
        ]
        leaked = [secret[:14] + "…" for secret in secrets if secret in written]
        assert written, "the sweep saw no log lines"
        assert not leaked, f"secrets in the logs: {leaked}"


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point every folder the daemon or the SDKs read at tmp_path; clear provider variables."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("KATA_PROVIDERS_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("ANTHROPIC_CONFIG_DIR", str(home / ".config" / "anthropic"))
    monkeypatch.setenv("CODEX_HOME", str(home / ".codex"))
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(home / ".claude"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    for name in ISOLATED_ENV:
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def config(tmp_path: Path) -> DaemonConfig:
    """A daemon config for in-process tests, as if bound to 127.0.0.1:TEST_PORT."""
    return DaemonConfig(token=TEST_TOKEN, port=TEST_PORT, data_dir=tmp_path / "data")


@pytest.fixture
def memory_keyring() -> MemoryKeyring:
    """The keyring every in-process test uses: never the real one."""
    return MemoryKeyring()


@pytest.fixture
def runtime(config: DaemonConfig, memory_keyring: MemoryKeyring, isolated_home: Path) -> Runtime:
    """The runtime the app under test uses (in-memory keyring, isolated home and env)."""
    return build_runtime(
        config,
        keyring=KeyringAccess(lambda: memory_keyring),
        env=dict(os.environ),
        home=isolated_home,
    )


@pytest.fixture
async def client(config: DaemonConfig, runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """An authenticated in-process client (JSON routes only: ASGITransport does not stream)."""
    async with app_client(
        config, runtime, headers={"Authorization": f"Bearer {TEST_TOKEN}"}
    ) as http:
        yield http


@pytest.fixture
def live(config: DaemonConfig, runtime: Runtime) -> Iterator[LiveServer]:
    """The real app on a real loopback socket in a background thread, for streaming tests."""
    with LiveServer.start(config, runtime) as server:
        yield server


@pytest.fixture
def fakes() -> Iterator[Upstreams]:
    """Both fake upstreams, in a thread, for one test."""
    with upstreams() as running:
        yield running


@pytest.fixture
def daemon(config: DaemonConfig, fakes: Upstreams) -> Iterator[LiveServer]:
    """The app on a loopback socket against the fake upstreams, without retries (tests about
    what one upstream answer becomes)."""
    runtime = make_runtime(
        config, adapters=fakes.adapters(), watch=False, policy=RetryPolicy(max_retries=0)
    )
    with LiveServer.start(config, runtime) as server:
        yield server


@pytest.fixture
def http(daemon: LiveServer) -> Iterator[httpx.Client]:
    """A client of `daemon` with both providers' test keys stored."""
    with daemon.client() as client:
        client.put("/v1/providers/anthropic/api-key", json={"api_key": ANTHROPIC_KEY})
        client.put("/v1/providers/openai/api-key", json={"api_key": OPENAI_KEY})
        yield client


@pytest.fixture
def sleeps() -> Sleeps:
    """Retry waits, recorded instead of slept."""
    return Sleeps()
