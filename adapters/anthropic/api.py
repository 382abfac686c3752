"""The Messages and Models API requests as they are sent: what the installed SDK would send,
built without it (checked against the SDK in tests/test_wire_differential.py, so an SDK upgrade
that changes any of it fails a test)."""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from adapters.anthropic.bearer import Bearer, auth_headers
from adapters.anthropic.errors import PROVIDER, error_detail
from adapters.anthropic.versions import API_VERSION
from adapters.errors import from_answer
from adapters.pool import UpstreamRequest, key_headers
from contracts.base import ProviderId
from contracts.errors import ProviderError
from contracts.models import ModelCapabilities, ModelInfo
from contracts.options import ReasoningEffort

DEFAULT_BASE_URL = "https://api.anthropic.com"
PAGE = 1000


def custom_headers(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """`ANTHROPIC_CUSTOM_HEADERS` ("Name: value" lines), which the SDK adds to every request."""
    parsed: dict[str, str] = {}
    for line in environ.get("ANTHROPIC_CUSTOM_HEADERS", "").split("\n"):
        colon = line.find(":")
        if colon >= 0:
            parsed[line[:colon].strip()] = line[colon + 1 :].strip()
    return parsed


def headers(
    api_key: str,
    extra: Mapping[str, str],
    bearer: Bearer | None = None,
    key_header: str | None = "x-api-key",
) -> dict[str, str]:
    """The headers that matter on every Messages or Models request: with an API key, or with a
    token session's bearer token and the headers its profile adds (as the SDK sends them)."""
    if bearer is not None:
        sent = {**bearer.headers, **extra, "accept": "application/json", **_version()}
        return {**_without_beta(sent), **auth_headers(bearer, sent)}
    return {**extra, "accept": "application/json", **_version(), **key_headers(api_key, key_header)}


def _without_beta(sent: Mapping[str, str]) -> dict[str, str]:
    return {name: value for name, value in sent.items() if name.lower() != "anthropic-beta"}


def _version() -> dict[str, str]:
    return {"anthropic-version": API_VERSION}


def messages(
    params: dict[str, Any],
    api_key: str,
    extra: Mapping[str, str],
    bearer: Bearer | None = None,
    key_header: str | None = "x-api-key",
) -> UpstreamRequest:
    """`POST /v1/messages` with the parameters `translate.build_params` made."""
    sent = headers(api_key, extra, bearer, key_header)
    return UpstreamRequest("POST", "/v1/messages", sent, json_body=params)


def models_page(
    api_key: str,
    extra: Mapping[str, str],
    after_id: str | None,
    bearer: Bearer | None = None,
    key_header: str | None = "x-api-key",
) -> UpstreamRequest:
    """One page of `GET /v1/models`."""
    params = {"limit": str(PAGE)}
    if after_id:
        params["after_id"] = after_id
    return UpstreamRequest(
        "GET", "/v1/models", headers(api_key, extra, bearer, key_header), params=params
    )


# An error answer (status, parsed body, headers, auth mode), mapped as the SDK path maps the
# SDK's status errors.
def status_error_of(provider: ProviderId) -> functools.partial[ProviderError]:
    """An error answer of `provider`'s endpoint (see `adapters.openai.api.status_error_of`)."""
    return functools.partial(
        from_answer, provider, detail=error_detail, request_id_header="request-id"
    )


status_error = status_error_of(PROVIDER)


def model_info(entry: dict[str, Any], provider: ProviderId = PROVIDER) -> ModelInfo:
    """One entry of a models page."""
    created = entry.get("created_at")
    when = None
    if isinstance(created, str):
        try:
            when = datetime.fromisoformat(created.replace("Z", "+00:00"))
        except ValueError:
            when = None
    return ModelInfo(
        id=entry["id"],
        provider=provider,
        display_name=entry.get("display_name"),
        created_at=when,
        context_window=entry.get("max_input_tokens"),
        max_output_tokens=entry.get("max_tokens"),
        capabilities=capabilities(entry.get("capabilities")),
    )


def _object(node: Any) -> dict[str, Any]:
    return node if isinstance(node, dict) else {}


def _supported(node: Any) -> bool | None:
    value = node.get("supported") if isinstance(node, dict) else None
    return value if isinstance(value, bool) else None


def capabilities(listed: Any) -> ModelCapabilities | None:
    """What a models page's `capabilities` says the model takes (thinking types, effort levels,
    images, PDFs, structured outputs); None when the entry has none."""
    if not isinstance(listed, dict):
        return None
    thinking = _object(listed.get("thinking"))
    types = _object(thinking.get("types"))
    effort = _object(listed.get("effort"))
    levels = [level for level in ReasoningEffort if _supported(effort.get(level.value))]
    return ModelCapabilities(
        reasoning=_supported(thinking),
        efforts=levels if _supported(effort) else [],
        thinking=[name for name, node in types.items() if _supported(node)],
        images=_supported(listed.get("image_input")),
        documents=_supported(listed.get("pdf_input")),
        structured_output=_supported(listed.get("structured_outputs")),
        caching=True,  # every Messages model caches prompts
        source="live",
    )
