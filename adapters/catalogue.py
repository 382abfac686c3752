"""Models known without asking the provider: the fallback when no live list can be fetched and
the default model per provider. Only ids and names: limits and dates come from live lists. A
provider a user added has neither (its endpoint's own list, and the default model it was added
with, are all there is)."""

from __future__ import annotations

from adapters.specs import SPECS
from contracts.base import ProviderId
from contracts.models import ModelInfo


def default_model(provider: ProviderId) -> str | None:
    """A built-in provider's default model."""
    spec = SPECS.get(provider)
    return spec.default_model if spec is not None else None


def catalogue(provider: ProviderId) -> list[ModelInfo]:
    """The built-in list for `provider`, newest first as the providers list them (empty for a
    provider a user added)."""
    spec = SPECS.get(provider)
    return [
        ModelInfo(id=model_id, provider=provider, display_name=name)
        for model_id, name in (spec.catalogue if spec is not None else ())
    ]
