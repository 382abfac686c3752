"""The Responses, Chat Completions and Models APIs on the wire: what the installed SDK would
send, built without it (checked against the SDK in tests/test_wire_differential.py)."""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from adapters.errors import from_answer
from adapters.openai.errors import PROVIDER, error_detail
from adapters.wire import WireRequest
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


def headers(secret: str, extra: Mapping[str, str]) -> dict[str, str]:
    """The headers that matter on every request made with `secret` (a key or a Codex token)."""
    return {
        **extra,
        "accept": "application/json",
        "authorization": f"Bearer {secret}",
    }


def responses(params: dict[str, Any], secret: str, extra: Mapping[str, str]) -> WireRequest:
    """`POST /responses` with the parameters `translate.responses_params` made."""
    return WireRequest("POST", "/responses", headers(secret, extra), json_body=params)


def chat(params: dict[str, Any], secret: str, extra: Mapping[str, str]) -> WireRequest:
    """`POST /chat/completions` with the parameters `translate.chat_params` made."""
    return WireRequest("POST", "/chat/completions", headers(secret, extra), json_body=params)


def models(secret: str, extra: Mapping[str, str]) -> WireRequest:
    """`GET /models` (one page: the API does not paginate it)."""
    return WireRequest("GET", "/models", headers(secret, extra))


# An error answer (status, parsed body, headers, auth mode), mapped as the SDK path maps the
# SDK's status errors.
status_error = functools.partial(
    from_answer, PROVIDER, detail=error_detail, request_id_header="x-request-id"
)


def model_info(entry: dict[str, Any]) -> ModelInfo:
    """One entry of the models list."""
    created = entry.get("created")
    return ModelInfo(
        id=entry["id"],
        provider=PROVIDER,
        created_at=datetime.fromtimestamp(created, UTC) if isinstance(created, int) else None,
    )
