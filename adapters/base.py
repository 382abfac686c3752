"""The seam between the runtime and a provider: a credential and a narrow adapter Protocol."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from contracts.base import AuthMode, ProviderId
from contracts.models import ModelInfo


@dataclass(frozen=True)
class Credential:
    """How to authenticate one request. Secrets stay out of `repr`; sessions are read lazily."""

    mode: AuthMode
    source: str | None = None
    api_key: str | None = field(default=None, repr=False)
    profile: str | None = None
    env_token: str | None = None
    token_file: Path | None = None
    chatgpt: bool = False

    @property
    def cache_key(self) -> tuple[object, ...]:
        """Identifies the SDK client this credential needs (the key is hashed, not kept)."""
        key_id = hash(self.api_key) if self.api_key else None
        return (self.mode, key_id, self.profile, self.env_token, self.token_file, self.chatgpt)


class ProviderAdapter(Protocol):
    """What the runtime needs from a provider."""

    provider: ProviderId

    async def list_models(self, credential: Credential) -> list[ModelInfo]:
        """Every model the credential reaches (all pages)."""
        ...

    async def aclose(self) -> None:
        """Close every SDK client the adapter opened."""
        ...
