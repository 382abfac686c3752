"""Adding and removing a provider (issue 29): the one place a provider a user added comes into
being and goes away, so everything the daemon keeps for a provider (its adapter, key, settings,
health, gate, model list, running executions) is made and dropped together.

Adding: the spec is judged (`EndpointList`), its key (if any) shape-checked, the adapter built,
the settings saved, then the key stored; a failure on the way undoes what was done, so a provider
is either added whole or not at all. Removing: its key first (while its entry name is still
known), then the rest; its executions end as cancelled.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from adapters.base import ProviderAdapter
from contracts.base import ProviderId
from contracts.endpoints import EndpointAdd, EndpointAuth, EndpointSpec
from contracts.error_body import ErrorDetail
from contracts.errors import InvalidRequest
from contracts.events import ProviderAddedEvent, ProviderRemovedEvent, StateEvent
from contracts.providers import ProviderStatus
from service.providers.credentials.keystore import check_key_shape
from service.providers.endpoint_list import EndpointList
from service.providers.model_list import ModelCache
from service.providers.provider_book import ProviderBook
from service.usage.meter import Meter

log = logging.getLogger("kata.providers")


class AddedProviders:
    """Adds and removes the providers a user added; every method runs on the event loop."""

    def __init__(
        self,
        book: ProviderBook,
        adapters: dict[ProviderId, ProviderAdapter],
        meter: Meter,
        models: ModelCache,
        save: Callable[[], Awaitable[None]],
        publish: Callable[[StateEvent], object],
        cancel: Callable[[ProviderId], None],
        now: Callable[[], datetime],
        timeout_s: float = 600.0,
    ) -> None:
        self._book = book
        self._adapters = adapters
        self._meter = meter
        self._models = models
        self._save = save
        self._publish = publish
        self._cancel = cancel
        self._now = now
        self._timeout_s = timeout_s
        self._lock = asyncio.Lock()  # one change at a time: each saves the settings it made

    def attach(self) -> None:
        """Build the adapter of every provider the settings hold (at start, once they are read).
        Compatible requests already passing through a provider that is removed end with the
        provider's own mid-stream error: its adapter, and so its connections, are closed."""
        for spec in self._book.settings.endpoints.values():
            if spec.id not in self._adapters:
                self._adapters[spec.id] = self._book.wires.added_adapter(spec, self._timeout_s)

    async def add(self, body: EndpointAdd) -> ProviderStatus:
        """Add a provider (and store its key); publishes `provider_added`."""
        spec = EndpointSpec.model_validate(body.model_dump(exclude={"api_key"}))
        self._book.wires.speaking(spec.wire)  # a format no wire speaks: 422 naming `wire`
        key = body.api_key.get_secret_value() if body.api_key is not None else None
        if key is not None:
            if spec.auth is EndpointAuth.NONE:
                raise _no_key_for_none()
            check_key_shape(spec.id, key)
        async with self._lock:
            return await self._add(spec, key)

    async def _add(self, spec: EndpointSpec, key: str | None) -> ProviderStatus:
        users = EndpointList(self._book.settings)
        stored = users.add(spec).spec
        self._adapters[spec.id] = self._book.wires.added_adapter(stored, self._timeout_s)
        try:
            await self._save()
            if key is not None:
                await self._book.keys.put(spec.id, key)
        except BaseException:
            await self._drop(spec.id, users)
            await self._save()
            raise
        self._book.refresh()
        status = self._book.live(spec.id)
        log.info("provider added", extra={"provider": spec.id.value, "wire": spec.wire.value})
        self._publish(ProviderAddedEvent(at=self._now(), provider=status))
        return status

    async def remove(self, provider: ProviderId) -> None:
        """Remove an added provider and its key; publishes `provider_removed`."""
        async with self._lock:
            await self._remove(provider)

    async def _remove(self, provider: ProviderId) -> None:
        users = EndpointList(self._book.settings)
        if users.get(provider) is None:
            users.remove(provider)  # raises: built in (409) or never added (404)
        await self._book.keys.delete(provider)
        await self._drop(provider, users)
        await self._models.forget(provider)
        await self._save()
        self._book.refresh()
        log.info("provider removed", extra={"provider": provider.value})
        self._publish(ProviderRemovedEvent(at=self._now(), provider=provider))

    async def _drop(self, provider: ProviderId, users: EndpointList) -> None:
        """Everything held for `provider`, but its key and model list."""
        if users.get(provider) is not None:
            users.remove(provider)
        settings = self._book.settings
        settings.providers.pop(provider, None)
        if settings.daemon.default_provider == provider:
            settings.daemon = settings.daemon.model_copy(update={"default_provider": None})
        self._cancel(provider)
        self._meter.forget(provider)
        self._book.forget(provider)
        adapter = self._adapters.pop(provider, None)
        if adapter is not None:
            await adapter.aclose()


def _no_key_for_none() -> InvalidRequest:
    message = "A provider added with auth 'none' takes no API key."
    return InvalidRequest(
        message,
        "Leave out api_key, or add the provider with auth 'api_key'.",
        status=422,
        details=[ErrorDetail(loc=["body", "api_key"], msg=message, type="unsupported")],
    )
