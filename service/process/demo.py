"""Demo mode: the built-in providers' fakes (each its wire's) in-process on loopback, demo
credentials in both auth modes, and nothing read from or written to the user's real keyring,
home or provider tooling.

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

from adapters.openai.wire import CODEX_BASE_URL_ENV
from adapters.specs import SPECS
from adapters.wire import FakeCredentials
from adapters.wires import Wires
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


# What each built-in provider's fake accepts in the demo: its API key, and the session token
# its tooling holds there.
DEMO_CREDENTIALS = {
    ProviderId.ANTHROPIC: (ANTHROPIC_KEY, ANTHROPIC_SESSION),
    ProviderId.OPENAI: (OPENAI_KEY, CHATGPT_SESSION),
}


class Demo:
    """The demo's upstreams (each built-in provider's wire's fake) and files; its sockets are
    bound at once, so URLs are known early."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        wires = Wires()
        self._sockets = {spec.id: _bind() for spec in SPECS.values()}
        self.urls = {
            provider: f"http://127.0.0.1:{sock.getsockname()[1]}"
            for provider, sock in self._sockets.items()
        }
        self._sdk_paths = {spec.id: wires.get(spec.wire).sdk_path for spec in SPECS.values()}
        self.fakes = {
            spec.id: wires.get(spec.wire).fake(
                FakeCredentials(
                    frozenset({DEMO_CREDENTIALS[spec.id][0]}),
                    frozenset({DEMO_CREDENTIALS[spec.id][1]}),
                    demo=True,
                )
            )
            for spec in SPECS.values()
        }

    @property
    def home(self) -> Path:
        return self.folder / "home"

    def env(self) -> dict[str, str]:
        """The environment the demo daemon runs with (the SDKs read some of it themselves)."""
        return {
            "HOME": str(self.home),
            **{
                SPECS[provider].base_url_env: url + self._sdk_paths[provider]
                for provider, url in self.urls.items()
            },
            CODEX_BASE_URL_ENV: f"{self.urls[ProviderId.OPENAI]}/backend-api/codex",
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
        return {provider: key for provider, (key, _) in DEMO_CREDENTIALS.items()}

    async def start(self) -> None:
        for provider, fake in self.fakes.items():
            await fake.start(sock=self._sockets[provider])

    async def stop(self) -> None:
        for fake in self.fakes.values():
            await fake.stop()


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
