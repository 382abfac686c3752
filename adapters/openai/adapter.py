"""The OpenAI adapter: one SDK client per credential, reused, closed on shutdown."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from adapters.base import AdapterEvent, Credential, Finished
from adapters.capabilities import OPENAI_CHAT, OPENAI_RESPONSES
from adapters.clients import SdkClients, host_of, sdk_options
from adapters.openai.codex import CODEX_BASE_URL, read_codex_account, read_codex_secret
from adapters.openai.errors import map_errors
from adapters.openai.translate import (
    ChatMapper,
    ResponsesMapper,
    chat_params,
    responses_params,
    stream_error,
)
from adapters.sse_reader import events, parse
from contracts.base import ProviderId
from contracts.errors import ProviderUnavailable
from contracts.executions import ExecutionRequest
from contracts.models import ModelInfo

if TYPE_CHECKING:
    import httpx2
    from openai import AsyncOpenAI


DEFAULT_HOST = "api.openai.com"


class OpenAIAdapter:
    """OpenAI through the official SDK. The SDK never retries: the runtime does."""

    provider = ProviderId.OPENAI

    def __init__(
        self,
        base_url: str | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
        timeout_s: float = 600.0,
        *,
        wire_api: str = "responses",
        codex_base_url: str = CODEX_BASE_URL,
    ) -> None:
        if wire_api not in ("responses", "chat"):
            raise ValueError(f"wire_api must be 'responses' or 'chat', not {wire_api!r}")
        self._base_url = base_url
        self._host = host_of(base_url, DEFAULT_HOST)
        self._transport = transport
        self._timeout = timeout_s
        self._wire_api = wire_api
        self.capabilities = OPENAI_CHAT if wire_api == "chat" else OPENAI_RESPONSES
        self._codex_base_url = codex_base_url
        self._clients: SdkClients[AsyncOpenAI] = SdkClients(self._build)
        self._client = self._clients.get

    def _build(self, credential: Credential) -> AsyncOpenAI:
        from openai import AsyncOpenAI

        options = sdk_options(self._base_url, self._transport, self._timeout)
        path = credential.token_file
        if path is None:
            return AsyncOpenAI(api_key=credential.api_key, **options)
        chatgpt = credential.chatgpt

        async def codex_secret() -> str:
            # Re-read on every request: the Codex CLI rotates its tokens in place.
            return read_codex_secret(path, chatgpt=chatgpt)

        if chatgpt:
            options["base_url"] = self._codex_base_url
            options["default_headers"] = {
                "ChatGPT-Account-ID": read_codex_account(path),
                "originator": "kata_providers",
            }
        return AsyncOpenAI(api_key=codex_secret, **options)

    async def stream(
        self, request: ExecutionRequest, model: str, credential: Credential
    ) -> AsyncGenerator[AdapterEvent, None]:
        """One request, streamed (Responses API, or Chat Completions for compatible servers)."""
        chat = self._wire_api == "chat" and not credential.chatgpt
        mapper: ChatMapper | ResponsesMapper = ChatMapper(model) if chat else ResponsesMapper(model)
        finished = False
        with map_errors(credential, self._host):
            client = self._client(credential)
            if chat:
                raw: Any = client.chat.completions.with_streaming_response.create(
                    **chat_params(request, model)
                )
            else:
                params = responses_params(request, model, codex=credential.chatgpt)
                raw = client.responses.with_streaming_response.create(**params)
            async with raw as response:
                mapper.request_id = response.headers.get("x-request-id")
                async for _, data in events(response.iter_lines()):
                    if data.startswith("[DONE]"):
                        break
                    event = parse(data)
                    failure = getattr(event, "error", None)
                    if chat and failure is not None:
                        raise stream_error(
                            getattr(failure, "code", None), getattr(failure, "message", None)
                        )
                    for out in mapper.feed(event):
                        finished = finished or isinstance(out, Finished)
                        yield out
        if isinstance(mapper, ChatMapper):
            yield mapper.finish()
        elif not finished:
            raise ProviderUnavailable(
                "OpenAI ended the stream before response.completed.",
                "Retry the request.",
                provider=ProviderId.OPENAI,
                upstream_request_id=mapper.request_id,
            )

    async def list_models(self, credential: Credential) -> list[ModelInfo]:
        """Every model the credential reaches."""
        models: list[ModelInfo] = []
        with map_errors(credential, self._host):
            client = self._client(credential)
            async for model in client.models.list():
                models.append(_model(model))
        return models

    async def warm(self, credential: Credential) -> None:
        """Have the client for `credential` built (importing the SDK off the event loop)."""
        with map_errors(credential, self._host):
            await self._clients.warm(credential)

    def forget(self, credential: Credential) -> None:
        """Drop the client for `credential`; the next request reads the credential afresh."""
        self._clients.forget(credential)

    async def aclose(self) -> None:
        """Close every client (and its connection pool)."""
        await self._clients.aclose()


def _model(model: Any) -> ModelInfo:
    created = getattr(model, "created", None)
    return ModelInfo(
        id=model.id,
        provider=ProviderId.OPENAI,
        created_at=datetime.fromtimestamp(created, UTC) if isinstance(created, int) else None,
    )
