"""Session detectors: state, source, expiry and account, never the secret; files never written."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.anthropic import sessions as anthropic_sessions
from adapters.openai import sessions as codex_sessions
from adapters.sessions import Session, SessionKind
from contracts.providers import TokenSessionStateName as State
from tests.sessions_fixtures import (
    CODEX_KEY,
    PROFILE_TOKEN,
    anthropic_profile,
    codex_api_key,
    codex_chatgpt,
    write_private,
)


def _env(home: Path, **extra: str) -> dict[str, str]:
    return {
        "ANTHROPIC_CONFIG_DIR": str(home / ".config" / "anthropic"),
        "CODEX_HOME": str(home / ".codex"),
        **extra,
    }


def _now() -> datetime:
    return datetime.now(UTC)


def _anthropic(home: Path, **extra: str) -> Session:
    return anthropic_sessions.detect(_env(home, **extra), home, _now())


def _codex(home: Path, enabled: bool = False, blob: str | None = None) -> Session:
    return codex_sessions.detect(
        _env(home), home, _now(), chatgpt_enabled=enabled, keyring_blob=blob
    )


def test_nothing_found_is_missing_with_a_remediation(tmp_path: Path) -> None:
    for session in (_anthropic(tmp_path), _codex(tmp_path)):
        assert session.state is State.MISSING
        assert session.remediation
        assert not session.usable


def test_anthropic_auth_token_from_the_environment(tmp_path: Path) -> None:
    session = _anthropic(tmp_path, ANTHROPIC_AUTH_TOKEN="env-bearer-token-value")
    assert session.state is State.ACTIVE
    assert session.kind is SessionKind.ANTHROPIC_ENV_TOKEN
    assert session.source == "env:ANTHROPIC_AUTH_TOKEN"
    assert "env-bearer-token-value" not in repr(session.to_contract())


@pytest.mark.parametrize(
    ("expires_in", "client_id", "state", "usable"),
    [
        (3600, None, State.ACTIVE, True),
        (60, None, State.EXPIRING, True),
        (-60, None, State.EXPIRED, False),
        (-60, "client-abc", State.EXPIRED, True),
    ],
)
def test_anthropic_profile_expiry(
    tmp_path: Path, expires_in: float, client_id: str | None, state: State, usable: bool
) -> None:
    anthropic_profile(
        tmp_path / ".config" / "anthropic", expires_in=expires_in, client_id=client_id
    )
    session = _anthropic(tmp_path)
    assert session.kind is SessionKind.ANTHROPIC_PROFILE
    assert session.state is state
    assert session.usable is usable
    assert session.profile == "default"
    assert session.account == "profile default (workspace wrk_demo)"
    assert session.expires_at is not None
    assert PROFILE_TOKEN not in str(session.to_contract().model_dump())


def test_the_active_profile_is_chosen_as_the_sdk_chooses_it(tmp_path: Path) -> None:
    folder = tmp_path / ".config" / "anthropic"
    anthropic_profile(folder, "default")
    anthropic_profile(folder, "work", workspace="wrk_work", active=True)
    anthropic_profile(folder, "explicit", workspace="wrk_explicit")
    assert _anthropic(tmp_path).profile == "work"
    assert _anthropic(tmp_path, ANTHROPIC_PROFILE="explicit").profile == "explicit"


def test_an_explicit_profile_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    session = _anthropic(tmp_path, ANTHROPIC_PROFILE="nope")
    assert session.state is State.ERROR
    assert "nope" in (session.remediation or "")


@pytest.mark.parametrize(
    "content", ["{not json", "[1, 2]", '{"authentication": {"type": "magic"}}']
)
def test_a_malformed_profile_is_an_error_naming_the_file(tmp_path: Path, content: str) -> None:
    path = write_private(tmp_path / ".config" / "anthropic" / "configs" / "default.json", content)
    session = _anthropic(tmp_path)
    assert session.state is State.ERROR
    assert str(path) in (session.remediation or "")


def test_an_unsafe_credentials_file_is_an_error_with_chmod(tmp_path: Path) -> None:
    creds = anthropic_profile(tmp_path / ".config" / "anthropic")
    os.chmod(creds, 0o644)
    session = _anthropic(tmp_path)
    assert session.state is State.ERROR
    assert f"chmod 600 {creds}" in (session.remediation or "")
    assert not session.usable


def test_a_symlinked_credentials_file_is_refused(tmp_path: Path) -> None:
    creds = anthropic_profile(tmp_path / ".config" / "anthropic")
    real = creds.with_name("real.json")
    creds.rename(real)
    creds.symlink_to(real)
    assert _anthropic(tmp_path).state is State.ERROR


@pytest.mark.parametrize("how", ["file", "config_dir", "env"])
def test_a_claude_code_login_is_not_permitted(tmp_path: Path, how: str) -> None:
    extra: dict[str, str] = {}
    if how == "file":
        write_private(
            tmp_path / ".claude" / ".credentials.json", {"claudeAiOauth": {"accessToken": "x"}}
        )
    elif how == "config_dir":
        write_private(tmp_path / "elsewhere" / ".credentials.json", {"claudeAiOauth": {}})
        extra["CLAUDE_CONFIG_DIR"] = str(tmp_path / "elsewhere")
    else:
        extra["CLAUDE_CODE_OAUTH_TOKEN"] = "sk-ant-oat01-claude-code-token"
    session = _anthropic(tmp_path, **extra)
    assert session.state is State.NOT_PERMITTED
    assert session.kind is SessionKind.CLAUDE_CODE
    assert not session.usable
    assert "ant auth login" in (session.remediation or "")
    assert "does not permit" in (session.remediation or "")


def test_a_permitted_profile_wins_over_a_claude_code_login(tmp_path: Path) -> None:
    write_private(tmp_path / ".claude" / ".credentials.json", {"claudeAiOauth": {}})
    anthropic_profile(tmp_path / ".config" / "anthropic")
    assert _anthropic(tmp_path).kind is SessionKind.ANTHROPIC_PROFILE


def test_codex_api_key_sign_in_is_usable(tmp_path: Path) -> None:
    path = codex_api_key(tmp_path / ".codex")
    session = _codex(tmp_path)
    assert session.state is State.ACTIVE
    assert session.kind is SessionKind.CODEX_API_KEY
    assert session.source == str(path)
    assert CODEX_KEY not in str(session.to_contract().model_dump())
    assert session.account == f"Codex CLI API key …{CODEX_KEY[-4:]}"


def test_codex_chatgpt_sign_in_is_disabled_unless_opted_in(tmp_path: Path) -> None:
    codex_chatgpt(tmp_path / ".codex")
    off = _codex(tmp_path)
    on = _codex(tmp_path, enabled=True)
    assert off.state is State.DISABLED
    assert "openai_chatgpt_backend" in (off.remediation or "")
    assert not off.usable
    assert on.state is State.ACTIVE
    assert on.usable
    assert on.account == "dev@example.com (plus)"
    assert on.expires_at is not None


def test_an_expired_codex_chatgpt_sign_in_says_how_to_renew(tmp_path: Path) -> None:
    codex_chatgpt(tmp_path / ".codex", expires_in=-10)
    session = _codex(tmp_path, enabled=True)
    assert session.state is State.EXPIRED
    assert "codex login" in (session.remediation or "")


def test_codex_keyring_entry_is_used_when_there_is_no_file(tmp_path: Path) -> None:
    session = _codex(tmp_path, blob='{"OPENAI_API_KEY": "sk-from-keyring-entry-1234"}')
    assert session.state is State.ACTIVE
    assert session.source == "keyring:Codex Auth"


def test_codex_keyring_account_follows_the_codex_rule(tmp_path: Path) -> None:
    import hashlib

    (tmp_path / ".codex").mkdir()
    expected = hashlib.sha256(os.path.realpath(tmp_path / ".codex").encode()).hexdigest()[:16]
    assert codex_sessions.keyring_account(_env(tmp_path), tmp_path) == f"cli|{expected}"


@pytest.mark.parametrize("content", ["{broken", '"a string"', '{"auth_mode": "chatgpt"}'])
def test_a_malformed_codex_file_is_an_error(tmp_path: Path, content: str) -> None:
    write_private(tmp_path / ".codex" / "auth.json", content)
    session = _codex(tmp_path)
    assert session.state is State.ERROR
    assert session.remediation


def test_detectors_never_write_other_tools_files(tmp_path: Path) -> None:
    creds = anthropic_profile(tmp_path / ".config" / "anthropic", expires_in=-60, client_id="cid")
    auth = codex_chatgpt(tmp_path / ".codex", expires_in=-60)
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (creds, auth)}
    for _ in range(3):
        _anthropic(tmp_path)
        _codex(tmp_path, enabled=True)
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (creds, auth)} == before
