"""The one place OpenAI SDK exceptions become taxonomy errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from adapters.errors import from_connection, from_status, from_stream_read
from contracts.base import AuthMode, ProviderId
from contracts.errors import ErrorCode, ProviderError

PROVIDER = ProviderId.OPENAI


def _detail(body: Any) -> tuple[str | None, str | None]:
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            kind = error.get("code") or error.get("type")
            return (str(kind) if kind else None, error.get("message") or error.get("detail"))
    return None, None


@contextmanager
def map_errors(mode: AuthMode | None) -> Iterator[None]:
    """Translate anything the SDK raises; the cause is kept with `from`."""
    import httpx2
    import openai

    try:
        yield
    except openai.APIStatusError as exc:
        error_type, message = _detail(exc.body)
        raise from_status(
            PROVIDER,
            exc.status_code,
            message or exc.message,
            headers=exc.response.headers,
            error_type=error_type,
            upstream_request_id=exc.request_id,
            mode=mode,
        ) from exc
    except (httpx2.TransportError, ValueError) as exc:  # raised while reading, unwrapped
        raise from_stream_read(PROVIDER, exc) from exc
    except openai.APITimeoutError as exc:
        raise from_connection(PROVIDER, True, str(exc)) from exc
    except openai.APIConnectionError as exc:
        raise from_connection(PROVIDER, False, str(exc.__cause__ or exc)) from exc
    except openai.OpenAIError as exc:
        raise ProviderError(
            ErrorCode.UNEXPECTED_ERROR,
            f"OpenAI client error: {type(exc).__name__}",
            "Retry; report it if it persists.",
            provider=PROVIDER,
        ) from exc
