"""Models known without asking the provider: the fallback when no live list can be fetched and
the default model per provider. Only ids and names: limits and dates come from live lists."""

from __future__ import annotations

from contracts.base import ProviderId
from contracts.models import ModelInfo

DEFAULT_MODEL = {ProviderId.ANTHROPIC: "claude-sonnet-5-5", ProviderId.OPENAI: "gpt-5.5"}

_MODELS: dict[ProviderId, list[tuple[str, str | None]]] = {
    ProviderId.ANTHROPIC: [
        ("claude-opus-5-5", "Claude Opus 5.5"),
        ("claude-sonnet-5-5", "Claude Sonnet 5.5"),
        ("claude-haiku-5-5", "Claude Haiku 5.5"),
    ],
    ProviderId.OPENAI: [("gpt-5.5", None), ("gpt-5.4", None), ("gpt-5.4-mini", None)],
}


def catalogue(provider: ProviderId) -> list[ModelInfo]:
    """The built-in list for `provider`, newest first as the providers list them."""
    return [
        ModelInfo(id=model_id, provider=provider, display_name=name)
        for model_id, name in _MODELS[provider]
    ]
