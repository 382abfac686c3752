"""Demo mode: both fake upstreams in-process on loopback, demo credentials in both auth modes,
and nothing read from or written to the user's real keyring, home or provider tooling.

What a newcomer sees: Anthropic on a token session (an `ant` profile made for the demo),
OpenAI on its API key with the fallback applied (its Codex sign-in is a ChatGPT plan, off by
default), streaming, tool calls, and errors on demand (a prompt of `!status 529`).
"""

from __future__ import annotations

import base64
import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from adapters.anthropic.fake import AnthropicAuth, FakeAnthropic
from adapters.openai.fake import FakeOpenAI, OpenAIAuth
from contracts.base import BUILT_IN, AuthMode, ProviderId
from contracts.providers import ProviderSettings

ANTHROPIC_KEY = "sk-ant-api03-demo-key-not-a-secret-0000"
OPENAI_KEY = "sk-proj-demo-key-not-a-secret-1111"
ANTHROPIC_SESSION = "sk-ant-oat01-demo-session-not-a-secret"
CHATGPT_SESSION = "demo-chatgpt-session-not-a-secret"


def _bind() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    return sock


def _write(path: Path, data: Any, mode: int = 0o600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle)


def _jwt(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none'})}.{part(claims)}.ZGVtbw"


class Demo:
    """The demo's upstreams and files; its sockets are bound at once, so URLs are known early."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._sockets = (_bind(), _bind())
        ports = [s.getsockname()[1] for s in self._sockets]
        self.anthropic_url = f"http://127.0.0.1:{ports[0]}"
        self.openai_url = f"http://127.0.0.1:{ports[1]}"
        self.anthropic = FakeAnthropic(
            AnthropicAuth(api_keys={ANTHROPIC_KEY}, oauth_tokens={ANTHROPIC_SESSION}), thinking=True
        )
        self.openai = FakeOpenAI(
            OpenAIAuth(api_keys={OPENAI_KEY}, chatgpt_tokens={CHATGPT_SESSION})
        )

    @property
    def home(self) -> Path:
        return self.folder / "home"

    def env(self) -> dict[str, str]:
        """The environment the demo daemon runs with (the SDKs read some of it themselves)."""
        return {
            "HOME": str(self.home),
            "ANTHROPIC_BASE_URL": self.anthropic_url,
            "OPENAI_BASE_URL": f"{self.openai_url}/v1",
            "KATA_PROVIDERS_CODEX_BASE_URL": f"{self.openai_url}/backend-api/codex",
            "ANTHROPIC_CONFIG_DIR": str(self.home / ".config" / "anthropic"),
            "CODEX_HOME": str(self.home / ".codex"),
            "CLAUDE_CONFIG_DIR": str(self.home / ".claude"),
        }

    def write_sessions(self) -> None:
        """An `ant auth login` profile for Anthropic and a ChatGPT-plan Codex sign-in."""
        config = self.home / ".config" / "anthropic"
        _write(
            config / "configs" / "default.json",
            {"authentication": {"type": "user_oauth"}, "workspace_id": "wrk_demo"},
            0o644,
        )
        _write(
            config / "credentials" / "default.json",
            {
                "version": 1,
                "type": "oauth_token",
                "access_token": ANTHROPIC_SESSION,
                "expires_at": int(time.time()) + 8 * 3600,
            },
        )
        claims = {
            "email": "newcomer@example.com",
            "https://api.openai.com/auth": {"chatgpt_plan_type": "plus"},
        }
        _write(
            self.home / ".codex" / "auth.json",
            {
                "auth_mode": "chatgpt",
                "OPENAI_API_KEY": None,
                "tokens": {
                    "id_token": _jwt(claims),
                    "access_token": _jwt({"exp": int(time.time()) + 86400}),
                    "account_id": "acct_demo",
                },
            },
        )

    @staticmethod
    def settings() -> dict[ProviderId, ProviderSettings]:
        """Both providers prefer their token session; OpenAI's falls back to its key."""
        return {p: ProviderSettings(preferred_auth_mode=AuthMode.TOKEN_SESSION) for p in BUILT_IN}

    @staticmethod
    def keys() -> dict[ProviderId, str]:
        return {ProviderId.ANTHROPIC: ANTHROPIC_KEY, ProviderId.OPENAI: OPENAI_KEY}

    async def start(self) -> None:
        await self.anthropic.start(sock=self._sockets[0])
        await self.openai.start(sock=self._sockets[1])

    async def stop(self) -> None:
        await self.anthropic.stop()
        await self.openai.stop()


USER_CREDENTIALS = (
    "ANTHROPIC_API_KEY",
    "OPENAI_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_PROFILE",
    "ANTHROPIC_CONFIG_DIR",
    "CODEX_HOME",
    "CLAUDE_CONFIG_DIR",
    "OPENAI_ORG_ID",
    "OPENAI_PROJECT_ID",
)


class DemoKeyring:
    """An in-memory keyring for the demo: demo keys never reach the user's real keyring."""

    priority = 1

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, user: str) -> str | None:
        return self._entries.get((service, user))

    def set_password(self, service: str, user: str, secret: str) -> None:
        self._entries[(service, user)] = secret

    def delete_password(self, service: str, user: str) -> None:
        from keyring.errors import PasswordDeleteError

        if self._entries.pop((service, user), None) is None:
            raise PasswordDeleteError(user)


def demo_runtime(config: Any) -> Any:
    """A runtime wired to the demo: its upstreams, files, keyring and environment."""
    from service.http.app import build_runtime
    from service.providers.credentials.keyring_access import KeyringAccess

    folder = config.data_dir
    demo = Demo(folder)
    demo.write_sessions()
    # A sandbox: none of the user's credentials, from the environment or anywhere else. The
    # SDKs read some of these variables themselves, so they leave the process's environment too.
    for name in USER_CREDENTIALS:
        os.environ.pop(name, None)
    env = {**os.environ, **demo.env()}
    os.environ.update(demo.env())  # the SDKs read their profile and base-URL variables themselves
    backend = DemoKeyring()
    return build_runtime(
        config,
        keyring=KeyringAccess(lambda: backend),
        env=env,
        home=demo.home,
        demo=demo,
    )
