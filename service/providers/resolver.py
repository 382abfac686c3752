"""The auth resolver: the product's auth matrix, as one pure function.

    requested api_key:        key configured -> api_key
                              otherwise      -> missing_auth / invalid_auth (no fallback)
    requested token_session:  session usable -> token_session
                              otherwise (missing, expired, or rejected / unrefreshable at
                              execution time: the book marks it so and asks again),
                              fallback allowed and key configured
                                             -> api_key, fallback_applied, non-fatal warning
                              otherwise      -> session_expired when the session expired,
                                                invalid_auth when the fallback key was
                                                rejected, else missing_auth

Same inputs, same answer: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from adapters.sessions import Session
from adapters.specs import SPECS, name_of
from contracts.base import AuthMode, ProviderId
from contracts.error_body import ErrorAction
from contracts.errors import InvalidAuth, MissingAuth, ProviderError, SessionExpired
from contracts.providers import ProviderSettings, TokenSessionStateName


@dataclass(frozen=True)
class KeyInfo:
    """What is known about the provider's API key, without the key."""

    present: bool
    invalid: bool = False
    source: str | None = None

    @property
    def usable(self) -> bool:
        """A key that exists and was not rejected."""
        return self.present and not self.invalid


@dataclass(frozen=True)
class Resolution:
    """The credential requests would use now."""

    mode: AuthMode
    source: str | None
    fallback_applied: bool
    warning: ProviderError | None = None


def add_key(provider: ProviderId) -> str:
    """How to give the provider an API key."""
    spec = SPECS.get(provider)
    where = f"Add an API key on the status page or with `kata-providers keys set {provider.value}`"
    if spec is None:
        return f"{where}."
    return f"{where}, or set {spec.key_env} before starting the daemon."


def resolve(
    provider: ProviderId, settings: ProviderSettings, key: KeyInfo, session: Session
) -> Resolution | ProviderError:
    """Decide the auth mode for `provider`, or the error that blocks it."""
    if settings.preferred_auth_mode is AuthMode.API_KEY:
        if key.usable:
            return Resolution(AuthMode.API_KEY, key.source, fallback_applied=False)
        error = _key_error(provider, key)
        if session.usable:  # the other credential is there: say so
            return type(error)(
                error.message,
                f"A token session from {session.source} is active: switch {name_of(provider)}'s "
                f"auth mode to token session to use it. Or: {error.remediation}",
                provider=provider,
                action=ErrorAction.SWITCH_AUTH_MODE,
            )
        return error
    if session.usable:
        return Resolution(AuthMode.TOKEN_SESSION, session.source, fallback_applied=False)
    session_error = _session_error(provider, session)
    if settings.allow_api_key_fallback and key.usable:
        return Resolution(
            AuthMode.API_KEY, key.source, fallback_applied=True, warning=session_error
        )
    if settings.allow_api_key_fallback and key.invalid:
        if session.state is TokenSessionStateName.EXPIRED:
            return _with_hint(session_error, "The fallback API key was rejected as well.")
        return _key_error(provider, key)
    if key.usable:
        return _with_hint(
            session_error,
            "An API key is configured: allow API-key fallback, or switch the auth mode to "
            "API key, to use it.",
            ErrorAction.SWITCH_AUTH_MODE,
        )
    return session_error


def _with_hint(error: ProviderError, hint: str, action: ErrorAction | None = None) -> ProviderError:
    return type(error)(
        error.message, f"{error.remediation} {hint}", provider=error.provider, action=action
    )


def _key_error(provider: ProviderId, key: KeyInfo) -> ProviderError:
    name = name_of(provider)
    if key.invalid:
        return InvalidAuth(
            f"{name} rejected the API key from {key.source}.",
            f"Replace the key: {add_key(provider)}",
            provider=provider,
        )
    return MissingAuth(
        f"No API key is configured for {name}.",
        add_key(provider),
        provider=provider,
    )


def _session_error(provider: ProviderId, session: Session) -> ProviderError:
    name = name_of(provider)
    remediation = session.remediation or add_key(provider)
    if session.detail is not None:
        return SessionExpired(session.detail, remediation, provider=provider)
    if session.state is TokenSessionStateName.EXPIRED:
        return SessionExpired(
            f"The {name} token session from {session.source} has expired.",
            remediation,
            provider=provider,
        )
    messages = {
        TokenSessionStateName.MISSING: f"No {name} token session was found.",
        TokenSessionStateName.NOT_PERMITTED: f"The {name} session found may not be used.",
        TokenSessionStateName.DISABLED: f"The {name} session found is turned off.",
        TokenSessionStateName.ERROR: f"The {name} token session could not be read.",
    }
    return MissingAuth(
        messages.get(session.state, f"The {name} token session is not usable."),
        remediation,
        provider=provider,
    )
