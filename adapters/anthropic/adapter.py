"""The Anthropic adapter: one SDK client per credential, reused, closed on shutdown."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from adapters.anthropic.errors import map_errors
from adapters.base import Credential
from contracts.base import AuthMode, ProviderId
from contracts.models import ModelInfo

if TYPE_CHECKING:
    import httpx2
    from anthropic import AsyncAnthropic

PAGE = 1000


class AnthropicAdapter:
    """Anthropic through the official SDK. The SDK never retries: the runtime does."""

    provider = ProviderId.ANTHROPIC

    def __init__(
        self,
        base_url: str | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
        timeout_s: float = 600.0,
    ) -> None:
        self._base_url = base_url
        self._transport = transport
        self._timeout = timeout_s
        self._clients: dict[tuple[object, ...], AsyncAnthropic] = {}

    def _client(self, credential: Credential) -> AsyncAnthropic:
        client = self._clients.get(credential.cache_key)
        if client is None:
            client = self._build(credential)
            self._clients[credential.cache_key] = client
        return client

    def _build(self, credential: Credential) -> AsyncAnthropic:
        import httpx2
        from anthropic import AsyncAnthropic
        from anthropic.lib.credentials import EnvToken

        options: dict[str, Any] = {"base_url": self._base_url, "max_retries": 0}
        options["timeout"] = self._timeout
        if self._transport is not None:
            options["http_client"] = httpx2.AsyncClient(transport=self._transport)
        if credential.mode is AuthMode.API_KEY:
            return AsyncAnthropic(api_key=credential.api_key, **options)
        if credential.profile is not None:
            return AsyncAnthropic(profile=credential.profile, **options)
        return AsyncAnthropic(
            credentials=EnvToken(credential.env_token or "ANTHROPIC_AUTH_TOKEN"), **options
        )

    async def list_models(self, credential: Credential) -> list[ModelInfo]:
        """Every model, following `has_more` pages."""
        client = self._client(credential)
        models: list[ModelInfo] = []
        with map_errors(credential.mode):
            async for model in client.models.list(limit=PAGE):
                models.append(_model(model))
        return models

    async def aclose(self) -> None:
        """Close every client (and its connection pool)."""
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.close()


def _model(model: Any) -> ModelInfo:
    created = getattr(model, "created_at", None)
    extra = getattr(model, "model_extra", None) or {}
    return ModelInfo(
        id=model.id,
        provider=ProviderId.ANTHROPIC,
        display_name=getattr(model, "display_name", None),
        created_at=created if isinstance(created, datetime) else None,
        context_window=getattr(model, "max_input_tokens", None) or extra.get("max_input_tokens"),
        max_output_tokens=getattr(model, "max_tokens", None) or extra.get("max_tokens"),
    )
