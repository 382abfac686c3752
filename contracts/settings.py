"""Daemon-wide settings."""

from __future__ import annotations

from pydantic import Field

from contracts.base import JsonBool, JsonInt, ModelId, ProviderId, Request, Response
from contracts.usage import Price

MAX_PRICES = 512


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
