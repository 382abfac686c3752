"""The OpenAI adapter. Every execution and model list takes the direct path (`adapters.pool`:
requests built here, one pooled client per base URL), API keys and Codex sign-ins alike (the
Codex file is read on every request, as the CLI rotates it), so this adapter never loads the
SDK; the differential tests hold it to what the SDK would send."""

from __future__ import annotations

import functools
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import AbstractContextManager, asynccontextmanager
from typing import Any

from adapters.base import AdapterEvent, Credential, Finished
from adapters.clients import host_of
from adapters.openai import api
from adapters.openai import passthrough as openai_passthrough
from adapters.openai.chat import CHAT, ChatMapper, chat_params
from adapters.openai.codex import CODEX_BASE_URL, read_codex_account, read_codex_secret
from adapters.openai.errors import map_errors, stream_failure
from adapters.openai.responses import RESPONSES, ResponsesMapper, responses_params
from adapters.openai.rules import fit
from adapters.passthrough import (
    RelayAnswer,
    RelayRequest,
    UsageScan,
    answer_error,
    compat_status,
    mapped,
)
from adapters.pool import (
    OnError,
    Pool,
    UpstreamRequest,
    error_body,
    key_headers,
    lines,
    streamed,
    whole_body,
)
from adapters.specs import name_of
from adapters.sse_reader import Fields, events, parse, whole_answer
from contracts.base import AuthMode, ProviderId
from contracts.errors import MissingAuth, ProviderError, ProviderUnavailable
from contracts.executions import ExecutionRequest
from contracts.models import ModelCapabilities, ModelInfo

DEFAULT_HOST = "api.openai.com"


