"""Provider failures to the taxonomy: the rules every adapter shares.

Each adapter runs every SDK call inside `boundary()` with its own small `map_sdk` (SDK exception
types to `from_status`, `from_transport` or `session_failed`), so the two providers can never
disagree on what a status means, and nothing an SDK raises leaves an adapter untranslated.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from urllib.parse import urlsplit

from adapters.redaction import redact
from adapters.specs import name_of
from adapters.transport_errors import from_transport, is_transport_error
from contracts.base import AuthMode, ProviderId
from contracts.errors import (
    InvalidAuth,
    InvalidRequest,
    ModelNotFound,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
    SessionExpired,
    SessionFailed,
    Timeout,
    UnexpectedError,
)

MAX_RETRY_AFTER_S = 60.0
SHOULD_RETRY = {"true": True, "false": False}
CONTEXT_MARKERS = (
    "context length",
    "context window",
    "too many tokens",
    "prompt is too long",
    "maximum context",
    "context_length_exceeded",
)


def retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait, from `retry-after-ms`, else `retry-after` as seconds or an HTTP date."""
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def from_status(
    provider: ProviderId,
    status: int,
    message: str,
    *,
    headers: Mapping[str, str],
    error_type: str | None,
    upstream_request_id: str | None,
    mode: AuthMode | None,
) -> ProviderError:
    """The taxonomy error for an HTTP error answer from the provider (or an error event inside
    a stream, given the status its type stands for)."""
    name = name_of(provider)
    should_retry = SHOULD_RETRY.get(headers.get("x-should-retry", "").lower())

    def make(
        kind: type[ProviderError], text: str, remediation: str, wait: float | None = None
    ) -> ProviderError:
        return kind(
            text,
            remediation,
            provider=provider,
            upstream_status=status,
            upstream_request_id=upstream_request_id,
            retry_after_s=None if wait is None else min(wait, MAX_RETRY_AFTER_S),
            retryable=should_retry,
        )

    lowered = f"{message} {error_type or ''}".lower()
    what = "session" if mode is AuthMode.TOKEN_SESSION else "API key"
    if status == 401:
        if mode is AuthMode.TOKEN_SESSION and "expired" in lowered:
            return make(
                SessionExpired,
                f"{name} says the session has expired: {message}",
                "Sign in again with the provider's CLI, or add an API key and allow fallback.",
            )
        return make(
            InvalidAuth,
            f"{name} rejected the {what} (401): {message}",
            f"Check the {what} for {name}; replace it on the status page if it was revoked.",
        )
    if status == 403:
        # Permission, not identity: the credential is valid but may not do this.
        return make(
            InvalidAuth,
            f"{name} refused this request with the {what} (403): {message}",
            f"The {what} works but lacks permission for this model or feature; check the "
            f"account's permissions with {name}.",
        )
    if status == 429:
        return make(
            RateLimited,
            f"{name} is rate limiting: {message}",
            "Wait and retry, or lower the request rate.",
            retry_after(headers),
        )
    if 300 <= status < 400:
        # Never followed: a credential stays with the origin it was configured for. Only where
        # it points is said: a redirect's query may carry a signature or a token.
        where = _origin(headers.get("location", ""))
        return make(
            InvalidRequest,
            f"{name} answered with a redirect ({status}) to {where}; the daemon does not follow "
            "redirects, so a key never leaves the address it was stored for.",
            "Set the provider's base URL to the address it redirects to.",
        )
    if status == 404 or error_type == "model_not_found":
        return make(
            ModelNotFound,
            f"{name} does not know that model: {message}",
            "Pick a model from the model list.",
        )
    if status in (400, 409, 413, 422):
        if any(marker in lowered for marker in CONTEXT_MARKERS):
            return make(
                InvalidRequest,
                f"The request exceeds the model's context window: {message}",
                "Shorten the conversation or lower max_tokens.",
            )
        return make(
            InvalidRequest,
            f"{name} refused the request ({status}): {message}",
            "Fix the request as the message says.",
        )
    if status in (408, 504):
        return make(
            Timeout,
            f"{name} timed out ({status}): {message}",
            "Retry; if it persists, use a smaller request.",
        )
    if status >= 500:
        return make(
            ProviderUnavailable,
            f"{name} is unavailable ({status}): {message}",
            "Retry shortly; the daemon backs off on its own.",
            retry_after(headers),
        )
    return make(
        UnexpectedError,
        f"{name} answered {status}: {message}",
        "Retry; report it if it persists.",
    )


