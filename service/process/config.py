"""Daemon configuration: command-line flags over `KATA_PROVIDERS_*` environment variables."""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

MAX_BODY_BYTES = 4 * 1024 * 1024


def is_loopback(host: str) -> bool:
    """Whether `host` names only this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def default_data_dir() -> Path:
    """The platform's per-user data folder for the daemon."""
    import platformdirs  # deferred: only needed when KATA_PROVIDERS_HOME is unset

    return Path(platformdirs.user_data_dir("kata-providers", appauthor=False))


@dataclass(frozen=True)
class DaemonConfig:
    """Everything the daemon is told at start; built once by the CLI or a test."""

    token: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    host: str = "127.0.0.1"
    port: int = 0
    data_dir: Path = field(default_factory=default_data_dir)
    allow_origins: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    parent_pid: int | None = None
    demo: bool = False
    log_level: str = "INFO"
    log_format: str = "auto"  # text at a terminal, JSON lines otherwise
    max_body_bytes: int = MAX_BODY_BYTES
    sse_ping_s: float = 15.0
    event_buffer: int = 1024
    subscriber_queue: int = 256
    shutdown_grace_s: float = 10.0  # how long SIGTERM lets open executions finish
    max_retries: int = 2
    request_timeout_s: float = 600.0
    first_token_timeout_s: float = 120.0
    idle_timeout_s: float = 60.0
    queue_wait_s: float = 30.0  # longest wait for a slot when a request has no timeout_s
    # Up to which max_tokens a request taken whole is asked of the provider whole (Deadlines).
    whole_max_tokens: int = 4_096
    probe_interval_s: float = 0.0
    head_timeout_s: float = 10.0  # a request head not complete by then closes the connection
    max_connections: int = 1024
    ledger: bool = True  # keep finished executions (never their text) in ledger.sqlite3

    def __post_init__(self) -> None:
        if len(self.token) < 16:
            raise ValueError("the daemon token must be at least 16 characters")

    @property
    def loopback_only(self) -> bool:
        """Whether the daemon is bound where only this machine can reach it."""
        return is_loopback(self.host)


def load_env_config(environ: Mapping[str, str] | None = None) -> dict[str, object]:
    """The `KATA_PROVIDERS_*` environment variables, validated, as DaemonConfig fields. A plain
    pydantic model over the variables that are set (pydantic-settings, which did the same, cost
    7 MB of memory and 0.1 s of start-up)."""
    from typing import Literal

    from pydantic import BaseModel, ConfigDict, Field, SecretStr

    class EnvConfig(BaseModel):
        model_config = ConfigDict(extra="forbid")

        token: SecretStr | None = None
        home: Path | None = None
        log_level: (
            Literal["DEBUG", "INFO", "WARNING", "ERROR", "debug", "info", "warning", "error"] | None
        ) = None
        log_format: Literal["auto", "text", "json"] | None = None
        host: str | None = None
        port: int | None = Field(default=None, ge=0, le=65535)
        max_retries: int | None = None
        request_timeout_s: float | None = None
        first_token_timeout_s: float | None = None
        idle_timeout_s: float | None = None
        queue_wait_s: float | None = Field(default=None, gt=0, le=3600)
        whole_max_tokens: int | None = Field(default=None, ge=0, le=200_000)
        probe_interval_s: float | None = None
        shutdown_grace_s: float | None = None
        head_timeout_s: float | None = None
        max_connections: int | None = None
        ledger: bool | None = None

    environ = os.environ if environ is None else environ
    given = {
        name: environ[variable]
        for name in EnvConfig.model_fields
        if (variable := f"{ENV_PREFIX}{name.upper()}") in environ
    }
    env = EnvConfig.model_validate(given)
    fields: dict[str, object] = {
        name: getattr(env, name)
        for name in (
            "max_retries",
            "request_timeout_s",
            "first_token_timeout_s",
            "idle_timeout_s",
            "queue_wait_s",
            "whole_max_tokens",
            "probe_interval_s",
            "shutdown_grace_s",
            "head_timeout_s",
            "max_connections",
            "ledger",
            "log_format",
            "host",
            "port",
        )
        if getattr(env, name) is not None
    }
    if env.token is not None:
        fields["token"] = env.token.get_secret_value()
    if env.home is not None:
        fields["data_dir"] = env.home.expanduser()
    if env.log_level is not None:
        fields["log_level"] = env.log_level.upper()
    return fields


ENV_PREFIX = "KATA_PROVIDERS_"
# Every KATA_PROVIDERS_* variable anything reads; any other is a typo, warned about at start.
KNOWN_ENV = frozenset(
    f"{ENV_PREFIX}{name}"
    for name in [
        "TOKEN",
        "HOME",
        "LOG_LEVEL",
        "LOG_FORMAT",
        "HOST",
        "PORT",
        "URL",
        "MAX_RETRIES",
        "REQUEST_TIMEOUT_S",
        "FIRST_TOKEN_TIMEOUT_S",
        "IDLE_TIMEOUT_S",
        "QUEUE_WAIT_S",
        "WHOLE_MAX_TOKENS",
        "PROBE_INTERVAL_S",
        "SHUTDOWN_GRACE_S",
        "HEAD_TIMEOUT_S",
        "MAX_CONNECTIONS",
        "LEDGER",
        "OPENAI_WIRE_API",
        "CODEX_BASE_URL",
        "CHROMIUM",
        "FUZZ_EXAMPLES",
    ]
)


def unknown_env(environ: dict[str, str]) -> list[str]:
    """`KATA_PROVIDERS_*` variables that nothing reads (a typo, usually)."""
    return sorted(n for n in environ if n.startswith("KATA_PROVIDERS_") and n not in KNOWN_ENV)


def check_origin(origin: str) -> str:
    """Validate an `--allow-origin` value: an exact scheme://host[:port], never `null` or `*`."""
    from urllib.parse import urlsplit

    value = origin.strip().rstrip("/").lower()
    parts = urlsplit(value)
    if value in ("null", "*") or "*" in value or not parts.scheme or not parts.netloc:
        raise ValueError(f"--allow-origin needs an exact origin such as app://kata, not {origin!r}")
    if parts.path or parts.query or parts.fragment:
        raise ValueError(f"--allow-origin takes an origin without a path, not {origin!r}")
    return value
