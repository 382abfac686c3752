"""The Codex CLI sign-in: `$CODEX_HOME/auth.json` (default `~/.codex`), else its keyring entry.

An API key in it is used against the OpenAI API. ChatGPT-plan tokens only work against the
Codex backend, which OpenAI has not documented for third parties, so they are used only when
the `openai_chatgpt_backend` setting is on. The file is read, never written: its refresh tokens
are single use, and a refresh written back by us could log the user's CLI out.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import os
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
    jwt_claims,
    missing,
)
from contracts.base import AuthMode
from contracts.providers import TokenSessionStateName as State

KEYRING_SERVICE = "Codex Auth"
LOGIN = "Run `codex login --with-api-key`, or add an OpenAI API key."
DISABLED = (
    "This Codex sign-in uses a ChatGPT plan, whose tokens only work through the Codex backend, "
    "which OpenAI has not documented for other applications. Turn on the "
    "openai_chatgpt_backend setting to use it anyway, or add an OpenAI API key."
)
RENEW = "The ChatGPT sign-in has expired. Run `codex login` (or any codex command) to renew it."


def codex_home(env: Mapping[str, str], home: Path) -> Path:
    """Where the Codex CLI keeps its sign-in."""
    value = env.get("CODEX_HOME")
    return Path(value).expanduser() if value else home / ".codex"


def auth_file(env: Mapping[str, str], home: Path) -> Path:
    """The Codex sign-in file."""
    return codex_home(env, home) / "auth.json"


def keyring_account(env: Mapping[str, str], home: Path) -> str:
    """The account name the Codex CLI uses for its keyring entry."""
    folder = codex_home(env, home)
    canonical = os.path.realpath(folder) if folder.exists() else str(folder)
    return "cli|" + hashlib.sha256(canonical.encode()).hexdigest()[:16]


def detect(
    env: Mapping[str, str],
    home: Path,
    now: datetime,
    *,
    chatgpt_enabled: bool,
    keyring_blob: str | None = None,
) -> Session:
    """The Codex session, from its file or (when there is no file) its keyring entry."""
    path = auth_file(env, home)
    source = str(path)
    try:
        check_private(path)
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if keyring_blob is None:
            return missing(LOGIN)
        source = f"keyring:{KEYRING_SERVICE}"
        try:
            data = json.loads(keyring_blob)
        except ValueError:
            return _error(source, "The Codex keyring entry is not valid JSON.", path)
    except UnsafeFileError as exc:
        return _error(source, f"{exc.path} {exc.reason}.", path, exc.remediation)
    except (ValueError, OSError):
        return _error(source, f"{path} is not valid JSON.", path)
    if not isinstance(data, dict):
        return _error(source, f"{source} is not a JSON object.", path)
    return _classify(data, source, path, now, chatgpt_enabled)


def _classify(
    data: dict[str, Any], source: str, path: Path, now: datetime, chatgpt_enabled: bool
) -> Session:
    mode = data.get("auth_mode")
    api_key = data.get("OPENAI_API_KEY")
    tokens = data.get("tokens")
    if isinstance(api_key, str) and api_key and mode in (None, "apikey", "api_key"):
        return Session(
            State.ACTIVE,
            SessionKind.CODEX_API_KEY,
            source=source,
            account=f"Codex CLI API key …{api_key[-4:]}",
            path=path,
        )
    if not isinstance(tokens, dict) or not tokens.get("access_token"):
        return _error(source, f"{source} holds neither an API key nor ChatGPT tokens.", path)
    access = jwt_claims(tokens.get("access_token"))
    identity = jwt_claims(tokens.get("id_token"))
    auth_claims = identity.get("https://api.openai.com/auth")
    plan = auth_claims.get("chatgpt_plan_type") if isinstance(auth_claims, dict) else None
    email = identity.get("email")
    account = " ".join(str(part) for part in (email, f"({plan})" if plan else None) if part)
    expires_at = epoch_to_datetime(access.get("exp"))
    if not chatgpt_enabled:
        return Session(
            State.DISABLED,
            SessionKind.CODEX_CHATGPT,
            source=source,
            expires_at=expires_at,
            account=account or "ChatGPT sign-in",
            remediation=DISABLED,
            path=path,
        )
    state = expiry_state(expires_at, now)
    return Session(
        state,
        SessionKind.CODEX_CHATGPT,
        source=source,
        expires_at=expires_at,
        account=account or "ChatGPT sign-in",
        remediation=RENEW if state is State.EXPIRED else None,
        path=path,
    )


def _error(source: str, message: str, path: Path, remediation: str = LOGIN) -> Session:
    return Session(
        State.ERROR,
        None,
        source=source,
        remediation=f"{message} {remediation}",
        path=path,
    )


class CodexSessions:
    """The OpenAI `SessionSource`: the Codex CLI's sign-in file, else its keyring entry."""

    def watched_paths(self, env: Mapping[str, str], home: Path) -> list[Path]:
        return [codex_home(env, home)]

    async def detect(self, context: DetectContext) -> Session:
        env, home = context.env, context.home
        blob = None
        has_file = await asyncio.to_thread(auth_file(env, home).exists)
        if context.read_keyring is not None and not has_file:
            blob = await context.read_keyring(KEYRING_SERVICE, keyring_account(env, home))
        return await asyncio.to_thread(
            functools.partial(
                detect,
                env,
                home,
                context.now,
                chatgpt_enabled=context.chatgpt_backend,
                keyring_blob=blob,
            )
        )

    def credential(self, session: Session) -> Credential:
        return Credential(
            AuthMode.TOKEN_SESSION,
            session.source,
            token_file=session.path,
            chatgpt=session.kind is SessionKind.CODEX_CHATGPT,
        )
