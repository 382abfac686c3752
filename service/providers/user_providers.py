"""The providers a user added (issue 29): judged when added (its id, its base URL), kept in the
settings file so they survive a restart, bounded in number.

An id may not be a built-in one's nor one already added (409: remove it first); its base URL
goes through `service.providers.endpoints` (the one place a URL is judged) and is stored as
normalised there. Serving them (adapters, status, health, the routes) builds on this list."""

from __future__ import annotations

from contracts.base import BUILT_IN, ProviderId
from contracts.endpoints import EndpointSpec, EndpointView
from contracts.errors import InvalidRequest, bound_reached
from service.providers.endpoints import check_base_url
from service.providers.settings_store import PersistedSettings

MAX_USER_PROVIDERS = 32


def _conflict(message: str, remediation: str) -> InvalidRequest:
    return InvalidRequest(message, remediation, status=409)


def view(spec: EndpointSpec) -> EndpointView:
    """A stored provider with where its URL points."""
    endpoint = check_base_url(spec.base_url, allow_insecure=spec.allow_insecure)
    return EndpointView(spec=spec, scope=endpoint.scope, insecure=endpoint.insecure)


class UserProviders:
    """Reads and changes `settings.endpoints`; the caller saves the settings after a change."""

    def __init__(self, settings: PersistedSettings) -> None:
        self._settings = settings

    def ids(self) -> tuple[ProviderId, ...]:
        """The added providers' ids, in the order they were added."""
        return tuple(self._settings.endpoints)

    def get(self, provider: ProviderId) -> EndpointSpec | None:
        return self._settings.endpoints.get(provider)

    def list(self) -> list[EndpointView]:
        return [view(spec) for spec in self._settings.endpoints.values()]

    def add(self, spec: EndpointSpec) -> EndpointView:
        """Judge and keep `spec`; raises `invalid_request` saying what to change."""
        if spec.id in BUILT_IN:
            raise _conflict(f"{spec.id.value!r} is a built-in provider's id.", "Choose another id.")
        if spec.id in self._settings.endpoints:
            raise _conflict(
                f"A provider {spec.id.value!r} was added already.",
                f"Remove it first (DELETE /v1/providers/{spec.id.value}), or choose another id.",
            )
        if len(self._settings.endpoints) >= MAX_USER_PROVIDERS:
            raise bound_reached(
                f"At most {MAX_USER_PROVIDERS} providers can be added.",
                "Remove a provider you no longer use first.",
                "id",
            )
        endpoint = check_base_url(spec.base_url, allow_insecure=spec.allow_insecure)
        stored = spec.model_copy(update={"base_url": endpoint.url})
        self._settings.endpoints[spec.id] = stored
        return EndpointView(spec=stored, scope=endpoint.scope, insecure=endpoint.insecure)

    def remove(self, provider: ProviderId) -> EndpointSpec:
        """Forget an added provider (its key is the caller's to delete)."""
        if provider in BUILT_IN:
            raise _conflict(
                f"{provider.value!r} is built in and cannot be removed.",
                "Remove its API key instead, or leave it unused.",
            )
        spec = self._settings.endpoints.pop(provider, None)
        if spec is None:
            raise InvalidRequest(
                f"No provider {provider.value!r} was added.",
                "GET /v1/providers lists the providers.",
                status=404,
            )
        return spec
