"""Daemon-wide settings."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, WithJsonSchema

from contracts.base import (
    MAX_TAG,
    PRINTABLE,
    JsonBool,
    JsonInt,
    ModelId,
    ProviderId,
    Request,
    Response,
)
from contracts.routes import ROUTE_NAME, RouteName
from contracts.usage import Price

MAX_PRICES = 512
MAX_AGENT_ROUTES = 128
# An agent tag as `metadata.agent` holds it.
AgentTag = Annotated[str, Field(min_length=1, max_length=MAX_TAG, pattern=PRINTABLE)]


def _agent_routes(nullable: bool) -> dict[str, Any]:
    # Written out, as contracts.base.Metadata is: the tags' rule as `propertyNames` (pydantic
    # would write `patternProperties`, which says something else).
    route: dict[str, Any] = {
        "type": "string",
        "minLength": 2,
        "maxLength": 64,
        "pattern": ROUTE_NAME,
    }
    return {
        "type": "object",
        "maxProperties": MAX_AGENT_ROUTES,
        "propertyNames": {"minLength": 1, "maxLength": MAX_TAG, "pattern": PRINTABLE},
        "additionalProperties": {"anyOf": [route, {"type": "null"}]} if nullable else route,
    }


class DaemonSettings(Response):
    """Settings that are not about one provider."""

    default_provider: ProviderId | None = Field(
        default=None, description="Used when a request names no provider; None: first usable."
    )
    openai_chatgpt_backend: bool = Field(
        default=False,
        description=(
            "Opt in to using a Codex CLI ChatGPT-plan sign-in through the Codex backend, which "
            "OpenAI has not documented for third-party applications."
        ),
    )
    prices: dict[ModelId, Price] = Field(
        default_factory=dict,
        max_length=MAX_PRICES,
        description=(
            "Your prices per model id, over the shipped table (USD per million tokens); at most "
            f"{MAX_PRICES} are kept."
        ),
    )
    ledger_retention_days: int = Field(
        default=90, description="How long the ledger keeps finished executions."
    )
    agent_routes: Annotated[dict[AgentTag, RouteName], WithJsonSchema(_agent_routes(False))] = (
        Field(
            default_factory=dict,
            max_length=MAX_AGENT_ROUTES,
            description="An agent tag (`metadata.agent`) to the route its requests take when they "
            "name no provider or model.",
        )
    )


class DaemonSettingsUpdate(Request):
    """A partial update: omitted fields keep their value; `default_provider: null` clears it."""

    default_provider: ProviderId | None = None
    openai_chatgpt_backend: JsonBool | None = None
    prices: dict[ModelId, Price | None] | None = Field(
        default=None,
        max_length=MAX_PRICES,
        description="Merged into the current prices; a model set to null loses its price.",
    )
    ledger_retention_days: JsonInt | None = Field(default=None, ge=1, le=3650)
    agent_routes: (
        Annotated[dict[AgentTag, RouteName | None], WithJsonSchema(_agent_routes(True))] | None
    ) = Field(
        default=None,
        max_length=MAX_AGENT_ROUTES,
        description="Merged into the current map; an agent set to null loses its route.",
    )
