"""The toy wire's adapter: neutral requests to `/echo` and back, pass-through, errors."""

from __future__ import annotations

import functools
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import AbstractContextManager, asynccontextmanager
from typing import Any

from adapters.base import AdapterEvent, Credential, Finished, UsageSeen
from adapters.errors import boundary, from_answer
from adapters.passthrough import RelayAnswer, RelayRequest, UsageScan, answer_error, mapped
from adapters.pool import OnError, Pool, UpstreamRequest, error_body, key_headers, lines
from adapters.sse_reader import events, parse
from adapters.wire import AdapterOptions
from contracts.base import AuthMode
from contracts.errors import ProviderError
from contracts.executions import ExecutionRequest, StopReason, TextBlock, Usage
from contracts.models import ModelCapabilities, ModelInfo
from contracts.stream import TextDeltaEvent
from tests.toy_wire.wire import ECHO, error_event


def _detail(body: Any) -> tuple[str | None, str | None]:
    problem = body.get("problem") if isinstance(body, dict) else None
    if isinstance(problem, dict):
        return problem.get("kind"), problem.get("text")
    return None, None


def _usage(raw: Any) -> Usage:
    return Usage(
        input_tokens=getattr(raw, "input_tokens", 0) or 0,
        output_tokens=getattr(raw, "output_tokens", 0) or 0,
    )


def read_event(event: Any, scan: UsageScan) -> None:
    """Usage and model from a passing toy answer (a stream line or the whole body)."""
    scan.model = getattr(event, "model", None) or scan.model
    if getattr(event, "usage", None) is not None:
        scan.usage = _usage(event.usage)


class ToyAdapter:
    """The toy API for one provider."""

    def __init__(self, options: AdapterOptions) -> None:
        self.provider = options.provider
        self.capabilities = ECHO
        self._key_header = options.key_header or "x-toy-key"
        self._headers = dict(options.headers or {})
        self._pool = Pool(options.base_url or "http://127.0.0.1:9", options.timeout_s)
        self._status_error = functools.partial(
            from_answer, self.provider, detail=_detail, request_id_header="x-toy-request"
        )

    def _errors(self, credential: Credential) -> AbstractContextManager[None]:
        return boundary(self.provider, lambda _: None, secrets=(credential.api_key,))

    def _on_error(self, credential: Credential) -> OnError:
        return functools.partial(self._status_error, mode=credential.mode)

    def _auth(self, credential: Credential) -> dict[str, str]:
        header = None if credential.mode is AuthMode.NONE else self._key_header
        return {**self._headers, **key_headers(credential.api_key or "", header)}

    async def stream(
        self, request: ExecutionRequest, model: str, credential: Credential, *, whole: bool = False
    ) -> AsyncGenerator[AdapterEvent, None]:
        prompt = " ".join(
            m.content
            if isinstance(m.content, str)
            else " ".join(b.text for b in m.content if isinstance(b, TextBlock))
            for m in request.messages
            if m.role == "user"
        )
        body = {"model": model, "prompt": prompt, "stream": True}
        sent = UpstreamRequest("POST", "/echo", self._auth(credential), json_body=body)
        with self._errors(credential):
            async with self._pool.open(sent, self._on_error(credential)) as response:
                async for _, data in events(lines(response)):
                    event = parse(data)
                    if event.delta:
                        yield TextDeltaEvent(index=0, text=event.delta)
                    elif event.done:
                        usage = _usage(event.usage)
                        yield UsageSeen(usage)
                        yield Finished(StopReason.END_TURN, usage, event.model or model)

    def fit(
        self, request: ExecutionRequest, model: str, info: ModelCapabilities | None
    ) -> ExecutionRequest:
        return request  # the toy API takes whatever its table lets through

    async def list_models(self, credential: Credential) -> list[ModelInfo]:
        sent = UpstreamRequest("GET", "/models", self._auth(credential))
        with self._errors(credential):
            page = await self._pool.json(sent, self._on_error(credential))
        return [ModelInfo(id=entry["id"], provider=self.provider) for entry in page["data"]]

    @asynccontextmanager
    async def relay(
        self, request: RelayRequest, credential: Credential
    ) -> AsyncIterator[RelayAnswer]:
        with self._errors(credential):
            async with self._pool.relay(request, self._auth(credential)) as answer:
                answer.body = mapped(answer.body, functools.partial(self._errors, credential))
                yield answer

    def relay_error(
        self, status: int, raw: bytes, headers: list[tuple[str, str]], mode: AuthMode
    ) -> ProviderError:
        return answer_error(self._status_error, status, error_body(raw), headers, mode)

    def relay_request(self, request: RelayRequest, body: Mapping[str, Any]) -> RelayRequest:
        return request

    def usage_scan(self, streamed: bool, hide_usage_only: bool = False) -> UsageScan:
        return UsageScan(read_event, streamed)

    def error_event(self, error: ProviderError) -> bytes:
        return error_event(error)

    async def warm(self, credential: Credential) -> None:
        self._pool.session()

    def forget(self, credential: Credential) -> None:
        """Nothing cached per credential."""

    async def aclose(self) -> None:
        await self._pool.aclose()
