"""Token sessions held by a provider's own tooling: what a detector finds (never the secret), and
the `SessionSource` each provider's spec names to find it, watch it and authenticate with it."""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from contracts.providers import TokenSessionState, TokenSessionStateName

if TYPE_CHECKING:
    from adapters.base import Credential

EXPIRING_WINDOW = timedelta(minutes=2)
USABLE_STATES = frozenset({TokenSessionStateName.ACTIVE, TokenSessionStateName.EXPIRING})


class SessionKind(StrEnum):
    """Which tooling holds the session."""

    ANTHROPIC_ENV_TOKEN = "anthropic_env_token"
    ANTHROPIC_PROFILE = "anthropic_profile"
    CLAUDE_CODE = "claude_code"
    CODEX_API_KEY = "codex_api_key"
    CODEX_CHATGPT = "codex_chatgpt"


@dataclass(frozen=True)
class Session:
    """One detected session. Holds where to find the secret, never the secret itself."""

    state: TokenSessionStateName
    kind: SessionKind | None = None
    source: str | None = None
    expires_at: datetime | None = None
    account: str | None = None
    remediation: str | None = None
    refreshable: bool = False
    profile: str | None = None
    path: Path | None = None
    detail: str | None = None  # why it is not usable, when the provider or SDK said

    @property
    def usable(self) -> bool:
        """Whether a request may be attempted on this session now."""
        if self.state in USABLE_STATES:
            return True
        return self.state is TokenSessionStateName.EXPIRED and self.refreshable

    def to_contract(self) -> TokenSessionState:
        """The wire form shown in provider status."""
        return TokenSessionState(
            state=self.state,
            kind=self.kind.value if self.kind else None,
            source=self.source,
            expires_at=self.expires_at,
            account=self.account,
            remediation=self.remediation,
            refreshable=self.refreshable,
        )


def missing(remediation: str) -> Session:
    """No session of any kind."""
    return Session(TokenSessionStateName.MISSING, remediation=remediation)


def expiry_state(expires_at: datetime | None, now: datetime) -> TokenSessionStateName:
    """Active, expiring (within two minutes) or expired."""
    if expires_at is None or expires_at - now > EXPIRING_WINDOW:
        return TokenSessionStateName.ACTIVE
    if expires_at > now:
        return TokenSessionStateName.EXPIRING
    return TokenSessionStateName.EXPIRED


def epoch_to_datetime(value: Any) -> datetime | None:
    """Seconds (or milliseconds, as some tools write) since the epoch, as a UTC datetime."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    seconds = value / 1000 if value > 1e12 else value
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def jwt_claims(token: Any) -> dict[str, Any]:
    """The unverified claims of a JWT (only for expiry and labels; never trusted for access)."""
    if not isinstance(token, str) or token.count(".") != 2:
        return {}
    payload = token.split(".")[1]
    try:
        decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, TypeError):
        return {}
    return decoded if isinstance(decoded, dict) else {}


KeyringReader = Callable[[str, str], Awaitable[str | None]]


@dataclass(frozen=True)
class DetectContext:
    """What a detector may read: the environment, the home folder, the time, the OS keyring (a
    provider's tooling may keep its sign-in there), and the one daemon setting that changes
    what counts as usable (ChatGPT-plan Codex sign-ins)."""

    env: Mapping[str, str]
    home: Path
    now: datetime
    read_keyring: KeyringReader | None = None
    chatgpt_backend: bool = False


class SessionSource(Protocol):
    """How the daemon finds, watches and uses one provider's token session."""

    def watched_paths(self, env: Mapping[str, str], home: Path) -> list[Path]:
        """Folders whose changes can change the session."""
        ...

    async def detect(self, context: DetectContext) -> Session:
        """The session in force now (file reads happen off the event loop)."""
        ...

    def credential(self, session: Session) -> Credential:
        """How an adapter authenticates with `session` (read lazily, never copied)."""
        ...


class NoSessions:
    """The session source of a provider whose own tooling holds no session: none is ever found,
    nothing is watched (a provider a user adds has this one)."""

    def __init__(self, remediation: str) -> None:
        self.session = Session(TokenSessionStateName.UNSUPPORTED, remediation=remediation)

    def watched_paths(self, env: Mapping[str, str], home: Path) -> list[Path]:
        return []

    async def detect(self, context: DetectContext) -> Session:
        return self.session

    def credential(self, session: Session) -> Credential:
        from adapters.base import Credential
        from contracts.base import AuthMode

        return Credential(AuthMode.API_KEY)


NO_SESSIONS = NoSessions(
    "An endpoint you added is reached with its API key, or with no credential."
)
