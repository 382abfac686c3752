"""Models known without asking the provider: the fallback when no live list can be fetched and
the default model per provider. Ids, names and what each takes: limits and dates come from
live lists. A
provider a user added has neither (its endpoint's own list, and the default model it was added
with, are all there is)."""

from __future__ import annotations

from adapters.specs import SPECS
from contracts.base import ProviderId
from contracts.models import ModelCapabilities, ModelInfo


def default_model(provider: ProviderId) -> str | None:
    """A built-in provider's default model."""
    spec = SPECS.get(provider)
    return spec.default_model if spec is not None else None


def catalogue(provider: ProviderId) -> list[ModelInfo]:
    """The built-in list for `provider`, newest first as the providers list them (empty for a
    provider a user added)."""
    spec = SPECS.get(provider)
    return [
        ModelInfo(id=model_id, provider=provider, display_name=name, capabilities=capabilities)
        for model_id, name, capabilities in (spec.catalogue if spec is not None else ())
    ]


def capabilities_of(provider: ProviderId, model: str) -> ModelCapabilities | None:
    """What the catalogue says `model` takes (a dated snapshot as its alias); None if it does
    not list it."""
    spec = SPECS.get(provider)
    for model_id, _, capabilities in spec.catalogue if spec is not None else ():
        if model == model_id or model.startswith(f"{model_id}-20"):
            return capabilities
    return None
