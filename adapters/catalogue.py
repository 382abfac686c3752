"""Models known without asking the provider: the fallback when no live list can be fetched and
the default model per provider. Only ids and names: limits and dates come from live lists."""

from __future__ import annotations

from adapters.specs import SPECS
from contracts.base import ProviderId
from contracts.models import ModelInfo

DEFAULT_MODEL = {provider: spec.default_model for provider, spec in SPECS.items()}


def catalogue(provider: ProviderId) -> list[ModelInfo]:
    """The built-in list for `provider`, newest first as the providers list them."""
    return [
        ModelInfo(id=model_id, provider=provider, display_name=name)
        for model_id, name in SPECS[provider].catalogue
    ]
