"""The providers a user added (issue 29): judged when added (its id, its base URL), kept in the
settings file so they survive a restart, bounded in number.

An id may not be a built-in one's nor one already added (409: remove it first); its base URL
goes through `service.providers.base_urls` (the one place a URL is judged) and is stored as
normalised there. Serving them (adapters, status, health, the routes) builds on this list."""

from __future__ import annotations

from adapters.catalogue import default_model
from contracts.base import BUILT_IN, AuthMode, ProviderId
from contracts.endpoints import EndpointAuth, EndpointSpec, EndpointView
from contracts.error_body import ErrorDetail
from contracts.errors import InvalidRequest, bound_reached
from contracts.providers import ProviderSettings
from service.providers.base_urls import check_base_url, origin_of
from service.providers.settings_store import PersistedSettings

MAX_USER_PROVIDERS = 32


def key_entry(provider: ProviderId, spec: EndpointSpec | None) -> str:
    """The name a provider's key is kept under (see `credentials.keystore`): its id, and for a
    provider a user added the origin it was added with."""
    if spec is None:
        return provider.value
    scheme, host, port = origin_of(spec.base_url)
    host = f"[{host}]" if ":" in host else host
    return f"{provider.value}@{scheme}://{host}:{port}"


def model_default(settings: PersistedSettings, provider: ProviderId) -> str | None:
    """The provider's setting, else the one an added provider has, else a built-in's own."""
    spec = settings.endpoints.get(provider)
    return (
        settings.provider(provider).default_model
        or (spec.default_model if spec is not None else None)
        or default_model(provider)
    )


def unknown_provider(
    provider: str, known: tuple[ProviderId, ...], loc: tuple[str, ...] | None
) -> InvalidRequest:
    """An id no provider has (or a name that is no id at all): 404 in a path, 422 naming `loc`
    in a query or a body."""
    message = f"There is no provider {provider[:40]!r}; the providers are {', '.join(known)}."
    remediation = "Name one of them (`kata-providers status` lists them)."
    if loc is None:
        return InvalidRequest(message, remediation, status=404)
    detail = ErrorDetail(loc=list(loc), msg=message, type="unknown_provider")
    return InvalidRequest(message, remediation, status=422, details=[detail])


def no_session_here(provider: ProviderId) -> InvalidRequest:
    """A token session asked of a provider a user added: it has none."""
    message = f"{provider.value} is an endpoint you added: it has no token session."
    return InvalidRequest(
        message,
        "Leave preferred_auth_mode as api_key; the endpoint's key (or none) is what it uses.",
        provider=provider,
        status=422,
        details=[ErrorDetail(loc=["body", "preferred_auth_mode"], msg=message, type="unsupported")],
    )


def requested_mode(settings: ProviderSettings, spec: EndpointSpec | None) -> AuthMode:
    """The mode asked for: a setting for a built-in provider; what an added one was added with."""
    if spec is None:
        return settings.preferred_auth_mode
    return AuthMode.NONE if spec.auth is EndpointAuth.NONE else AuthMode.API_KEY


def _conflict(message: str, remediation: str) -> InvalidRequest:
    return InvalidRequest(message, remediation, status=409)


def view(spec: EndpointSpec) -> EndpointView:
    """A stored provider with where its URL points."""
    endpoint = check_base_url(spec.base_url, allow_insecure=spec.allow_insecure)
    return EndpointView(spec=spec, scope=endpoint.scope, insecure=endpoint.insecure)


class EndpointList:
    """Reads and changes `settings.endpoints`; the caller saves the settings after a change."""

    def __init__(self, settings: PersistedSettings) -> None:
        self._settings = settings

    def get(self, provider: ProviderId) -> EndpointSpec | None:
        return self._settings.endpoints.get(provider)

    def add(self, spec: EndpointSpec) -> EndpointView:
        """Judge and keep `spec`; raises `invalid_request` saying what to change."""
        if spec.id in BUILT_IN:
            raise _conflict(f"{spec.id.value!r} is a built-in provider's id.", "Choose another id.")
        if spec.id in self._settings.endpoints:
            raise _conflict(
                f"A provider {spec.id.value!r} was added already.",
                f"Remove it first (`kata-providers providers remove {spec.id.value}`), or choose "
                "another id.",
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
                "`kata-providers providers list` lists the providers you added.",
                status=404,
            )
        return spec
