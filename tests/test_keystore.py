"""The API-key store: keyring first, a 0600 file when there is no keyring, env below both."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from contracts.base import ProviderId
from contracts.error_body import ErrorCode
from contracts.errors import ProviderError
from service.providers.credentials.keyring_access import SERVICE, KeyringAccess
from service.providers.credentials.keystore import KeyStore, check_key_shape
from tests.fakes_keyring import HangingKeyring, MemoryKeyring, NoBackendKeyring

KEY = "sk-ant-api03-distinctive-anthropic-key-7Q2x"
OPENAI_KEY = "sk-proj-distinctive-openai-key-9Z3w"


def _store(
    data: Path, backend: object, env: dict[str, str] | None = None, timeout: float = 3.0
) -> KeyStore:
    return KeyStore(data, KeyringAccess(lambda: backend, timeout_s=timeout), env or {})


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_keys_go_to_the_keyring_when_it_works(tmp_path: Path) -> None:
    backend = MemoryKeyring()
    store = _store(tmp_path, backend)
    await store.load()
    stored = await store.put(ProviderId.ANTHROPIC, KEY)
    assert stored.source == "keyring:MemoryKeyring"
    assert store.store_name == "keyring:MemoryKeyring"
    assert backend.entries[(SERVICE, "anthropic")] == KEY
    assert not (tmp_path / "credentials.json").exists()
    again = _store(tmp_path, backend)
    await again.load()
    found = again.key(ProviderId.ANTHROPIC)
    assert found is not None
    assert found.value == KEY
    assert found.hint == "…7Q2x"
    assert KEY not in repr(found)


async def test_no_backend_falls_back_to_a_private_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = _store(data, NoBackendKeyring())
    await store.load()
    assert store.store_name == "file"
    assert "NoKeyringError" in (store.keyring_problem or "")
    await store.put(ProviderId.OPENAI, OPENAI_KEY)
    path = data / "credentials.json"
    assert _mode(path) == 0o600
    assert _mode(data) == 0o700
    assert json.loads(path.read_text())["keys"] == {"openai": OPENAI_KEY}
    reloaded = _store(data, NoBackendKeyring())
    await reloaded.load()
    found = reloaded.key(ProviderId.OPENAI)
    assert found is not None
    assert (found.value, found.source) == (OPENAI_KEY, "file")


async def test_a_hanging_keyring_is_abandoned_after_the_timeout(tmp_path: Path) -> None:
    backend = HangingKeyring()
    store = _store(tmp_path, backend, timeout=0.2)
    try:
        await store.load()
        await store.put(ProviderId.ANTHROPIC, KEY)
    finally:
        backend.release.set()
    assert "did not answer within 0.2 s" in (store.keyring_problem or "")
    assert store.store_name == "file"
    found = store.key(ProviderId.ANTHROPIC)
    assert found is not None
    assert found.source == "file"


async def test_the_fail_backend_counts_as_no_keyring(tmp_path: Path) -> None:
    from keyring.backends.fail import Keyring as FailKeyring

    store = _store(tmp_path, FailKeyring())  # type: ignore[no-untyped-call]
    await store.load()
    assert store.store_name == "file"


async def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    store = _store(tmp_path, NoBackendKeyring())
    await store.load()
    await store.put(ProviderId.OPENAI, OPENAI_KEY)
    os.chmod(tmp_path / "credentials.json", 0o644)
    reloaded = _store(tmp_path, NoBackendKeyring())
    await reloaded.load()
    assert reloaded.key(ProviderId.OPENAI) is None
    problem = reloaded.problem()
    assert problem is not None
    assert "chmod 600" in problem.remediation
    assert OPENAI_KEY not in problem.message
    with pytest.raises(ProviderError) as refused:
        await reloaded.put(ProviderId.ANTHROPIC, KEY)
    assert "chmod" in refused.value.remediation


async def test_a_corrupt_key_file_is_kept_aside_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "credentials.json"
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    os.write(fd, b"{not json")
    os.close(fd)
    store = _store(tmp_path, NoBackendKeyring())
    await store.load()
    assert store.damage is not None  # reported, and the file kept aside at once
    assert str(path) in store.damage.message
    assert store.problem() is None
    await store.put(ProviderId.OPENAI, OPENAI_KEY)
    kept = sorted(tmp_path.glob("credentials.json.corrupt-*"))  # noqa: ASYNC240
    assert len(kept) == 1
    assert kept[0].read_bytes() == b"{not json"
    assert oct(kept[0].stat().st_mode & 0o777) == "0o600"
    assert store.key(ProviderId.OPENAI) is not None


async def test_environment_keys_sit_below_stored_keys(tmp_path: Path) -> None:
    env = {
        "ANTHROPIC_API_KEY": "sk-ant-from-environment-0000",
        "OPENAI_API_KEY": "sk-env-openai-1111",
    }
    store = _store(tmp_path, MemoryKeyring(), env)
    await store.load()
    env_key = store.key(ProviderId.ANTHROPIC)
    assert env_key is not None
    assert env_key.source == "env"
    await store.put(ProviderId.ANTHROPIC, KEY)
    stored = store.key(ProviderId.ANTHROPIC)
    assert stored is not None
    assert stored.value == KEY
    await store.delete(ProviderId.ANTHROPIC)
    back = store.key(ProviderId.ANTHROPIC)
    assert back is not None
    assert back.source == "env"


async def test_delete_forgets_the_key_from_every_store(tmp_path: Path) -> None:
    backend = MemoryKeyring()
    file_store = _store(tmp_path, NoBackendKeyring())
    await file_store.load()
    await file_store.put(ProviderId.OPENAI, OPENAI_KEY)
    backend.entries[(SERVICE, "openai")] = "sk-another-openai-key-2222"
    store = _store(tmp_path, backend)
    await store.load()
    assert await store.delete(ProviderId.OPENAI) is True
    assert store.key(ProviderId.OPENAI) is None
    assert backend.entries == {}
    assert json.loads((tmp_path / "credentials.json").read_text())["keys"] == {}
    assert await store.delete(ProviderId.OPENAI) is False


@pytest.mark.parametrize(
    ("provider", "value", "fragment"),
    [
        (ProviderId.ANTHROPIC, "", "empty"),
        (ProviderId.ANTHROPIC, "sk-ant-api03 with-space", "whitespace"),
        (ProviderId.OPENAI, "sk-\nabcdefgh", "whitespace"),
        (ProviderId.OPENAI, "short", "8 to 512"),
        (ProviderId.OPENAI, "x" * 600, "8 to 512"),
        (ProviderId.OPENAI, "sk-abc<script>def", "characters"),
        (ProviderId.ANTHROPIC, "sk-ant-oat01-subscription-token", "subscription"),
        (ProviderId.OPENAI, "sk-ant-api03-misplaced-key", "Anthropic key"),
    ],
)
def test_key_shapes_are_checked_without_echoing_the_key(
    provider: ProviderId, value: str, fragment: str
) -> None:
    with pytest.raises(ProviderError) as refused:
        check_key_shape(provider, value)
    assert refused.value.code is ErrorCode.INVALID_REQUEST
    assert refused.value.status == 422
    assert fragment in refused.value.message
    if len(value) >= 8:
        assert value not in refused.value.message
