"""The auth matrix, row by row, for both providers and every credential state."""

from __future__ import annotations

from typing import Final

import pytest

from adapters.sessions import Session
from contracts.base import BUILT_IN, AuthMode, ProviderId, RequestedAuth
from contracts.error_body import ErrorCode
from contracts.errors import ProviderError
from contracts.providers import ProviderSettings
from contracts.providers import TokenSessionStateName as State
from service.providers.resolver import KeyInfo, Resolution, resolve

K: Final = AuthMode.API_KEY
T: Final = AuthMode.TOKEN_SESSION
KEYS = {
    "configured": KeyInfo(present=True, source="keyring:MemoryKeyring"),
    "missing": KeyInfo(present=False),
    "invalid": KeyInfo(present=True, invalid=True, source="file"),
}
SESSIONS = {
    "active": Session(State.ACTIVE, source="/profile"),
    "expiring": Session(State.EXPIRING, source="/profile"),
    "expired": Session(State.EXPIRED, source="/profile", remediation="Run `ant auth login`."),
    "expired_refreshable": Session(State.EXPIRED, source="/profile", refreshable=True),
    "missing": Session(State.MISSING, remediation="Sign in."),
    "not_permitted": Session(State.NOT_PERMITTED, source="~/.claude", remediation="Not allowed."),
    "disabled": Session(State.DISABLED, source="~/.codex/auth.json", remediation="Opt in."),
    "error": Session(State.ERROR, source="/bad.json", remediation="Fix /bad.json."),
}
API, SESSION, FALLBACK = (K, False), (T, False), (K, True)
MISSING, INVALID, EXPIRED = (
    ErrorCode.MISSING_AUTH,
    ErrorCode.INVALID_AUTH,
    ErrorCode.SESSION_EXPIRED,
)

# (requested mode, fallback allowed, key state, session state) -> (mode, fallback_applied) | code
MATRIX: list[tuple[RequestedAuth, bool, str, str, tuple[AuthMode, bool] | ErrorCode]] = [
    (K, True, "configured", "missing", API),
    (K, True, "configured", "active", API),
    (K, False, "configured", "active", API),
    (K, True, "configured", "expired", API),
    (K, True, "missing", "active", MISSING),
    (K, True, "missing", "missing", MISSING),
    (K, True, "invalid", "active", INVALID),
    (K, False, "invalid", "missing", INVALID),
    (T, True, "configured", "active", SESSION),
    (T, True, "configured", "expiring", SESSION),
    (T, False, "missing", "active", SESSION),
    (T, False, "missing", "expiring", SESSION),
    (T, True, "missing", "expired_refreshable", SESSION),
    (T, True, "invalid", "active", SESSION),
    (T, True, "configured", "expired", FALLBACK),
    (T, True, "configured", "missing", FALLBACK),
    (T, True, "configured", "not_permitted", FALLBACK),
    (T, True, "configured", "disabled", FALLBACK),
    (T, True, "configured", "error", FALLBACK),
    (T, False, "configured", "expired", EXPIRED),
    (T, False, "configured", "missing", MISSING),
    (T, False, "configured", "not_permitted", MISSING),
    (T, False, "configured", "error", MISSING),
    (T, True, "missing", "expired", EXPIRED),
    (T, True, "missing", "missing", MISSING),
    (T, True, "missing", "not_permitted", MISSING),
    (T, True, "missing", "disabled", MISSING),
    (T, True, "missing", "error", MISSING),
    (T, True, "invalid", "expired", EXPIRED),
    (T, True, "invalid", "missing", INVALID),
    (T, True, "invalid", "not_permitted", INVALID),
    (T, False, "invalid", "missing", MISSING),
    (T, False, "invalid", "expired", EXPIRED),
    (T, False, "missing", "disabled", MISSING),
]


@pytest.mark.parametrize("provider", list(BUILT_IN))
@pytest.mark.parametrize(("mode", "fallback", "key", "session", "expected"), MATRIX)
def test_auth_matrix(
    provider: ProviderId,
    mode: RequestedAuth,
    fallback: bool,
    key: str,
    session: str,
    expected: tuple[AuthMode, bool] | ErrorCode,
) -> None:
    settings = ProviderSettings(preferred_auth_mode=mode, allow_api_key_fallback=fallback)
    outcome = resolve(provider, settings, KEYS[key], SESSIONS[session])
    again = resolve(provider, settings, KEYS[key], SESSIONS[session])
    if isinstance(expected, ErrorCode):
        assert isinstance(outcome, ProviderError), outcome
        assert outcome.code is expected
        assert outcome.provider is provider
        assert outcome.remediation
        assert isinstance(again, ProviderError)
        assert again.body() == outcome.body()
        return
    assert isinstance(outcome, Resolution), outcome.message
    assert (outcome.mode, outcome.fallback_applied) == expected
    assert isinstance(again, Resolution)
    assert (again.mode, again.source, again.fallback_applied) == (
        outcome.mode,
        outcome.source,
        outcome.fallback_applied,
    )
    if outcome.fallback_applied:
        assert outcome.warning is not None
        assert again.warning is not None
        assert outcome.warning.provider is provider
        assert again.warning.body() == outcome.warning.body()
    else:
        assert outcome.warning is None


def test_the_matrix_covers_every_state() -> None:
    assert {row[2] for row in MATRIX} == set(KEYS)
    assert {row[3] for row in MATRIX} == set(SESSIONS)
    assert len(MATRIX) * len(BUILT_IN) >= 30


def test_a_blocked_fallback_says_how_to_use_the_key() -> None:
    settings = ProviderSettings(preferred_auth_mode=T, allow_api_key_fallback=False)
    outcome = resolve(ProviderId.OPENAI, settings, KEYS["configured"], SESSIONS["missing"])
    assert isinstance(outcome, ProviderError)
    assert "allow API-key fallback" in outcome.remediation


def test_session_remediation_is_carried_through() -> None:
    settings = ProviderSettings(preferred_auth_mode=T, allow_api_key_fallback=True)
    outcome = resolve(ProviderId.ANTHROPIC, settings, KEYS["missing"], SESSIONS["not_permitted"])
    assert isinstance(outcome, ProviderError)
    assert "Not allowed." in outcome.remediation
