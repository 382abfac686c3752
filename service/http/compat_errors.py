"""The daemon's own errors on the provider-compatible routes, in the provider's error shape and
status, so the provider's SDK raises its own exception types. The one place a path decides which
shape an error takes: the routes, the security edge and the last resort all ask here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from adapters.anthropic import passthrough as anthropic_passthrough
from adapters.openai import passthrough as openai_passthrough
from adapters.passthrough import compat_status
from contracts.base import ProviderId
from contracts.endpoints import EndpointSpec, ProviderWire
from contracts.errors import ProviderError

PREFIX = {ProviderId.ANTHROPIC: "/anthropic", ProviderId.OPENAI: "/openai/v1"}
# Any provider's compatible routes, by id (`/providers/<id>/…`): the provider's base URL.
BY_ID = "/providers/"
# Everything under these answers errors in the provider's shape (an unknown path included).
# Under `/providers/<id>/` that is the shape of the wire the provider speaks (OpenAI's for an id
# no provider has: the shape most compatible clients read).
SHAPED = {
    "/anthropic/": ProviderId.ANTHROPIC,
    "/openai/": ProviderId.OPENAI,
    BY_ID: ProviderId.OPENAI,
}
ERROR_BODY: dict[ProviderId, Callable[[ProviderError, int, str | None], dict[str, Any]]] = {
    ProviderId.ANTHROPIC: anthropic_passthrough.error_body,
    ProviderId.OPENAI: openai_passthrough.error_body,
}
# The daemon's id for a request on these routes, beside the provider's own `x-request-id`.
KATA_REQUEST_ID = b"x-kata-request-id"


def wire_of(provider: ProviderId, spec: EndpointSpec | None) -> ProviderId:
    """The built-in provider whose routes and error shape `provider` has: its own for a built-in
    one, the one whose wire an added one speaks."""
    if spec is None:
        return provider
    return (
        ProviderId.ANTHROPIC if spec.wire is ProviderWire.ANTHROPIC_MESSAGES else ProviderId.OPENAI
    )


def shaped_for(path: str, app: Any = None) -> ProviderId | None:
    """The provider whose error shape `path` answers in; None for the daemon's own routes.
    `app` (the ASGI scope's) says which wire a provider under `/providers/<id>/` speaks."""
    for prefix, provider in SHAPED.items():
        if path.startswith(prefix):
            return _by_id(path, app) if prefix == BY_ID else provider
    return None


def _by_id(path: str, app: Any) -> ProviderId:
    runtime = getattr(getattr(app, "state", None), "runtime", None)
    try:
        provider = ProviderId(path[len(BY_ID) :].partition("/")[0])
    except ValueError:
        return ProviderId.OPENAI
    if runtime is None or provider not in runtime.book.providers:
        return ProviderId.OPENAI
    return wire_of(provider, runtime.book.endpoint(provider))


def compat_error(
    wire: ProviderId, error: ProviderError, request_id: str | None
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Status, body and headers of `error` as the built-in provider whose wire is `wire` would
    send it; `x-should-retry` tells the SDK whether retrying can help (never for a spent budget
    or a refused credential)."""
    status = compat_status(error.code, error.status)
    headers = {"x-should-retry": "true" if error.retryable else "false"}
    if error.retry_after_s is not None:
        # Both SDKs read the precise `retry-after-ms` first, as the providers send it.
        headers["retry-after-ms"] = str(max(1, round(error.retry_after_s * 1000)))
        headers["retry-after"] = str(max(1, round(error.retry_after_s)))
    return status, ERROR_BODY[wire](error, status, request_id), headers
