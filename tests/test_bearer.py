"""Token sessions on the direct path (`adapters/anthropic/bearer.py`): which tokens go without the
SDK, which need it (refresh, federation, a base URL of their own), that a refused token moves to
the SDK's path, and that a token session's first request never imports the SDK."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from adapters.anthropic.bearer import ADVISORY_REFRESH_S, OAUTH_BETA, bearer
from adapters.base import Credential
from contracts.base import AuthMode
from tests.sessions_fixtures import PROFILE_TOKEN, anthropic_profile, write_private

PROFILE = Credential(AuthMode.TOKEN_SESSION, profile="default")


def _config(home: Path) -> Path:
    return home / ".config" / "anthropic"


def test_the_constants_are_the_installed_sdks() -> None:
    from anthropic.lib.credentials import _constants

    assert ADVISORY_REFRESH_S == _constants.ADVISORY_REFRESH_SECONDS
    assert OAUTH_BETA == _constants.OAUTH_API_BETA_HEADER


def test_an_externally_rotated_profile_goes_on_the_wire_even_near_expiry(
    isolated_home: Path,
) -> None:
    anthropic_profile(_config(isolated_home), expires_in=30)
    found = bearer(PROFILE)
    assert found is not None
    assert found.token == PROFILE_TOKEN
    assert found.headers == {"anthropic-workspace-id": "wrk_demo"}
    assert PROFILE_TOKEN not in repr(found)


@pytest.mark.parametrize(
    ("expires_in", "wire"), [(ADVISORY_REFRESH_S + 60, True), (ADVISORY_REFRESH_S - 1, False)]
)
def test_a_refreshable_profile_needs_the_sdk_inside_its_refresh_window(
    isolated_home: Path, expires_in: float, wire: bool
) -> None:
    anthropic_profile(_config(isolated_home), expires_in=expires_in, client_id="client-1")
    assert (bearer(PROFILE) is not None) is wire


def test_federation_a_base_url_of_its_own_and_unsafe_files_take_the_sdks_path(
    isolated_home: Path,
) -> None:
    folder = _config(isolated_home)
    anthropic_profile(folder, base_url="https://elsewhere.example")
    assert bearer(PROFILE) is None
    anthropic_profile(folder)
    assert bearer(PROFILE) is not None
    os.chmod(folder / "credentials" / "default.json", 0o644)
    assert bearer(PROFILE) is None
    write_private(
        folder / "configs" / "default.json", {"authentication": {"type": "oidc_federation"}}
    )
    assert bearer(PROFILE) is None


def test_an_env_token_is_read_when_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    credential = Credential(AuthMode.TOKEN_SESSION, env_token="ANTHROPIC_AUTH_TOKEN")
    assert bearer(credential) is None
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "tok-1")
    found = bearer(credential)
    assert found is not None
    assert found.token == "tok-1"


async def test_a_token_the_provider_refuses_on_the_wire_goes_to_the_sdk_next(
    isolated_home: Path,
) -> None:
    from adapters.anthropic.adapter import AnthropicAdapter
    from adapters.anthropic.fake import AnthropicAuth, FakeAnthropic
    from contracts.errors import ProviderError
    from contracts.executions import ExecutionRequest

    anthropic_profile(_config(isolated_home), client_id="client-1")
    fake = FakeAnthropic(AnthropicAuth(oauth_tokens=set()))  # revoked upstream
    request = ExecutionRequest.model_validate({"messages": [{"role": "user", "content": "hi"}]})
    await fake.start()
    try:
        adapter = AnthropicAdapter(fake.url)
        with pytest.raises(ProviderError) as refused:
            async for _ in adapter.stream(request, "claude-sonnet-5-5", PROFILE):
                pass
        assert refused.value.upstream_status == 401
        assert adapter._bearer(PROFILE) is None  # the SDK's path now: it refreshes on a 401
        await adapter.aclose()
    finally:
        await fake.stop()
    assert all(r.headers.get("authorization") for r in fake.requests)


async def test_a_token_nothing_can_refresh_stays_on_the_wire_when_refused(
    isolated_home: Path,
) -> None:
    """An externally rotated profile: the SDK would only re-read the same file, so a 401 does
    not send later requests (and 45 MB of import) its way."""
    from adapters.anthropic.adapter import AnthropicAdapter
    from adapters.anthropic.fake import AnthropicAuth, FakeAnthropic
    from contracts.errors import ProviderError
    from contracts.executions import ExecutionRequest

    anthropic_profile(_config(isolated_home))
    fake = FakeAnthropic(AnthropicAuth(oauth_tokens=set()))
    request = ExecutionRequest.model_validate({"messages": [{"role": "user", "content": "hi"}]})
    await fake.start()
    try:
        adapter = AnthropicAdapter(fake.url)
        with pytest.raises(ProviderError):
            async for _ in adapter.stream(request, "claude-sonnet-5-5", PROFILE):
                pass
        assert adapter._bearer(PROFILE) is not None
        await adapter.aclose()
    finally:
        await fake.stop()


def test_a_token_sessions_first_request_never_imports_the_sdk(tmp_path: Path) -> None:
    """In a process of its own (this one has the SDK loaded): a profile's request, and the
    session's detection, end with `anthropic` still unimported."""
    home = tmp_path / "home"
    anthropic_profile(home / ".config" / "anthropic", active=True)
    script = """
import asyncio, json, sys
from adapters.anthropic.adapter import AnthropicAdapter
from adapters.anthropic.fake import AnthropicAuth, FakeAnthropic
from adapters.base import Credential
from contracts.base import AuthMode
from contracts.executions import ExecutionRequest

async def main():
    fake = FakeAnthropic(AnthropicAuth(oauth_tokens={sys.argv[1]}))
    await fake.start()
    adapter = AnthropicAdapter(fake.url)
    credential = Credential(AuthMode.TOKEN_SESSION, profile="default")
    await adapter.warm(credential)
    ask = {"messages": [{"role": "user", "content": "hi"}]}
    request = ExecutionRequest.model_validate(ask)
    events = [e async for e in adapter.stream(request, "claude-sonnet-5-5", credential)]
    models = await adapter.list_models(credential)
    await adapter.aclose()
    await fake.stop()
    sdk = "anthropic" in sys.modules
    print(json.dumps({"events": len(events), "models": len(models), "sdk": sdk}))

asyncio.run(main())
"""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "ANTHROPIC_CONFIG_DIR": str(home / ".config" / "anthropic"),
    }
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", script, PROFILE_TOKEN],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["events"] > 0
    assert result["models"] > 0
    assert result["sdk"] is False, f"the SDK was imported ({time.perf_counter() - started:.2f} s)"
