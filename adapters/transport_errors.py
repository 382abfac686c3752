"""Failures below HTTP (refused, reset, DNS, timeouts) from either HTTP client the adapters use
(aiohttp on the wire path, httpx2 inside the SDKs), told apart by class name so neither is
imported to ask."""

from __future__ import annotations

from adapters.specs import name_of
from contracts.base import ProviderId
from contracts.errors import (
    NetworkUnreachable,
    ProviderError,
    ProviderUnavailable,
    Timeout,
)


def from_transport(provider: ProviderId, exc: BaseException, host: str | None) -> ProviderError:
    """An error from an HTTP client (aiohttp on the wire path; httpx2 under the SDKs, which
    pass these through while a stream is read and wrap them before a response): no connection
    at all is the user's network; a connection that broke or stalled is the provider's fault."""
    name = name_of(provider)
    where = host or name
    if _is_connect_failure(exc):
        return NetworkUnreachable(
            f"Cannot connect to {where}: {_reason(exc)}.",
            "Check this computer's network connection (and any proxy or VPN); if you set "
            "ANTHROPIC_BASE_URL or OPENAI_BASE_URL, check that address.",
            provider=provider,
        )
    if isinstance(exc, TimeoutError) or _named(exc, "TimeoutException", "APITimeoutError"):
        return Timeout(
            f"{name} did not answer in time.", "Retry, or raise timeout_s.", provider=provider
        )
    return ProviderUnavailable(
        f"The connection to {where} broke ({type(exc).__name__}).",
        "Retry the request; the daemon backs off on its own.",
        provider=provider,
    )


def _named(exc: BaseException, *names: str) -> bool:
    """Whether `exc` is an instance of a class called one of `names` (so the HTTP clients need
    not be imported to ask)."""
    return any(kind.__name__ in names for kind in type(exc).__mro__)


def _is_connect_failure(exc: BaseException) -> bool:
    # aiohttp: ClientConnectorError (DNS, refused, unreachable) and ConnectionTimeoutError;
    # httpx2: ConnectError and ConnectTimeout.
    return _named(
        exc, "ClientConnectorError", "ConnectionTimeoutError", "ConnectError", "ConnectTimeout"
    )


def is_transport_error(exc: BaseException) -> bool:
    """An error of either HTTP client's transport (or a socket timeout), as opposed to a bug."""
    return isinstance(exc, TimeoutError) or _named(exc, "ClientError", "TransportError")


def _reason(exc: BaseException) -> str:
    text = str(exc).lower()
    if "name or service" in text or "nodename" in text or "getaddrinfo" in text:
        return "the name does not resolve (DNS)"
    if "refused" in text:
        return "the connection was refused"
    if "unreachable" in text:
        return "the network is unreachable"
    if "timed out" in text or "timeout" in text:
        return "connecting timed out"
    return type(exc).__name__
