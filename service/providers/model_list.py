"""Model lists per provider: live when possible, else cached (marked stale), else the catalogue.

The cache lives in memory and in `models.json` in the data folder, so a restart starts from the
last live answer instead of the catalogue.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import AwareDatetime, BaseModel, ValidationError

from adapters.base import ProviderAdapter
from adapters.catalogue import capabilities_of, catalogue
from adapters.private_files import damaged, set_aside, write_private_json
from contracts.base import AuthMode, ProviderId
from contracts.errors import ProviderError
from contracts.models import ModelInfo, Provenance, ProviderModels

if TYPE_CHECKING:
    from service.providers.provider_book import ProviderBook

log = logging.getLogger("kata.models")

FILE_NAME = "models.json"
# What an endpoint without a model list answers `GET /models` with (Ollama's OpenAI layer
# without it, Azure deployments, llama.cpp builds): 404, or 405 for a route it does not serve.
NO_LIST = frozenset({404, 405})
Fetch = Callable[[ProviderId], Awaitable[tuple[list[ModelInfo], AuthMode]]]


class CacheEntry(BaseModel):
    """One provider's last live list."""

    fetched_at: AwareDatetime
    auth_mode: AuthMode
    models: list[ModelInfo]


class ModelCache:
    """Serves each provider's models with their provenance."""

    def __init__(
        self,
        data_dir: Path,
        fetch: Fetch,
        now: Callable[[], datetime],
        ttl_s: float = 600.0,
        report: Callable[[ProviderError], None] = lambda _: None,
    ) -> None:
        self._path = data_dir / FILE_NAME
        self._fetch = fetch
        self._now = now
        self._ttl = timedelta(seconds=ttl_s)
        self._report = report
        self._cache: dict[ProviderId, CacheEntry] | None = None
        self._lock = asyncio.Lock()

    async def _entries(self) -> dict[ProviderId, CacheEntry]:
        if self._cache is None:
            async with self._lock:
                if self._cache is None:
                    entries, problem = await asyncio.to_thread(self._load)
                    self._cache = entries
                    if problem is not None:
                        self._report(problem)
        return self._cache if self._cache is not None else {}

    def _load(self) -> tuple[dict[ProviderId, CacheEntry], ProviderError | None]:
        """The cache file, or empty; a damaged one (any way at all) is kept aside."""
        try:
            raw = json.loads(self._path.read_text(encoding="utf-8"))
            return {ProviderId(k): CacheEntry.model_validate(v) for k, v in raw.items()}, None
        except FileNotFoundError:
            return {}, None
        except (OSError, ValueError, ValidationError, AttributeError, TypeError) as exc:
            reason = f"cannot be used ({type(exc).__name__})"
            log.warning("model cache unusable; starting empty", extra={"path": str(self._path)})
            aside = set_aside(self._path)
            return {}, damaged(self._path, reason, aside, "Nothing to do: it is rebuilt.")

    async def _save(self, entries: dict[ProviderId, CacheEntry]) -> None:
        data = {p.value: e.model_dump(mode="json") for p, e in entries.items()}
        try:
            async with self._lock:  # saves land in the order they were made
                await asyncio.to_thread(write_private_json, self._path, data)
        except ProviderError as error:  # a cache that cannot be written is only a lost cache
            log.warning("model cache not saved", extra={"reason": error.message})

    async def get(self, provider: ProviderId, refresh: bool) -> tuple[ProviderModels, bool]:
        """The provider's models, and whether a live fetch just happened."""
        entries = await self._entries()
        entry = entries.get(provider)
        fresh = entry is not None and self._now() - entry.fetched_at < self._ttl
        if entry is not None and fresh and not refresh:
            return self._answer(provider, entry, Provenance.CACHED, stale=False), False
        try:
            models, mode = await self._fetch(provider)
        except ProviderError as error:
            log.info(
                "model list unavailable",
                extra={"provider": provider.value, "code": error.code.value},
            )
            if entry is not None:
                return self._answer(
                    provider, entry, Provenance.CACHED, stale=True, error=error
                ), False
            return unfetched(provider, error), False
        entry = CacheEntry(fetched_at=self._now(), auth_mode=mode, models=models)
        entries[provider] = entry
        await self._save(entries)
        return self._answer(provider, entry, Provenance.LIVE, stale=False), True

    def model(self, provider: ProviderId, model: str) -> ModelInfo | None:
        """What the last list of `provider` said of `model`, if it listed it (no I/O)."""
        entry = (self._cache or {}).get(provider)
        if entry is None:
            return None
        return next((info for info in entry.models if info.id == model), None)

    async def forget(self, provider: ProviderId) -> None:
        """A provider a user added was removed: its list goes too."""
        entries = await self._entries()
        if entries.pop(provider, None) is not None:
            await self._save(entries)

    @staticmethod
    def _answer(
        provider: ProviderId,
        entry: CacheEntry,
        provenance: Provenance,
        *,
        stale: bool,
        error: ProviderError | None = None,
    ) -> ProviderModels:
        return ProviderModels(
            provider=provider,
            provenance=provenance,
            fetched_at=entry.fetched_at,
            stale=stale,
            auth_mode=entry.auth_mode,
            error=error.body() if error else None,
            models=entry.models,
        )


def unfetched(provider: ProviderId, error: ProviderError) -> ProviderModels:
    """The listing when no live list could be had and none is cached: the built-in catalogue,
    stale, with the error; or, for an endpoint that offers no list at all (404/405, and no
    catalogue: a provider a user added), `not_offered` (executions work with a named model)."""
    offered = catalogue(provider)
    none = error.upstream_status in NO_LIST and not offered
    return ProviderModels(
        provider=provider,
        provenance=Provenance.NOT_OFFERED if none else Provenance.CATALOGUE,
        fetched_at=None,
        stale=not none,
        auth_mode=None,
        error=None if none else error.body(),
        models=offered,
    )


def models_fetcher(book: ProviderBook, adapters: Mapping[ProviderId, ProviderAdapter]) -> Fetch:
    """The live models call the model cache makes: the credential in force, and its mode."""

    async def fetch(provider: ProviderId) -> tuple[list[ModelInfo], AuthMode]:
        credential, _ = book.credential(provider)
        listed = await adapters[provider].list_models(credential)
        # What a model takes: the list's word where it says, else the catalogue's.
        return [
            model
            if model.capabilities is not None
            else model.model_copy(update={"capabilities": capabilities_of(provider, model.id)})
            for model in listed
        ], credential.mode

    return fetch
