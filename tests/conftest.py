"""Fixtures shared by the whole suite. Nothing here touches the real home folder or network."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from service.config import DaemonConfig
from service.credentials.keyring_access import KeyringAccess
from service.runtime import Runtime
from tests.fakes_keyring import MemoryKeyring
from tests.support import TEST_PORT, TEST_TOKEN, LiveServer, app_client

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
    return Runtime(
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
