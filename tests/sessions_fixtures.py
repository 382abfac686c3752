"""Writing the files that providers' own tooling leaves behind, as they write them."""

from __future__ import annotations

import base64
import json
import os
import time
from pathlib import Path
from typing import Any

PROFILE_TOKEN = "sk-ant-oat01-distinctive-profile-token-Hq8"
REFRESH_TOKEN = "sk-ant-ort01-distinctive-refresh-token-Lm4"
CODEX_KEY = "sk-proj-distinctive-codex-key-Vb6n"


def write_private(path: Path, data: Any, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as handle:
        handle.write(data if isinstance(data, str) else json.dumps(data))
    os.chmod(path, mode)
    return path


def anthropic_profile(
    config_dir: Path,
    name: str = "default",
    *,
    expires_in: float = 3600,
    client_id: str | None = None,
    workspace: str | None = "wrk_demo",
    base_url: str | None = None,
    active: bool = False,
) -> Path:
    """An `ant auth login` profile: configs/<name>.json and credentials/<name>.json (0600)."""
    auth: dict[str, Any] = {"type": "user_oauth"}
    if client_id:
        auth["client_id"] = client_id
    config: dict[str, Any] = {"authentication": auth}
    if workspace:
        config["workspace_id"] = workspace
    if base_url:
        config["base_url"] = base_url
    write_private(config_dir / "configs" / f"{name}.json", config, 0o644)
    creds = {
        "version": 1,
        "type": "oauth_token",
        "access_token": PROFILE_TOKEN,
        "expires_at": int(time.time() + expires_in),
        "refresh_token": REFRESH_TOKEN,
    }
    path = write_private(config_dir / "credentials" / f"{name}.json", creds)
    if active:
        (config_dir / "active_config").write_text(name)
    return path


def jwt(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none'})}.{part(claims)}.c2lnbmF0dXJl"


def codex_chatgpt(codex_home: Path, *, expires_in: float = 86400, plan: str = "plus") -> Path:
    """A Codex CLI ChatGPT sign-in."""
    auth_claim = {"chatgpt_plan_type": plan, "chatgpt_account_id": "acct_123"}
    data = {
        "auth_mode": "chatgpt",
        "OPENAI_API_KEY": None,
        "tokens": {
            "id_token": jwt(
                {"email": "dev@example.com", "https://api.openai.com/auth": auth_claim}
            ),
            "access_token": jwt({"exp": int(time.time() + expires_in)}),
            "refresh_token": "rt-distinctive-codex-refresh-Xy1",
            "account_id": "acct_123",
        },
        "last_refresh": "2026-11-27T10:00:00Z",
    }
    return write_private(codex_home / "auth.json", data)


def codex_api_key(codex_home: Path, key: str = CODEX_KEY) -> Path:
    """A Codex CLI API-key sign-in."""
    return write_private(codex_home / "auth.json", {"auth_mode": "apikey", "OPENAI_API_KEY": key})
