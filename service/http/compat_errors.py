"""The daemon's own errors on the provider-compatible routes, in the provider's error shape and
status, so the provider's SDK raises its own exception types. The one place a path decides which
wire's shape an error takes: the routes, the edge and the last resort all ask here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from adapters.passthrough import compat_status
from adapters.specs import SPECS
from adapters.wire import Wire
from contracts.base import ProviderId
from contracts.errors import ProviderError

if TYPE_CHECKING:
    from service.providers.provider_book import ProviderBook

# Any provider's compatible routes, by id (`/providers/<id>/…`): the provider's base URL.
BY_ID = "/providers/"
# Everything under a built-in provider's first path segment answers errors in its wire's shape
# (an unknown path included); under `/providers/<id>/`, in the shape of the wire that provider
# speaks (OpenAI's for an id no provider has: the shape most compatible clients read).
SHAPED = {
    "/" + spec.compat_prefix.strip("/").split("/")[0] + "/": spec.id for spec in SPECS.values()
}
FALLBACK = ProviderId.OPENAI
# The daemon's id for a request on these routes, beside the provider's own `x-request-id`.
KATA_REQUEST_ID = b"x-kata-request-id"


def is_compat(path: str) -> bool:
    """Whether `path` is one of the compatible routes (where `x-request-id` is the provider's)."""
    return path.startswith(BY_ID) or any(path.startswith(prefix) for prefix in SHAPED)


def shaped_for(path: str, app: Any) -> Wire | None:
    """The wire whose error shape `path` answers in; None for the daemon's own routes. `app`
    (the ASGI scope's) holds the runtime, which knows each provider's wire."""
    runtime = getattr(getattr(app, "state", None), "runtime", None)
    if runtime is None:
        return None
    book: ProviderBook = runtime.book
    if path.startswith(BY_ID):
        try:
            provider = ProviderId(path[len(BY_ID) :].partition("/")[0])
        except ValueError:
            provider = FALLBACK
        return book.wire_of(provider if provider in book.providers else FALLBACK)
    for prefix, provider in SHAPED.items():
        if path.startswith(prefix):
            return book.wire_of(provider)
    return None


def compat_error(
    wire: Wire, error: ProviderError, request_id: str | None
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Status, body and headers of `error` as `wire`'s own API would send it; `x-should-retry`
    tells the SDK whether retrying can help (never for a spent budget or a refused
    credential)."""
    status = compat_status(error.code, error.status)
    headers = {"x-should-retry": "true" if error.retryable else "false"}
    if error.retry_after_s is not None:
        # Both SDKs read the precise `retry-after-ms` first, as the providers send it.
        headers["retry-after-ms"] = str(max(1, round(error.retry_after_s * 1000)))
        headers["retry-after"] = str(max(1, round(error.retry_after_s)))
    return status, wire.errors.body(error, status, request_id), headers
