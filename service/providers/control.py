"""Provider control: what the provider, settings and model routes ask and change. Every change is
persisted, re-resolved through the provider book, and published; session expiry and the optional
periodic probe are scheduled here too."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from datetime import datetime

from adapters.base import Credential, ProviderAdapter
from contracts.base import AuthMode, ProviderId
from contracts.errors import ProviderError
from contracts.events import ModelsUpdatedEvent, SettingsEvent
from contracts.models import ModelList
from contracts.providers import (
    ApiKeyPut,
    ProviderList,
    ProviderSettings,
    ProviderSettingsUpdate,
    ProviderStatus,
)
from contracts.settings import DaemonSettings, DaemonSettingsUpdate
from service.events import EventBus, Problems
from service.providers.credentials.keyring_access import KeyringAccess, KeyringUnavailable
from service.providers.credentials.keystore import check_key_shape
from service.providers.endpoint_list import no_session_here
from service.providers.model_list import ModelCache
from service.providers.provider_book import ProviderBook
from service.providers.settings_store import SettingsStore
from service.providers.settings_update import changes_of, routes_known, within_price_bound
from service.usage.meter import Meter

log = logging.getLogger("kata.providers")

EXPIRING_LEAD_S = 120.0


class ProviderControl:
    """One per runtime; every method runs on the event loop."""

    def __init__(
        self,
        book: ProviderBook,
        adapters: Mapping[ProviderId, ProviderAdapter],
        meter: Meter,
        models: ModelCache,
        settings_store: SettingsStore,
        keyring: KeyringAccess,
        bus: EventBus,
        problems: Problems,
        clock: Callable[[], float],
        now: Callable[[], datetime],
    ) -> None:
        self.book = book
        self._adapters = adapters
        self._meter = meter
        self._models = models
        self._settings_store = settings_store
        self._keyring = keyring
        self._bus = bus
        self._problems = problems
        self._clock = clock
        self._now = now
        self._save_lock = asyncio.Lock()
        self._timers: list[asyncio.TimerHandle] = []
        # Set once keys and sessions have been read (bounded by the keyring timeout).
        self.loaded = asyncio.Event()

    async def load(self, demo_keys: Mapping[ProviderId, str]) -> None:
        """Read keys (storing the demo's, in demo mode) and sessions, then resolve."""
        try:
            await self.book.keys.load(self.book.providers)
            if self.book.keys.damage is not None:
                self._problems.report(self.book.keys.damage)
                self.book.keys.damage = None
            for provider, key in demo_keys.items():
                await self.book.keys.put(provider, key)
            if self.book.keys.keyring_problem:
                log.info(
                    "keys are kept in a file", extra={"reason": self.book.keys.keyring_problem}
                )
            await self.redetect()
        finally:
            self.loaded.set()

    def close(self) -> None:
        """Stop the expiry timers."""
        for timer in self._timers:
            timer.cancel()
        self._timers = []

    async def provider(self, provider: ProviderId) -> ProviderStatus:
        """The current status of one provider."""
        await self.loaded.wait()
        return self.book.live(self.book.known(provider))

    async def providers(self) -> ProviderList:
        """Every provider's status."""
        await self.loaded.wait()
        return ProviderList(
            default_provider=self.book.default_provider(),
            providers=[self.book.live(provider) for provider in self.book.providers],
        )

    async def update_provider_settings(
        self, provider: ProviderId, update: ProviderSettingsUpdate
    ) -> ProviderStatus:
        """Change a provider's settings, persist them, and publish the new status."""
        await self.loaded.wait()
        self.book.known(provider)
        if update.preferred_auth_mode is AuthMode.TOKEN_SESSION and self.book.endpoint(provider):
            raise no_session_here(provider)
        current = self.book.settings.provider(provider)
        changes = changes_of(update, clearable={"default_model", "daily_budget_usd"})
        updated = ProviderSettings.model_validate({**current.model_dump(), **changes})
        self.book.settings.providers[provider] = updated
        self._meter.settings_changed(provider)
        await self.save()
        self.book.refresh()
        return self.book.live(provider)

    def daemon_settings(self) -> DaemonSettings:
        """The daemon-wide settings."""
        return self.book.settings.daemon

    async def update_daemon_settings(self, update: DaemonSettingsUpdate) -> DaemonSettings:
        """Change the daemon-wide settings, persist them, and re-detect what they affect."""
        await self.loaded.wait()
        changes = changes_of(update, clearable={"default_provider"})
        if changes.get("default_provider") is not None:
            chosen = ProviderId(str(changes["default_provider"]))
            self.book.known(chosen, ("body", "default_provider"))
        if "prices" in changes:
            # Merged model by model; a model set to null loses the user's price.
            prices = {**self.book.settings.daemon.prices, **(update.prices or {})}
            kept = {model: p for model, p in prices.items() if p is not None}
            within_price_bound(len(kept))
            changes["prices"] = kept
        if "agent_routes" in changes:
            mapped = {**self.book.settings.daemon.agent_routes, **(update.agent_routes or {})}
            changes["agent_routes"] = routes_known(mapped, self.book.settings.routes)
        self.book.settings.daemon = DaemonSettings.model_validate(
            {**self.book.settings.daemon.model_dump(), **changes}
        )
        await self.save()
        self._bus.publish(SettingsEvent(at=self._now(), settings=self.book.settings.daemon))
        await self.redetect()
        return self.book.settings.daemon

    async def put_api_key(self, provider: ProviderId, body: ApiKeyPut) -> ProviderStatus:
        """Store an API key (after probing the provider with it when asked to)."""
        await self.loaded.wait()
        self.book.known(provider)
        value = body.api_key.get_secret_value()
        check_key_shape(provider, value)
        if body.verify:
            await self._adapters[provider].list_models(Credential(AuthMode.API_KEY, api_key=value))
        await self.book.keys.put(provider, value)
        self.book.verdicts.forget(provider)
        self.book.refresh()
        return self.book.live(provider)

    async def delete_api_key(self, provider: ProviderId) -> ProviderStatus:
        """Forget the stored API key wherever it is kept."""
        await self.loaded.wait()
        self.book.known(provider)
        await self.book.keys.delete(provider)
        self.book.verdicts.forget(provider)
        self.book.refresh()
        return self.book.live(provider)

    async def check(self, provider: ProviderId) -> ProviderStatus:
        """Re-read keys and sessions, then probe the provider with a models call."""
        await self.loaded.wait()
        self.book.known(provider)
        await self.book.keys.load(self.book.providers)
        await self.redetect()
        await self.probe(provider)
        return self.book.live(provider)

    async def probe(self, provider: ProviderId) -> None:
        """A models call with the credential in force (or the key a rejection blocks); what it
        says is evidence about the key as well as the provider's health."""
        credential = self.book.probe_credential(provider)
        if credential is None:
            return
        started = self._clock()
        failure: ProviderError | None = None
        try:
            await self._adapters[provider].list_models(credential)
        except ProviderError as error:
            failure = error
        self.book.record_check(provider, self._clock() - started, failure)
        self.book.verdicts.evidence(provider, credential, failure)
        self.book.refresh()

    async def probe_forever(self, interval_s: float, stop: asyncio.Event) -> None:
        """Optional periodic health probe: a models call per usable provider, never a paid
        completion."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_s)
                return
            for provider in self.book.providers:
                if self.book.status(provider).usable:
                    await self.probe(provider)

    async def redetect(self) -> None:
        """Re-read every session source and publish what changed."""
        await self.book.detect_sessions(self._read_keyring)
        self.book.refresh()
        self._schedule_expiry()

    async def models(self, provider: ProviderId | None, refresh: bool) -> ModelList:
        """Models of one provider or both, with provenance."""
        await self.loaded.wait()
        chosen = (
            [self.book.known(provider, ("query", "provider"))]
            if provider
            else list(self.book.providers)
        )
        answers = [await self._models.get(p, refresh) for p in chosen]
        for answer, live in answers:
            if live:
                self._bus.publish(
                    ModelsUpdatedEvent(
                        at=self._now(),
                        provider=answer.provider,
                        provenance=answer.provenance,
                        count=len(answer.models),
                    )
                )
        return ModelList(providers=[answer for answer, _ in answers])

    async def _read_keyring(self, service: str, user: str) -> str | None:
        try:
            return await self._keyring.read_foreign(service, user)
        except KeyringUnavailable:
            return None

    def _schedule_expiry(self) -> None:
        # Re-detect as each session enters its expiring window and as it expires.
        self.close()
        loop = asyncio.get_running_loop()
        now = self._now()
        for provider in self.book.providers:
            expires_at = self.book.session(provider).expires_at
            if expires_at is None:
                continue
            for lead in (EXPIRING_LEAD_S, 0.0):
                delay = (expires_at - now).total_seconds() - lead
                if delay > 0:
                    self._timers.append(
                        loop.call_later(
                            delay + 0.05, lambda: asyncio.ensure_future(self.redetect())
                        )
                    )

    async def save(self) -> None:
        """Persist the settings as they are now."""
        # Off the event loop, one save at a time so they land in the order they were made.
        snapshot = self.book.settings.model_copy(deep=True)
        async with self._save_lock:
            await asyncio.to_thread(self._settings_store.save, snapshot)