def _origin(location: str) -> str:
    """scheme://host[:port] of a redirect's target; a relative one stays on the same server."""
    parts = urlsplit(location)
    if not parts.scheme or not parts.netloc:
        return "another path on the same server"
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"[:200]


def fallback_message(status: int, body: object) -> str:
    """The message for an error answer that carries none of its own, worded as the SDKs word
    theirs (so both paths report the same thing)."""
    if isinstance(body, str):
        return body or f"Error code: {status}"
    return f"Error code: {status} - {body}"


def from_answer(
    provider: ProviderId,
    status: int,
    body: object,
    headers: Mapping[str, str],
    mode: AuthMode | None,
    *,
    detail: Callable[[object], tuple[str | None, str | None]],
    request_id_header: str,
) -> ProviderError:
    """An error answer read off the wire (status, parsed body, headers), mapped as the SDK path
    maps the SDK's status errors; `detail` is the provider's reading of its error body."""
    error_type, message = detail(body)
    return from_status(
        provider,
        status,
        message or fallback_message(status, body),
        headers=headers,
        error_type=error_type,
        upstream_request_id=headers.get(request_id_header),
        mode=mode,
    )


def malformed_stream(provider: ProviderId) -> ProviderError:
    """A stream event, or a whole answer, that is not what the wire protocol allows."""
    return UnexpectedError(
        f"{name_of(provider)} sent a malformed answer (not the JSON its API sends).",
        "Retry the request; report it if it persists.",
        provider=provider,
    )


def session_failed(provider: ProviderId, exc: BaseException, renew: str) -> ProviderError:
    """The SDK's credential provider could not produce a token (unreadable or deleted profile,
    a refresh the provider refused)."""
    return SessionFailed(
        f"The {name_of(provider)} token session cannot be used: {exc}",
        renew,
        provider=provider,
    )


def adapter_failed(provider: ProviderId, exc: BaseException) -> ProviderError:
    """Anything else raised while building a client, sending or reading: our bug or an SDK change,
    reported as such and never as a dropped connection."""
    return UnexpectedError(
        f"The {name_of(provider)} request failed inside the daemon ({type(exc).__name__}: "
        f"{str(exc)[:300]}).",
        "Retry; if it persists, report it with the daemon log.",
        provider=provider,
    )


@contextmanager
def boundary(
    provider: ProviderId,
    map_sdk: Callable[[Exception], ProviderError | None],
    *,
    secrets: Iterable[str | None] = (),
    host: str | None = None,
) -> Iterator[None]:
    """The one boundary every SDK call runs inside: SDK exceptions through the adapter's
    `map_sdk`, transport errors, anything else as an adapter failure; and every message
    redacted of the credential in use and of anything shaped like one."""
    try:
        yield
    except ProviderError as error:
        _redact(error, secrets)
        raise
    except (GeneratorExit, asyncio.CancelledError):
        raise
    except Exception as exc:
        mapped = map_sdk(exc)
        if mapped is None:
            if is_transport_error(exc):
                mapped = from_transport(provider, exc, host)
            elif isinstance(exc, ValueError):  # an event or answer that is not JSON
                mapped = malformed_stream(provider)
            else:
                mapped = adapter_failed(provider, exc)
        _redact(mapped, secrets)
        raise mapped from exc


def _redact(error: ProviderError, secrets: Iterable[str | None]) -> None:
    error.message = redact(error.message, secrets)
    error.args = (error.message,)
