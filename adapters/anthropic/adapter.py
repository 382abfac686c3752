"""The Anthropic adapter. API keys, and token sessions whose token can be sent as it stands
(`adapters.anthropic.bearer`), take the direct path (`adapters.pool`: requests built here, one
pooled client); the other token sessions go through the SDK, whose credential providers read
profiles and refresh tokens (one SDK client per credential, reused, closed on shutdown)."""

from __future__ import annotations

import functools
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import AbstractContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any

from adapters.anthropic import api
from adapters.anthropic import passthrough as anthropic_passthrough
from adapters.anthropic.bearer import Bearer, auth_headers, bearer
from adapters.anthropic.body import MESSAGES, build_params, fit
from adapters.anthropic.errors import map_errors, stream_failure
from adapters.anthropic.passthrough import sdk_relay
from adapters.anthropic.translate import EventMapper, message_events
from adapters.base import AdapterEvent, Credential, Finished
from adapters.clients import SdkClients, host_of, sdk_options
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
    error_body,
    key_headers,
    lines,
    streamed,
    whole_body,
)
from adapters.specs import name_of
from adapters.sse_reader import events, parse, whole_answer
from adapters.upstream_time import answered, timed
from contracts.base import AuthMode, ProviderId
from contracts.errors import ProviderError, ProviderUnavailable
from contracts.executions import ExecutionRequest
from contracts.models import ModelCapabilities, ModelInfo

if TYPE_CHECKING:
    import httpx2
    from anthropic import AsyncAnthropic

DEFAULT_HOST = "api.anthropic.com"


