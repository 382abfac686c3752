"""The Responses, Chat Completions and Models API requests as they are sent: what the installed
SDK would send, built without it (checked against the SDK in tests/test_wire_differential.py)."""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from adapters.errors import from_answer
from adapters.openai.errors import PROVIDER, error_detail
from adapters.pool import UpstreamRequest, key_headers
from contracts.base import ProviderId
from contracts.errors import ProviderError
from contracts.models import ModelInfo

DEFAULT_BASE_URL = "https://api.openai.com/v1"


def account_headers(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """`OPENAI_ORG_ID` and `OPENAI_PROJECT_ID`, which the SDK sends on every request."""
    extra: dict[str, str] = {}
    if environ.get("OPENAI_ORG_ID"):
        extra["OpenAI-Organization"] = environ["OPENAI_ORG_ID"]
    if environ.get("OPENAI_PROJECT_ID"):
        extra["OpenAI-Project"] = environ["OPENAI_PROJECT_ID"]
    return extra


def headers(
    secret: str, extra: Mapping[str, str], key_header: str | None = "authorization"
) -> dict[str, str]:
    """The headers that matter on every request made with `secret` (a key or a Codex token)."""
    return {**extra, "accept": "application/json", **key_headers(secret, key_header)}


def responses(
    params: dict[str, Any],
    secret: str,
    extra: Mapping[str, str],
    key_header: str | None = "authorization",
) -> UpstreamRequest:
    """`POST /responses` with the parameters `responses.responses_params` made."""
    return UpstreamRequest(
        "POST", "/responses", headers(secret, extra, key_header), json_body=params
    )


def chat(
    params: dict[str, Any],
    secret: str,
    extra: Mapping[str, str],
    key_header: str | None = "authorization",
) -> UpstreamRequest:
    """`POST /chat/completions` with the parameters `chat.chat_params` made."""
    return UpstreamRequest(
        "POST", "/chat/completions", headers(secret, extra, key_header), json_body=params
    )


def models(
    secret: str, extra: Mapping[str, str], key_header: str | None = "authorization"
) -> UpstreamRequest:
    """`GET /models` (one page: the API does not paginate it)."""
    return UpstreamRequest("GET", "/models", headers(secret, extra, key_header))


def status_error_of(provider: ProviderId) -> functools.partial[ProviderError]:
    """An error answer (status, parsed body, headers; the auth mode as `mode=`) of `provider`'s
    endpoint, mapped as the SDK path maps the SDK's status errors."""
    return functools.partial(
        from_answer, provider, detail=error_detail, request_id_header="x-request-id"
    )


status_error = status_error_of(PROVIDER)


def model_info(entry: dict[str, Any], provider: ProviderId = PROVIDER) -> ModelInfo:
    """One entry of the models list. `supported_parameters` (OpenRouter's listing says which
    request parameters each model takes) tells whether it takes tools."""
    created = entry.get("created")
    supported = entry.get("supported_parameters")
    return ModelInfo(
        id=entry["id"],
        provider=provider,
        created_at=datetime.fromtimestamp(created, UTC) if isinstance(created, int) else None,
        tools="tools" in supported if isinstance(supported, list) else None,
    )