class OpenAIAdapter:
    """OpenAI on the direct path, or an endpoint a user added that speaks its wire (`provider`
    its id, `headers` its extra headers, `key_header` how its key travels, None for an
    endpoint without auth). Nothing here retries: the runtime does."""

    def __init__(
        self,
        base_url: str | None = None,
        timeout_s: float = 600.0,
        *,
        wire_api: str = "responses",
        codex_base_url: str = CODEX_BASE_URL,
        provider: ProviderId = ProviderId.OPENAI,
        headers: Mapping[str, str] | None = None,
        key_header: str = "authorization",
        verify_tls: bool = True,
    ) -> None:
        if wire_api not in ("responses", "chat"):
            raise ValueError(f"wire_api must be 'responses' or 'chat', not {wire_api!r}")
        self.provider = provider
        self._host = host_of(base_url, DEFAULT_HOST)
        self._wire_api = wire_api
        table = CHAT if wire_api == "chat" else RESPONSES
        self._built_in = provider == ProviderId.OPENAI
        self.capabilities = table if self._built_in else table.without_sessions()
        self._pool = Pool(base_url or api.DEFAULT_BASE_URL, timeout_s, verify_tls=verify_tls)
        self._codex_pool = Pool(codex_base_url, timeout_s)
        self._extra_headers = api.account_headers() if headers is None else dict(headers)
        self._key_header = key_header
        self._status_error = api.status_error_of(provider)

    async def stream(
        self, request: ExecutionRequest, model: str, credential: Credential, *, whole: bool = False
    ) -> AsyncGenerator[AdapterEvent, None]:
        """One request (Responses API, or Chat Completions for compatible servers), streamed,
        or asked for whole when `whole` (never of the Codex backend, which only streams)."""
        chat = self._wire_api == "chat" and not credential.chatgpt
        whole = whole and not credential.chatgpt
        mapper: ChatMapper | ResponsesMapper = (
            ChatMapper(model, self.provider) if chat else ResponsesMapper(model, self.provider)
        )
        with self._errors(credential):
            secret, extra = self._auth(credential)
            key_header = self._key_header_for(credential)
            if chat:
                params = chat_params(request, model, cache_by_default=self._built_in)
                if whole:  # Chat Completions' default; stream_options only goes with a stream
                    params.pop("stream", None)
                    params.pop("stream_options", None)
                request_out = api.chat(params, secret, extra, key_header)
            else:
                params = responses_params(
                    request,
                    model,
                    codex=credential.chatgpt,
                    to=self.provider,
                    cache_by_default=self._built_in,
                )
                if whole:
                    params["stream"] = False
                request_out = api.responses(params, secret, extra, key_header)
            async with self._pool_for(credential).open(
                request_out, self._on_error(credential)
            ) as response:
                mapper.request_id = response.headers.get("x-request-id")
                if whole and not streamed(response):
                    answer = whole_answer(await whole_body(response))
                    failure = answer.get("error") if chat else None
                    if isinstance(failure, dict):  # a compatible server's failure, answered 200
                        raise stream_failure(
                            failure.get("code"), failure.get("message"), self.provider
                        )
                    events_of = (
                        mapper.whole(answer)
                        if isinstance(mapper, ChatMapper)
                        else mapper.whole(Fields(answer))
                    )
                    for out in events_of:
                        yield out
                    return
                async for out in self._read_stream(lines(response), mapper):
                    yield out

    async def _read_stream(
        self, lines: AsyncIterator[str], mapper: ChatMapper | ResponsesMapper
    ) -> AsyncIterator[AdapterEvent]:
        finished = False
        chat = isinstance(mapper, ChatMapper)
        async for _, data in events(lines):
            if data.startswith("[DONE]"):
                break
            event = parse(data)
            failure = getattr(event, "error", None)
            if chat and failure is not None:
                raise stream_failure(
                    getattr(failure, "code", None),
                    getattr(failure, "message", None),
                    self.provider,
                )
            for out in mapper.feed(event):
                finished = finished or isinstance(out, Finished)
                yield out
        if isinstance(mapper, ChatMapper):
            yield mapper.finish()
        elif not finished:
            raise ProviderUnavailable(
                f"{name_of(self.provider)} ended the stream before response.completed.",
                "Retry the request.",
                provider=self.provider,
                upstream_request_id=mapper.request_id,
            )

    def fit(
        self, request: ExecutionRequest, model: str, info: ModelCapabilities | None
    ) -> ExecutionRequest:
        """The request as OpenAI's API takes it for `model` (see `rules.fit`)."""
        return fit(request, model, info, self.provider, chat=self._wire_api == "chat")

    def _errors(self, credential: Credential) -> AbstractContextManager[None]:
        return map_errors(credential, self._host, self.provider)

    def _key_header_for(self, credential: Credential) -> str | None:
        """The header the secret goes in; none for an endpoint reached without a credential."""
        return None if credential.mode is AuthMode.NONE else self._key_header

    def _auth(self, credential: Credential) -> tuple[str, dict[str, str]]:
        """The secret for this request and the headers that go with it; a Codex sign-in is
        read afresh every time."""
        path = credential.token_file
        if path is None:
            return credential.api_key or "", self._extra_headers
        secret = read_codex_secret(path, chatgpt=credential.chatgpt)
        if not credential.chatgpt:
            return secret, self._extra_headers
        account = {"ChatGPT-Account-ID": read_codex_account(path), "originator": "kata_providers"}
        return secret, {**self._extra_headers, **account}

    @asynccontextmanager
    async def relay(
        self, request: RelayRequest, credential: Credential
    ) -> AsyncIterator[RelayAnswer]:
        """A client's own request, passed upstream with `credential` (see `adapters.passthrough`). A
        ChatGPT-plan sign-in reaches only the Codex backend, which speaks no public API."""
        if credential.chatgpt:
            raise MissingAuth(
                "The ChatGPT-plan Codex sign-in cannot serve the OpenAI-compatible routes: it "
                "only reaches the Codex backend.",
                "Add an OpenAI API key, or sign in with `codex login --with-api-key`.",
                provider=self.provider,
            )
        with self._errors(credential):
            secret, extra = self._auth(credential)
            auth = {**extra, **key_headers(secret, self._key_header_for(credential))}
            async with self._pool.relay(request, auth) as answer:
                answer.body = mapped(
                    answer.body,
                    functools.partial(map_errors, credential, self._host, self.provider),
                )
                yield answer

    def relay_error(
        self, status: int, raw: bytes, headers: list[tuple[str, str]], mode: AuthMode
    ) -> ProviderError:
        """An upstream error answer in the taxonomy."""
        return answer_error(self._status_error, status, error_body(raw), headers, mode)

    def error_event(self, error: ProviderError) -> bytes:
        """The API's own mid-stream error event."""
        return openai_passthrough.error_event(error, compat_status(error.code, error.status))

    def relay_request(self, request: RelayRequest, body: Mapping[str, Any]) -> RelayRequest:
        """A streamed Chat Completions request that does not ask for usage asks for it."""
        return openai_passthrough.asking_for_usage(request, body)

    def usage_scan(self, streamed: bool, hide_usage_only: bool = False) -> UsageScan:
        """Usage and model of a passing Responses or Chat Completions answer."""
        hidden = openai_passthrough.usage_only if hide_usage_only else None
        return UsageScan(openai_passthrough.read_event, streamed, hidden)

    def _on_error(self, credential: Credential) -> OnError:
        return functools.partial(self._status_error, mode=credential.mode)

    def _pool_for(self, credential: Credential) -> Pool:
        """The ChatGPT-plan sign-in goes to the Codex backend; everything else to the API."""
        return self._codex_pool if credential.chatgpt else self._pool

    async def list_models(self, credential: Credential) -> list[ModelInfo]:
        """Every model the credential reaches."""
        with self._errors(credential):
            secret, extra = self._auth(credential)
            request: UpstreamRequest = api.models(secret, extra, self._key_header_for(credential))
            page = await self._pool_for(credential).json(request, self._on_error(credential))
        entries = page.get("data", []) if isinstance(page, dict) else []
        return [api.model_info(entry, self.provider) for entry in entries]

    async def warm(self, credential: Credential) -> None:
        """Have the pooled client built (the SDK is not needed on this path)."""
        with self._errors(credential):
            self._pool_for(credential).session()

    def forget(self, credential: Credential) -> None:
        """Nothing to drop: every request reads its credential afresh."""

    async def aclose(self) -> None:
        """Close every client (and its connection pool)."""
        await self._pool.aclose()
        await self._codex_pool.aclose()