class AnthropicAdapter:
    """Anthropic on the direct path (the SDK for token sessions that need its credential
    providers), or an endpoint a user added that speaks the Messages wire (`provider` its id,
    `headers` its extra headers, `key_header` how its key travels). The SDK never retries: the
    runtime does."""

    def __init__(
        self,
        base_url: str | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
        timeout_s: float = 600.0,
        *,
        provider: ProviderId = ProviderId.ANTHROPIC,
        headers: Mapping[str, str] | None = None,
        key_header: str = "x-api-key",
        verify_tls: bool = True,
    ) -> None:
        self.provider = provider
        added = provider != ProviderId.ANTHROPIC
        self.capabilities = MESSAGES.without_sessions() if added else MESSAGES
        self._built_in = not added
        self._key_header = key_header
        self._status_error = api.status_error_of(provider)
        self._base_url = base_url
        self._host = host_of(base_url, DEFAULT_HOST)
        self._transport = transport
        self._timeout = timeout_s
        self._clients: SdkClients[AsyncAnthropic] = SdkClients(self._build)
        self._client = self._clients.get
        self._pool = Pool(base_url or api.DEFAULT_BASE_URL, timeout_s, verify_tls=verify_tls)
        self._extra_headers = api.custom_headers() if headers is None else dict(headers)
        # Refreshable tokens the provider refused on the direct path: the SDK's path (which
        # refreshes them) serves them from then on. Bounded: a token is refused once.
        self._refused: set[int] = set()

    def _bearer(self, credential: Credential) -> Bearer | None:
        """The token session's bearer token for the direct path, or None for the SDK's path (an
        injected transport is the SDK's: tests of that path keep it)."""
        if credential.mode is not AuthMode.TOKEN_SESSION or self._transport is not None:
            return None
        found = bearer(credential)
        if found is None or hash(found.token) in self._refused:
            return None
        return found

    def _refused_direct(self, token: Bearer, status: int | None) -> None:
        # Only a refreshable token: for any other the SDK would re-read and resend the same
        # token, and importing it (45 MB) would buy nothing.
        if status == 401 and token.refreshable:
            if len(self._refused) >= 64:
                self._refused.clear()
            self._refused.add(hash(token.token))

    def _build(self, credential: Credential) -> AsyncAnthropic:
        """The SDK client for a token session (API keys take the direct path)."""
        from anthropic import AsyncAnthropic
        from anthropic.lib.credentials import EnvToken

        options = sdk_options(self._base_url, self._transport, self._timeout)
        if credential.profile is not None:
            return AsyncAnthropic(profile=credential.profile, **options)
        return AsyncAnthropic(
            credentials=EnvToken(credential.env_token or "ANTHROPIC_AUTH_TOKEN"), **options
        )

    async def stream(
        self, request: ExecutionRequest, model: str, credential: Credential, *, whole: bool = False
    ) -> AsyncGenerator[AdapterEvent, None]:
        """One Messages request, streamed, or on the direct path asked for whole when `whole`;
        closing the iterator closes the upstream response."""
        with self._errors(credential):
            params = build_params(request, model, self.provider, self._built_in)
            async with self._open(params, credential, whole) as (headers, answer):
                request_id = headers.get("request-id")
                if isinstance(answer, bytes):
                    for out in message_events(whole_answer(answer), model, request_id):
                        yield out
                    return
                async for out in self._read_stream(answer, model, request_id, credential):
                    yield out

    async def _read_stream(
        self, lines: AsyncIterator[str], model: str, request_id: str | None, credential: Credential
    ) -> AsyncIterator[AdapterEvent]:
        mapper = EventMapper(model)
        mapper.request_id = request_id
        finished = False
        async for name, data in events(lines):
            if name == "ping":
                continue
            if name == "error":
                raise stream_failure(parse(data), mapper.request_id, credential.mode, self.provider)
            for out in mapper.feed(parse(data)):
                finished = finished or isinstance(out, Finished)
                yield out
        final = None if finished else mapper.end()
        if final is not None:
            yield final
        elif not finished:
            raise ProviderUnavailable(
                f"{name_of(self.provider)} ended the stream before message_stop.",
                "Retry the request.",
                provider=self.provider,
                upstream_request_id=mapper.request_id,
            )

    def fit(
        self, request: ExecutionRequest, model: str, info: ModelCapabilities | None
    ) -> ExecutionRequest:
        """The request as the Messages API takes it for `model` (see `body.fit`)."""
        return fit(request, model, info, self.provider)

    def _errors(self, credential: Credential) -> AbstractContextManager[None]:
        return map_errors(credential, self._host, self.provider)

    def _direct(self, credential: Credential, token: Bearer | None) -> bool:
        """An API key, no credential at all, or a bearer token the direct path can send."""
        return credential.mode is not AuthMode.TOKEN_SESSION or token is not None

    def _key_header_for(self, credential: Credential) -> str | None:
        return None if credential.mode is AuthMode.NONE else self._key_header

    @asynccontextmanager
    async def _open(
        self, params: dict[str, Any], credential: Credential, whole: bool = False
    ) -> AsyncIterator[tuple[Mapping[str, str], AsyncIterator[str] | bytes]]:
        """The answer's headers and its stream's lines, by the direct path or through the SDK;
        or, on the direct path when `whole`, its whole body (unless the server streamed)."""
        token = self._bearer(credential)
        if self._direct(credential, token):
            request = api.messages(
                {**params, "stream": False} if whole else params,
                credential.api_key or "",
                self._extra_headers,
                token,
                self._key_header_for(credential),
            )
            try:
                async with self._pool.open(request, self._on_error(credential)) as response:
                    if whole and not streamed(response):
                        yield response.headers, await whole_body(response)
                    else:
                        yield response.headers, lines(response)
            except ProviderError as error:
                if token is not None:
                    self._refused_direct(token, error.upstream_status)
                raise
        else:
            client = self._client(credential)
            async with client.messages.with_streaming_response.create(**params) as response:
                answered()
                yield response.headers, timed(response.iter_lines())

    @asynccontextmanager
    async def relay(
        self, request: RelayRequest, credential: Credential
    ) -> AsyncIterator[RelayAnswer]:
        """A client's own request, passed upstream with `credential` (`adapters.passthrough`)."""
        with self._errors(credential):
            token = self._bearer(credential)
            if self._direct(credential, token):
                key = key_headers(credential.api_key or "", self._key_header_for(credential))
                auth = {**self._extra_headers, **key}
                if token is not None:
                    sent = {**token.headers, **self._extra_headers, **request.headers}
                    auth = {**token.headers, **self._extra_headers, **auth_headers(token, sent)}
                async with self._pool.relay(request, auth) as answer:
                    if token is not None:
                        self._refused_direct(token, answer.status)
                    answer.body = mapped(
                        answer.body,
                        functools.partial(map_errors, credential, self._host, self.provider),
                    )
                    yield answer
            else:
                async with sdk_relay(self._client(credential), request) as answer:
                    answer.body = mapped(answer.body, functools.partial(map_errors, credential))
                    yield answer

    def relay_error(
        self, status: int, raw: bytes, headers: list[tuple[str, str]], mode: AuthMode
    ) -> ProviderError:
        """An upstream error answer in the taxonomy."""
        return answer_error(self._status_error, status, error_body(raw), headers, mode)

    def error_event(self, error: ProviderError) -> bytes:
        """The API's own mid-stream error event."""
        return anthropic_passthrough.error_event(error, compat_status(error.code, error.status))

    def relay_request(self, request: RelayRequest, body: Mapping[str, Any]) -> RelayRequest:
        """Unchanged: every Messages answer carries its usage."""
        return request

    def usage_scan(self, streamed: bool, hide_usage_only: bool = False) -> UsageScan:
        """Usage and model of a passing Messages answer."""
        return UsageScan(anthropic_passthrough.read_event, streamed)

    def _on_error(self, credential: Credential) -> OnError:
        return functools.partial(self._status_error, mode=credential.mode)

    async def list_models(self, credential: Credential) -> list[ModelInfo]:
        """Every model, following `has_more` pages."""
        models: list[ModelInfo] = []
        with self._errors(credential):
            token = self._bearer(credential)
            if not self._direct(credential, token):
                client = self._client(credential)
                # The SDK's models read as the wire's entries: one reading of a model.
                async for model in client.models.list(limit=api.PAGE):
                    models.append(api.model_info(model.model_dump(mode="json")))
                return models
            after: str | None = None
            while True:
                request = api.models_page(
                    credential.api_key or "",
                    self._extra_headers,
                    after,
                    token,
                    self._key_header_for(credential),
                )
                page = await self._pool.json(request, self._on_error(credential))
                entries = page.get("data", []) if isinstance(page, dict) else []
                models.extend(api.model_info(entry, self.provider) for entry in entries)
                after = page.get("last_id")
                if not page.get("has_more") or not after:
                    return models

    async def warm(self, credential: Credential) -> None:
        """Have what `credential` needs loaded: the pooled client for an API key, else the SDK
        client (importing the SDK off the event loop the first time)."""
        with self._errors(credential):
            if self._direct(credential, self._bearer(credential)):
                self._pool.session()
            else:
                await self._clients.warm(credential)

    def forget(self, credential: Credential) -> None:
        """Drop the client for `credential`; the next request reads the credential afresh."""
        self._clients.forget(credential)

    async def aclose(self) -> None:
        """Close every client (and its connection pool)."""
        await self._clients.aclose()
        await self._pool.aclose()
