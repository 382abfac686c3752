"""Model listings with provenance."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import Field

from contracts.base import AuthMode, ProviderId, Response
from contracts.error_body import ErrorBody
from contracts.options import ReasoningEffort


class Provenance(StrEnum):
    """Where a model list came from."""

    LIVE = "live"
    CACHED = "cached"
    CATALOGUE = "catalogue"
    NOT_OFFERED = "not_offered"  # the endpoint has no model list (404): name models yourself


class ModelCapabilities(Response):
    """What a model takes, as its provider's model list says (Anthropic's does) or the built-in
    catalogue otherwise; null where neither says, and then nothing is refused for it."""

    reasoning: bool | None = None
    tools: bool | None = None
    efforts: list[ReasoningEffort] | None = Field(
        default=None, description="The reasoning effort levels it takes."
    )
    thinking: list[str] | None = Field(
        default=None,
        description="Anthropic's `thinking` types it takes (adaptive, enabled, disabled, …).",
    )
    images: bool | None = None
    documents: bool | None = Field(default=None, description="Whether it takes PDFs.")
    structured_output: bool | None = None
    caching: bool | None = None
    source: Literal["live", "catalogue"] = Field(
        default="catalogue", description="Who said it: the provider's model list, or ours."
    )


class ModelInfo(Response):
    """One model a provider serves."""

    id: str
    provider: ProviderId
    display_name: str | None = None
    created_at: datetime | None = None
    context_window: int | None = None
    max_output_tokens: int | None = None
    tools: bool | None = Field(
        default=None,
        description="Whether the model takes tools, when the listing says (null: not said).",
    )
    capabilities: ModelCapabilities | None = None


class ProviderModels(Response):
    """One provider's model list and how fresh it is."""

    provider: ProviderId
    provenance: Provenance
    fetched_at: datetime | None
    stale: bool
    auth_mode: AuthMode | None = Field(description="The auth mode that reaches these models.")
    error: ErrorBody | None = None
    models: list[ModelInfo]


class ModelList(Response):
    """Models of every provider asked for."""

    providers: list[ProviderModels]
