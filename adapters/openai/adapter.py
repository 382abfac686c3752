"""The OpenAI adapter: one SDK client per credential, reused, closed on shutdown."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from adapters.base import Credential
from adapters.openai.codex import read_codex_secret
from adapters.openai.errors import map_errors
from contracts.base import ProviderId
from contracts.models import ModelInfo

if TYPE_CHECKING:
    import httpx2
    from openai import AsyncOpenAI


class OpenAIAdapter:
    """OpenAI through the official SDK. The SDK never retries: the runtime does."""

    provider = ProviderId.OPENAI

    def __init__(
        self,
        base_url: str | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
        timeout_s: float = 600.0,
    ) -> None:
        self._base_url = base_url
        self._transport = transport
        self._timeout = timeout_s
        self._clients: dict[tuple[object, ...], AsyncOpenAI] = {}

    def _client(self, credential: Credential) -> AsyncOpenAI:
        client = self._clients.get(credential.cache_key)
        if client is None:
            client = self._build(credential)
            self._clients[credential.cache_key] = client
        return client

    def _build(self, credential: Credential) -> AsyncOpenAI:
        import httpx2
        from openai import AsyncOpenAI

        options: dict[str, Any] = {"base_url": self._base_url, "max_retries": 0}
        options["timeout"] = self._timeout
        if self._transport is not None:
            options["http_client"] = httpx2.AsyncClient(transport=self._transport)
        path = credential.token_file
        if path is None:
            return AsyncOpenAI(api_key=credential.api_key, **options)
        chatgpt = credential.chatgpt

        async def codex_secret() -> str:
            return read_codex_secret(path, chatgpt=chatgpt)

        return AsyncOpenAI(api_key=codex_secret, **options)

    async def list_models(self, credential: Credential) -> list[ModelInfo]:
        """Every model the credential reaches."""
        client = self._client(credential)
        models: list[ModelInfo] = []
        with map_errors(credential.mode):
            async for model in client.models.list():
                models.append(_model(model))
        return models

    async def aclose(self) -> None:
        """Close every client (and its connection pool)."""
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.close()


def _model(model: Any) -> ModelInfo:
    created = getattr(model, "created", None)
    return ModelInfo(
        id=model.id,
        provider=ProviderId.OPENAI,
        created_at=datetime.fromtimestamp(created, UTC) if isinstance(created, int) else None,
    )
