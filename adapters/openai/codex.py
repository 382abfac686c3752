"""Reading the Codex CLI sign-in at request time (re-read on every call: the CLI rotates it)."""

from __future__ import annotations

import json
from pathlib import Path

from contracts.base import ProviderId
from contracts.errors import SessionFailed

CODEX_BASE_URL = "https://chatgpt.com/backend-api/codex"


def read_codex_account(path: Path) -> str:
    """The ChatGPT account id the Codex backend wants in `ChatGPT-Account-ID`."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        account = data["tokens"]["account_id"]
    except (OSError, ValueError, KeyError, TypeError):
        return ""
    return str(account) if account else ""


def read_codex_secret(path: Path, *, chatgpt: bool) -> str:
    """The API key (or, for the opt-in ChatGPT backend, the access token) in `auth.json`."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SessionFailed(
            f"The Codex sign-in at {path} cannot be read.",
            "Run `codex login`, or add an OpenAI API key.",
            provider=ProviderId.OPENAI,
        ) from exc
    tokens = data.get("tokens") if isinstance(data, dict) else None
    if chatgpt and isinstance(tokens, dict) and isinstance(tokens.get("access_token"), str):
        return str(tokens["access_token"])
    key = data.get("OPENAI_API_KEY") if isinstance(data, dict) else None
    if isinstance(key, str) and key:
        return key
    raise SessionFailed(
        f"The Codex sign-in at {path} holds no usable credential.",
        "Run `codex login --with-api-key`, or add an OpenAI API key.",
        provider=ProviderId.OPENAI,
    )
