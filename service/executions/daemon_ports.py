"""The daemon's answer to what executions ask of it (`ports.Ports`): health and the breaker from
the provider book, the gate, budget and prices from the meter, and what a credential's evidence
means; built once by the app factory and shared by every execution."""

from __future__ import annotations

from collections.abc import Mapping

from adapters.base import Credential, ProviderAdapter
from contracts.base import ProviderId
from contracts.errors import ProviderError
from contracts.executions import Usage
from service.providers.health import HealthTracker
from service.providers.provider_book import ProviderBook
from service.usage.governor import Gate
from service.usage.meter import Meter


class DaemonPorts:
    """One per runtime; every method runs on the event loop."""

    def __init__(
        self, book: ProviderBook, meter: Meter, adapters: Mapping[ProviderId, ProviderAdapter]
    ) -> None:
        self._book = book
        self._meter = meter
        self._adapters = adapters  # shared: providers a user adds come and go
        self._health_keys: dict[ProviderId, tuple[object, ...]] = {}

    def health(self, provider: ProviderId) -> HealthTracker:
        return self._book.tracker(provider)

    def gate(self, provider: ProviderId) -> Gate:
        return self._meter.gate(provider)

    def priced(self, model: str, usage: Usage) -> Usage:
        return self._meter.priced(model, usage)

    def admit(self, provider: ProviderId) -> None:
        self._meter.admit(provider)

    def traffic(self, provider: ProviderId) -> None:
        # Recompute (and publish) status only when the health it shows has changed.
        key = self._book.tracker(provider).key()
        if self._health_keys.get(provider) != key:
            self._health_keys[provider] = key
            self._book.refresh()

    def forget_client(self, provider: ProviderId, credential: Credential) -> None:
        self._adapters[provider].forget(credential)

    def session_failed(
        self, provider: ProviderId, error: ProviderError
    ) -> tuple[Credential, bool] | ProviderError:
        return self._book.session_failed(provider, error)

    def key_evidence(
        self, provider: ProviderId, credential: Credential, error: ProviderError | None
    ) -> None:
        if self._book.verdicts.evidence(provider, credential, error):
            self._book.refresh()

    def forget(self, provider: ProviderId) -> None:
        """A provider a user added was removed."""
        self._health_keys.pop(provider, None)
