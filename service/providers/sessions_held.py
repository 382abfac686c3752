"""The token sessions the built-in providers' own tooling holds, as last detected, and which of
them a provider rejected (shown so until the tooling's files change and detection finds a
different session)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from adapters.base import Credential
from adapters.sessions import NO_SESSIONS, DetectContext, Session
from adapters.specs import SPECS
from contracts.base import ProviderId
from contracts.errors import ProviderError, SessionFailed
from contracts.providers import TokenSessionStateName


class SessionsHeld:
    """One per provider book; every method runs on the event loop."""

    def __init__(self, env: Mapping[str, str], home: Path) -> None:
        self._env = env
        self._home = home
        self._sessions: dict[ProviderId, Session] = {}
        self._rejected: dict[ProviderId, tuple[Session, ProviderError]] = {}

    async def detect(self, context: DetectContext) -> None:
        """Re-read every provider's session source (cheap file reads, and a keyring entry)."""
        for provider, spec in SPECS.items():
            self._sessions[provider] = await spec.sessions.detect(context)

    def get(self, provider: ProviderId) -> Session:
        """The session of `provider` as last detected, shown expired (or in error) if the
        provider rejected it; a provider without tooling has none."""
        session = self._sessions.get(provider, NO_SESSIONS.session)
        rejected = self._rejected.get(provider)
        if rejected is None or rejected[0] != session:
            return session
        error = rejected[1]
        return replace(
            session,
            state=TokenSessionStateName.ERROR
            if isinstance(error, SessionFailed)
            else TokenSessionStateName.EXPIRED,
            refreshable=False,
            remediation=SPECS[provider].renew.get(session.kind) if session.kind else None,
            detail=error.message,
        )

    def reject(self, provider: ProviderId, error: ProviderError) -> None:
        """The provider rejected the session (or the SDK could not refresh it)."""
        self._rejected[provider] = (self._sessions[provider], error)

    def credential(self, provider: ProviderId) -> Credential:
        """How an adapter authenticates with the detected session."""
        return SPECS[provider].sessions.credential(self._sessions[provider])

    def watched_paths(self) -> list[Path]:
        """Folders whose changes can change a session."""
        return [
            path
            for spec in SPECS.values()
            for path in spec.sessions.watched_paths(self._env, self._home)
        ]
