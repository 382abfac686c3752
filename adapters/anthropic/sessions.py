"""Anthropic sessions: `ANTHROPIC_AUTH_TOKEN`, `ant auth login` profiles, and Claude Code logins
(detected only to explain that Anthropic does not permit their use by other applications).

Profiles are chosen as the SDK chooses them: `ANTHROPIC_PROFILE`, else `<dir>/active_config`,
else `default`, under `ANTHROPIC_CONFIG_DIR` (default `~/.config/anthropic`).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from adapters.base import Credential
from adapters.private_files import UnsafeFileError, check_private
from adapters.sessions import (
    DetectContext,
    Session,
    SessionKind,
    epoch_to_datetime,
    expiry_state,
    missing,
)
from contracts.base import AuthMode
from contracts.providers import TokenSessionStateName as State

PROFILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
LOGIN = "Run `ant auth login` to sign in with Anthropic's CLI, or add an API key."
NOT_PERMITTED = (
    "A Claude Code (Claude.ai subscription) login was found. Anthropic does not permit other "
    "applications to use it, and its API rejects such tokens. " + LOGIN
)


def config_dir(env: Mapping[str, str], home: Path) -> Path:
    """Where Anthropic's CLI keeps profiles."""
    value = env.get("ANTHROPIC_CONFIG_DIR")
    return Path(value).expanduser() if value else home / ".config" / "anthropic"


def claude_dir(env: Mapping[str, str], home: Path) -> Path:
    """Where Claude Code keeps its login."""
    value = env.get("CLAUDE_CONFIG_DIR")
    return Path(value).expanduser() if value else home / ".claude"


def watched_paths(env: Mapping[str, str], home: Path) -> list[Path]:
    """Folders whose changes can change the Anthropic session."""
    return [config_dir(env, home), claude_dir(env, home)]


def detect(env: Mapping[str, str], home: Path, now: datetime) -> Session:
    """The Anthropic session in force, in the SDK's order of precedence."""
    if env.get("ANTHROPIC_AUTH_TOKEN", "").strip():
        return Session(
            State.ACTIVE,
            SessionKind.ANTHROPIC_ENV_TOKEN,
            source="env:ANTHROPIC_AUTH_TOKEN",
            account="bearer token from the environment",
        )
    profile = _detect_profile(env, home, now)
    if profile is not None:
        return profile
    claude = _detect_claude_code(env, home)
    if claude is not None:
        return claude
    return missing(LOGIN)


def _active_profile(env: Mapping[str, str], folder: Path) -> tuple[str, bool]:
    explicit = env.get("ANTHROPIC_PROFILE", "").strip()
    if explicit:
        return explicit, True
    try:
        pointer = (folder / "active_config").read_text(encoding="utf-8").strip()
    except OSError:
        pointer = ""
    return (pointer, True) if pointer else ("default", False)


def _error(path: Path, message: str, remediation: str, profile: str | None = None) -> Session:
    return Session(
        State.ERROR,
        SessionKind.ANTHROPIC_PROFILE,
        source=str(path),
        profile=profile,
        remediation=f"{message} {remediation}",
        path=path,
    )


def _detect_profile(env: Mapping[str, str], home: Path, now: datetime) -> Session | None:
    folder = config_dir(env, home)
    name, chosen = _active_profile(env, folder)
    config_path = folder / "configs" / f"{name}.json"
    if not PROFILE_NAME.match(name):
        return _error(folder, f"The profile name {name!r} is not valid.", LOGIN)
    if not config_path.exists():
        if chosen:
            return _error(config_path, f"Profile {name!r} has no config file.", LOGIN, name)
        return None
    try:
        check_private(config_path, writable_only=True)
        config = _json_object(config_path)
    except UnsafeFileError as exc:
        return _error(exc.path, f"{exc.path} {exc.reason}.", exc.remediation, name)
    except ValueError as exc:
        return _error(config_path, f"{config_path} is not a valid profile ({exc}).", LOGIN, name)
    auth = config.get("authentication")
    auth_type = auth.get("type") if isinstance(auth, dict) else None
    label = _account(name, config)
    if auth_type == "oidc_federation":
        return Session(
            State.ACTIVE,
            SessionKind.ANTHROPIC_PROFILE,
            source=str(config_path),
            account=label,
            profile=name,
            path=config_path,
        )
    if auth_type != "user_oauth" or not isinstance(auth, dict):
        return _error(
            config_path,
            f"{config_path} has an unknown authentication type {auth_type!r}.",
            LOGIN,
            name,
        )
    override = auth.get("credentials_path")
    creds_path = (
        Path(str(override)).expanduser() if override else folder / "credentials" / f"{name}.json"
    )
    try:
        check_private(creds_path)
        creds = _json_object(creds_path)
    except FileNotFoundError:
        return _error(creds_path, f"Profile {name!r} has no credentials file.", LOGIN, name)
    except UnsafeFileError as exc:
        return _error(exc.path, f"{exc.path} {exc.reason}.", exc.remediation, name)
    except ValueError as exc:
        return _error(creds_path, f"{creds_path} is not valid ({exc}).", LOGIN, name)
    if not creds.get("access_token"):
        return _error(creds_path, f"{creds_path} holds no access token.", LOGIN, name)
    expires_at = epoch_to_datetime(creds.get("expires_at"))
    refreshable = bool(auth.get("client_id")) and bool(creds.get("refresh_token"))
    state = expiry_state(expires_at, now)
    remediation = None
    if state is State.EXPIRED:
        remediation = (
            "The access token has expired; it is refreshed on the next request."
            if refreshable
            else "The session has expired. Run `ant auth login` to renew it."
        )
    return Session(
        state,
        SessionKind.ANTHROPIC_PROFILE,
        source=str(creds_path),
        expires_at=expires_at,
        account=label,
        remediation=remediation,
        refreshable=refreshable,
        profile=name,
        path=creds_path,
    )


def _account(name: str, config: dict[str, Any]) -> str:
    workspace = config.get("workspace_id")
    return f"profile {name}" + (f" (workspace {workspace})" if workspace else "")


def _json_object(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON at line {exc.lineno}") from None
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return data


def _detect_claude_code(env: Mapping[str, str], home: Path) -> Session | None:
    if env.get("CLAUDE_CODE_OAUTH_TOKEN", "").strip():
        source = "env:CLAUDE_CODE_OAUTH_TOKEN"
    else:
        path = claude_dir(env, home) / ".credentials.json"
        if not path.exists():
            return None
        source = str(path)
    return Session(
        State.NOT_PERMITTED,
        SessionKind.CLAUDE_CODE,
        source=source,
        account="Claude Code login",
        remediation=NOT_PERMITTED,
    )


class AnthropicSessions:
    """The Anthropic `SessionSource`: profiles and `ANTHROPIC_AUTH_TOKEN`, which the SDK reads
    itself (a Claude Code login is found only to be explained, never used)."""

    def watched_paths(self, env: Mapping[str, str], home: Path) -> list[Path]:
        return watched_paths(env, home)

    async def detect(self, context: DetectContext) -> Session:
        return await asyncio.to_thread(detect, context.env, context.home, context.now)

    def credential(self, session: Session) -> Credential:
        if session.kind is SessionKind.ANTHROPIC_ENV_TOKEN:
            return Credential(
                AuthMode.TOKEN_SESSION, session.source, env_token="ANTHROPIC_AUTH_TOKEN"
            )
        return Credential(AuthMode.TOKEN_SESSION, session.source, profile=session.profile)
