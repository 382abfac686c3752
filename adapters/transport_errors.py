"""Failures below HTTP (refused, reset, DNS, timeouts) from either HTTP client the adapters use
(aiohttp on the direct path, httpx2 inside the SDKs), told apart by class name so neither is
imported to ask."""

from __future__ import annotations

from adapters.specs import SPECS, name_of
from contracts.base import ProviderId
from contracts.errors import (
    NetworkUnreachable,
    ProviderError,
    ProviderUnavailable,
    Timeout,
)


def from_transport(provider: ProviderId, exc: BaseException, host: str | None) -> ProviderError:
    """An error from an HTTP client (aiohttp on the direct path; httpx2 under the SDKs, which
    pass these through while a stream is read and wrap them before a response): no connection
    at all is the user's network; a connection that broke or stalled is the provider's fault."""
    name = name_of(provider)
    where = host or name
    if _is_certificate_failure(exc):
        # Not the network, and not worth retrying: the server's certificate is not trusted.
        return NetworkUnreachable(
            f"The TLS certificate of {where} is not trusted (self-signed, expired, or for "
            "another name).",
            "Check the address. If it is your own server with a self-signed certificate, add "
            "the provider with verify_tls: false (an explicit opt-in).",
            provider=provider,
            retryable=False,
        )
    if _is_connect_failure(exc):
        return NetworkUnreachable(
            f"Cannot connect to {where}: {_reason(exc)}.",
            "Check this computer's network connection (and any proxy or VPN), and "
            + _address(provider),
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


def _address(provider: ProviderId) -> str:
    """Where the address it could not reach was set."""
    spec = SPECS.get(provider)
    if spec is None:
        return "the base URL the provider was added with (`kata-providers providers list`)."
    return f"{spec.base_url_env} if you set it."


def _is_certificate_failure(exc: BaseException) -> bool:
    # aiohttp: ClientConnectorCertificateError; httpx2 wraps ssl's SSLCertVerificationError.
    chain: BaseException | None = exc
    for _ in range(8):  # the causes an HTTP client wraps it in
        if chain is None:
            break
        if _named(chain, "ClientConnectorCertificateError", "SSLCertVerificationError"):
            return True
        chain = chain.__cause__ or chain.__context__
    return "certificate_verify_failed" in str(exc).lower()


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
