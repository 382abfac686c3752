"""Responses: the request body, and the stream's events or a whole answer to neutral events."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from adapters.base import AdapterEvent, EncryptedReasoning, Finished, UsageSeen, parse_arguments
from adapters.capabilities import CapabilityTable
from adapters.openai.errors import stream_failure
from adapters.openai.shared import (
    CODEX_INSTRUCTIONS,
    BlockIndex,
    cache_key,
    input_items,
    tool_choice,
    usage_of,
)
from contracts.base import ProviderId
from contracts.executions import ExecutionRequest, StopReason
from contracts.options import JsonSchemaFormat
from contracts.stream import (
    TextDeltaEvent,
    ThinkingDeltaEvent,
    ToolCallDeltaEvent,
    ToolCallEndEvent,
    ToolCallStartEvent,
)

# What `responses_params` carries of the neutral request, by SDK parameter (the wire's table).
RESPONSES = CapabilityTable(
    sdk_method="responses.create",
    parameters={
        "temperature": "temperature",
        "top_p": "top_p",
        "stop": None,  # the Responses API has no stop sequences
        "thinking": "reasoning",
        "tools": "tools",
        "tool_choice": "tool_choice",
        "response_format": "text",
        "cache": "prompt_cache_key",
    },
    content={"image": "input_image", "document": "input_file"},
)


def responses_params(
    request: ExecutionRequest,
    model: str,
    *,
    codex: bool = False,
    to: ProviderId = ProviderId.OPENAI,
    cache_by_default: bool = True,
) -> dict[str, Any]:
    """Keyword arguments of `responses.create` for `request` sent to `to`. The Codex backend
    wants it streamed, unstored, with instructions, and without temperature or an output cap.
    Nothing is stored, so reasoning comes back with its encrypted content, to be sent back."""
    params: dict[str, Any] = {
        "model": model,
        "input": [item for m in request.messages for item in input_items(m, to)],
        "stream": True,
        "store": False,
    }
    if request.system or codex:
        params["instructions"] = request.system or CODEX_INSTRUCTIONS
    if not codex:
        params["max_output_tokens"] = request.max_tokens
        if request.temperature is not None:
            params["temperature"] = request.temperature
        if request.top_p is not None:
            params["top_p"] = request.top_p
        if request.metadata:
            params["metadata"] = request.metadata
    if request.tools:
        params["tools"] = [
            {
                "type": "function",
                "name": t.name,
                "description": t.description,
                "parameters": t.input_schema,
                "strict": False,
            }
            for t in request.tools
        ]
    choice = tool_choice(request, chat=False)
    if choice is not None:
        params["tool_choice"] = choice
    reasoning = request.reasoning
    if reasoning is not None:
        asked: dict[str, Any] = {}
        if reasoning.effort is not None:
            asked["effort"] = reasoning.effort.value
        if reasoning.summary != "none":
            asked["summary"] = reasoning.summary
        params["reasoning"] = asked
        params["include"] = ["reasoning.encrypted_content"]
    form = request.response_format
    if isinstance(form, JsonSchemaFormat):
        described = {"description": form.description} if form.description else {}
        params["text"] = {
            "format": {
                "type": "json_schema",
                "name": form.name,
                "schema": form.schema_,
                "strict": form.strict,
                **described,
            }
        }
    key, longer = cache_key(request, cache_by_default)
    if key is not None:
        params["prompt_cache_key"] = key
        if longer:  # OpenAI's extended retention (24 h): the nearest it has to an hour or more
            params["prompt_cache_retention"] = "24h"
    return params


class ResponsesMapper:
    """Responses stream events to neutral events."""

    def __init__(self, model: str, provider: ProviderId = ProviderId.OPENAI) -> None:
        self.model = model
        self.provider = provider
        self.request_id: str | None = None
        self._index = BlockIndex()
        self._calls: dict[str, tuple[int, str, str, list[str]]] = {}
        self._saw_call = False

    def feed(self, event: Any) -> Iterator[AdapterEvent]:
        kind = getattr(event, "type", None)
        if kind == "response.created":
            self.model = getattr(event.response, "model", None) or self.model
        elif (
            kind == "response.output_item.added"
            and getattr(event.item, "type", "") == "function_call"
        ):
            item = event.item
            index = self._index(("item", event.output_index))
            self._calls[item.id or str(event.output_index)] = (index, item.call_id, item.name, [])
            self._saw_call = True
            yield ToolCallStartEvent(index=index, id=item.call_id, name=item.name)
        elif kind == "response.function_call_arguments.delta":
            call = self._calls.get(event.item_id) or self._by_output(event.output_index)
            if call is not None and event.delta:
                call[3].append(event.delta)
                yield ToolCallDeltaEvent(index=call[0], arguments_delta=event.delta)
        elif (
            kind == "response.output_item.done"
            and getattr(event.item, "type", "") == "function_call"
        ):
            item = event.item
            call = self._calls.pop(item.id or str(event.output_index), None) or self._by_output(
                event.output_index
            )
            if call is not None:
                raw = item.arguments if item.arguments is not None else "".join(call[3])
                yield ToolCallEndEvent(
                    index=call[0], id=call[1], name=call[2], arguments=parse_arguments(raw, call[2])
                )
        elif kind == "response.output_text.delta":
            index = self._index(("text", event.output_index, event.content_index))
            if event.delta:
                yield TextDeltaEvent(index=index, text=event.delta)
        elif kind == "response.output_item.done" and getattr(event.item, "type", "") == "reasoning":
            item = event.item
            yield EncryptedReasoning(
                index=self._index(("reasoning", event.output_index)),
                item_id=item.id or "",
                encrypted_content=item.encrypted_content,
            )
        elif kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            index = self._index(("reasoning", event.output_index))
            if event.delta:
                yield ThinkingDeltaEvent(index=index, thinking=event.delta)
        elif kind in ("response.completed", "response.incomplete"):
            yield self._finished(event.response, kind)
        elif kind == "response.failed":
            yield from self._failed(event.response)
        elif kind == "error":
            raise stream_failure(
                getattr(event, "code", None), getattr(event, "message", None), self.provider
            )

    def whole(self, response: Any) -> Iterator[AdapterEvent]:
        """A whole answer (`stream: false`) as the events its stream would have given: the
        same indexes, the same parts left out, then `Finished` (or the failure it reports)."""
        for position, item in enumerate(response.output or []):
            kind = getattr(item, "type", "")
            if kind == "function_call":
                index = self._index(("item", position))
                self._saw_call = True
                yield ToolCallStartEvent(index=index, id=item.call_id, name=item.name)
                arguments = parse_arguments(item.arguments or "", item.name)
                yield ToolCallEndEvent(
                    index=index, id=item.call_id, name=item.name, arguments=arguments
                )
            elif kind == "message":
                for part_index, part in enumerate(item.content or []):
                    if getattr(part, "type", "") == "output_text":
                        index = self._index(("text", position, part_index))
                        if part.text:
                            yield TextDeltaEvent(index=index, text=part.text)
            elif kind == "reasoning":
                index = self._index(("reasoning", position))
                parts = [*(item.summary or []), *(item.content or [])]
                thought = "".join(getattr(part, "text", None) or "" for part in parts)
                if thought:
                    yield ThinkingDeltaEvent(index=index, thinking=thought)
                yield EncryptedReasoning(
                    index=index, item_id=item.id or "", encrypted_content=item.encrypted_content
                )
        if response.status == "failed":
            yield from self._failed(response)
        kind = "response.incomplete" if response.status == "incomplete" else "response.completed"
        yield self._finished(response, kind)

    def _failed(self, response: Any) -> Iterator[AdapterEvent]:
        """What a failed response used, then the failure it reports."""
        usage = getattr(response, "usage", None)
        if usage is not None:
            yield UsageSeen(usage_of(usage))
        error = getattr(response, "error", None)
        raise stream_failure(
            getattr(error, "code", None), getattr(error, "message", None), self.provider
        )

    def _by_output(self, output_index: int) -> tuple[int, str, str, list[str]] | None:
        index = self._index(("item", output_index))
        return next((c for c in self._calls.values() if c[0] == index), None)

    def _finished(self, response: Any, kind: str) -> Finished:
        if kind == "response.incomplete":
            details = getattr(response, "incomplete_details", None)
            reason = getattr(details, "reason", "")
            stop = (
                StopReason.MAX_TOKENS
                if reason == "max_output_tokens"
                else StopReason.REFUSAL
                if reason == "content_filter"
                else StopReason.OTHER
            )
        else:
            stop = StopReason.TOOL_CALL if self._saw_call else StopReason.END_TURN
        return Finished(
            stop,
            usage_of(getattr(response, "usage", None)),
            getattr(response, "model", None) or self.model,
            self.request_id,
        )
