"""The provider book: settings, keys and sessions in; each provider's status and credential out.

It owns every change to provider state, recomputes status through the resolver, and publishes
a `provider_status` event for each provider whose status changed (and a `provider_error` event
when a session degrades to the API key).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path

from adapters.base import Credential
from adapters.sessions import DetectContext, KeyringReader, Session
from adapters.specs import name_of
from adapters.wire import Wire
from adapters.wires import Wires
from contracts.base import BUILT_IN, AuthMode, ProviderId
from contracts.endpoints import EndpointAuth, EndpointSpec
from contracts.error_body import ErrorDetail
from contracts.errors import InvalidRequest, ProviderError
from contracts.events import ProviderErrorEvent, ProviderStatusEvent, StateEvent
from contracts.providers import (
    ProviderCapabilities,
    ProviderStatus,
)
from contracts.usage import BudgetState, GovernorState
from service.providers.credentials.keystore import KeyStore
from service.providers.endpoint_list import (
    model_default,
    requested_mode,
    unknown_provider,
    view,
)
from service.providers.health import HealthTracker
from service.providers.key_verdicts import KeyVerdicts
from service.providers.resolver import Resolution, resolve
from service.providers.sessions_held import SessionsHeld
from service.providers.settings_store import LiveSettings, PersistedSettings

log = logging.getLogger("kata.providers")

Publish = Callable[[StateEvent], object]


class ProviderBook:
    """Canonical provider state; every method runs on the event loop."""

    def __init__(
        self,
        keys: KeyStore,
        settings: LiveSettings,
        wires: Wires,
        publish: Publish,
        env: Mapping[str, str],
        home: Path,
        now: Callable[[], datetime],
        capabilities: Callable[[ProviderId], ProviderCapabilities],
        spend: Callable[[ProviderId], tuple[BudgetState, GovernorState]],
        demo: bool = False,
    ) -> None:
        self._spend = spend
        self.keys = keys
        self.verdicts = KeyVerdicts(keys)
        self._live = settings
        self.wires = wires
        self._publish = publish
        self._env = env
        self._home = home
        self._now = now
        self._demo = demo
        self._capabilities = capabilities
        self.sessions = SessionsHeld(env, home)
        self._health: dict[ProviderId, HealthTracker] = {}
        self._status: dict[ProviderId, ProviderStatus] = {}
        self._warned: dict[ProviderId, str | None] = {}
        self._check_errors: dict[ProviderId, ProviderError] = {}

    @property
    def settings(self) -> PersistedSettings:
        """The settings in force (loading the file swaps them in `LiveSettings`)."""
        return self._live.value

    @property
    def providers(self) -> tuple[ProviderId, ...]:
        """The built-in providers, then those a user added, in the order they were added."""
        return BUILT_IN + tuple(self.settings.endpoints)

    def endpoint(self, provider: ProviderId) -> EndpointSpec | None:
        """The endpoint of a provider a user added; None for a built-in one."""
        return self.settings.endpoints.get(provider)

    def wire_of(self, provider: ProviderId) -> Wire:
        """The wire `provider` speaks (its routes, error shape, key header)."""
        return self.wires.of_provider(provider, self.endpoint(provider))

    def default_model(self, provider: ProviderId) -> str | None:
        """The model a request to `provider` that names none gets, if any."""
        return model_default(self.settings, provider)

    def model_for(self, provider: ProviderId) -> str:
        """`provider`'s default model, for a request that names none; raises if it has none."""
        if (model := model_default(self.settings, provider)) is not None:
            return model
        raise InvalidRequest(
            f"{provider.value} has no default model and the request names none.",
            f"Name a model (`kata-providers models --provider {provider.value}` lists what it "
            "offers), or set the provider's default model on the status page.",
            provider=provider,
            status=422,
            details=[ErrorDetail(loc=["body", "model"], msg="required", type="no_default_model")],
        )

    def tracker(self, provider: ProviderId) -> HealthTracker:
        """The health tracker (and breaker) of `provider`."""
        if provider not in self._health:
            self._health[provider] = HealthTracker(now=self._now)
        return self._health[provider]

    def forget(self, provider: ProviderId) -> None:
        """A provider a user added was removed: drop everything held for it."""
        for held in (self._health, self._status, self._warned, self._check_errors):
            held.pop(provider, None)
        self.verdicts.forget(provider)

    def known(self, provider: ProviderId, loc: tuple[str, ...] | None = None) -> ProviderId:
        """`provider` if known; else 404 (named in a path) or 422 naming `loc` (query, body)."""
        if provider in self.providers:
            return provider
        raise unknown_provider(provider.value, self.providers, loc)

    async def detect_sessions(self, read_keyring: KeyringReader | None = None) -> None:
        """Re-read every provider's session source (cheap file reads, and a keyring entry)."""
        context = DetectContext(
            self._env,
            self._home,
            self._now(),
            read_keyring,
            chatgpt_backend=self.settings.daemon.openai_chatgpt_backend,
        )
        await self.sessions.detect(context)

    def session(self, provider: ProviderId) -> Session:
        """The session of `provider` as last detected (see `SessionsHeld.get`)."""
        return self.sessions.get(provider)

    def session_failed(
        self, provider: ProviderId, error: ProviderError
    ) -> tuple[Credential, bool] | ProviderError:
        """The provider rejected the session, or the SDK could not refresh it: mark it so, then
        let the resolver decide again (the one recovery rule). Publishes exactly one
        `provider_error`: the fallback's warning, or the error that ends the execution."""
        self.sessions.reject(provider, error)
        log.warning("token session failed", extra={"provider": provider.value})
        self.refresh()  # publishes the status, and the warning when it falls back
        outcome = self.resolution(provider)
        if isinstance(outcome, ProviderError):
            self._publish(
                ProviderErrorEvent(at=self._now(), provider=provider, error=outcome.body())
            )
            return outcome
        credential, _ = self.credential(provider)
        return credential, outcome.fallback_applied

    def watched_paths(self) -> list[Path]:
        """Folders whose changes can change a session."""
        return self.sessions.watched_paths()

    def probe_credential(self, provider: ProviderId) -> Credential | None:
        """What an explicit check probes with: the credential in force, or the stored key when
        the only thing blocking it is an earlier rejection (a check is how it recovers)."""
        outcome = self.resolution(provider)
        if not isinstance(outcome, ProviderError):
            return self.credential(provider)[0]
        stored = self.keys.key(provider)
        if stored is not None and self.verdicts.info(provider).invalid:
            return Credential(AuthMode.API_KEY, stored.source, api_key=stored.value)
        return None

    def resolution(self, provider: ProviderId) -> Resolution | ProviderError:
        """The resolver's answer for `provider` now. A provider a user added has no session: it
        takes its key, or nothing when it was added with `auth: none`."""
        settings = self.settings.provider(provider)
        spec = self.endpoint(provider)
        if spec is not None:
            if spec.auth is EndpointAuth.NONE:
                return Resolution(AuthMode.NONE, None, fallback_applied=False)
            settings = settings.model_copy(update={"preferred_auth_mode": AuthMode.API_KEY})
        return resolve(provider, settings, self.verdicts.info(provider), self.session(provider))

    def credential(self, provider: ProviderId) -> tuple[Credential, Resolution]:
        """The credential a request to `provider` would use now, or the error that blocks it."""
        outcome = self.resolution(provider)
        if isinstance(outcome, ProviderError):
            raise outcome
        if outcome.mode is AuthMode.NONE:
            return Credential(AuthMode.NONE), outcome
        if outcome.mode is AuthMode.API_KEY:
            credential = self.verdicts.credential(provider)
            assert credential is not None
            return credential, outcome
        return self.session_credential(provider), outcome

    def session_credential(self, provider: ProviderId) -> Credential:
        """How an adapter authenticates with the detected session."""
        return self.sessions.credential(provider)

    def status(self, provider: ProviderId) -> ProviderStatus:
        """The last computed status of `provider`."""
        if provider not in self._status:
            self.refresh()
        return self._status[provider]

    def live(self, provider: ProviderId) -> ProviderStatus:
        """The status with its budget and governor as they are this moment (in-flight counts
        change with every execution; events carry them only when the governor's state does)."""
        budget, governor = self._spend(provider)
        return self.status(provider).model_copy(update={"budget": budget, "governor": governor})

    def default_provider(self) -> ProviderId | None:
        """The configured default provider, else the first usable one."""
        chosen = self.settings.daemon.default_provider
        if chosen is not None:
            return chosen
        for provider in self.providers:
            if self.status(provider).usable:
                return provider
        return None

    def refresh(self) -> list[ProviderId]:
        """Recompute every status; publish what changed. Returns the providers that changed."""
        changed: list[ProviderId] = []
        for provider in self.providers:
            status, warning = self._compute(provider)
            previous = self._status.get(provider)
            if previous is not None and _same(previous, status):
                continue
            self._status[provider] = status
            changed.append(provider)
            if previous is not None:
                self._publish(ProviderStatusEvent(at=status.updated_at, provider=status))
            self._warn(provider, warning)
        return changed

    def _warn(self, provider: ProviderId, warning: ProviderError | None) -> None:
        if warning is not None and self._warned.get(provider) != warning.message:
            log.warning("token session degraded to the API key", extra={"provider": provider.value})
            self._publish(
                ProviderErrorEvent(at=self._now(), provider=provider, error=warning.body())
            )
        self._warned[provider] = warning.message if warning else None

    def _compute(self, provider: ProviderId) -> tuple[ProviderStatus, ProviderError | None]:
        settings = self.settings.provider(provider)
        spec = self.endpoint(provider)
        outcome = self.resolution(provider)
        warning = outcome.warning if isinstance(outcome, Resolution) else None
        last_error = outcome if isinstance(outcome, ProviderError) else warning
        last_error = last_error or self._check_errors.get(provider)
        budget, governor = self._spend(provider)
        status = ProviderStatus(
            id=provider,
            display_name=spec.display_name if spec is not None else name_of(provider),
            demo=self._demo and spec is None,
            requested_mode=requested_mode(settings, spec),
            resolved_mode=outcome.mode if isinstance(outcome, Resolution) else None,
            fallback_applied=isinstance(outcome, Resolution) and outcome.fallback_applied,
            usable=isinstance(outcome, Resolution),
            api_key=self.verdicts.state(provider),
            token_session=self.session(provider).to_contract(),
            health=self.tracker(provider).snapshot(),
            capabilities=self._capabilities(provider),
            settings=settings,
            budget=budget,
            governor=governor,
            last_error=last_error.body() if last_error else None,
            endpoint=view(spec) if spec is not None else None,
            updated_at=self._now(),
        )
        return status, warning

    def record_check(
        self, provider: ProviderId, latency_s: float, error: ProviderError | None
    ) -> None:
        """Remember the outcome of an explicit check (a models call) for health; what it says
        of the key is `key_evidence`'s to record."""
        tracker = self.tracker(provider)
        if error is None:
            self._check_errors.pop(provider, None)
            tracker.success(latency_s)
            return
        self._check_errors[provider] = error
        tracker.failure(error, latency_s)


def _same(a: ProviderStatus, b: ProviderStatus) -> bool:
    return a.model_dump(exclude={"updated_at"}) == b.model_dump(exclude={"updated_at"})
