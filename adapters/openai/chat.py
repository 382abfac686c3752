"""Chat Completions: the request body and the stream's chunks to neutral events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from adapters.base import AdapterEvent, Finished, parse_arguments
from adapters.capabilities import CapabilityTable
from adapters.handoff import call_id
from adapters.openai.shared import (
    CALL_ID,
    BlockIndex,
    cache_key,
    media_part,
    result_text,
    tool_choice,
    usage_of,
)
from adapters.specs import name_of
from adapters.sse_reader import Fields
from contracts.base import ProviderId
from contracts.content import DocumentBlock, ImageBlock
from contracts.errors import (
    ProviderUnavailable,
)
from contracts.executions import (
    ExecutionRequest,
    StopReason,
    TextBlock,
    ToolCallBlock,
    ToolResultBlock,
    Usage,
)
from contracts.options import JsonSchemaFormat
from contracts.stream import (
    TextDeltaEvent,
    ToolCallDeltaEvent,
    ToolCallEndEvent,
    ToolCallStartEvent,
)

# What `chat_params` carries of the neutral request, by SDK parameter (the wire's table).
# The roles a chat message may have, in the order the API's errors list them.
CHAT_ROLES = ("system", "assistant", "user", "function", "tool", "developer")
CHAT = CapabilityTable(
    sdk_method="chat.completions.create",
    parameters={
        "temperature": "temperature",
        "top_p": "top_p",
        "stop": "stop",
        "thinking": "reasoning_effort",
        "tools": "tools",
        "tool_choice": "tool_choice",
        "response_format": "response_format",
        "cache": "prompt_cache_key",
    },
    content={"image": "image_url", "document": "file"},
)


def chat_params(
    request: ExecutionRequest, model: str, cache_by_default: bool = False
) -> dict[str, Any]:
    """Keyword arguments of `chat.completions.create`, for OpenAI-compatible endpoints. Chat
    takes no reasoning back: thinking blocks are not sent (the hand-off rule drops them)."""
    messages: list[dict[str, Any]] = []
    if request.system:
        messages.append({"role": "system", "content": request.system})
    for message in request.messages:
        if isinstance(message.content, str):
            messages.append({"role": message.role, "content": message.content})
            continue
        text = "".join(b.text for b in message.content if isinstance(b, TextBlock))
        media = [b for b in message.content if isinstance(b, ImageBlock | DocumentBlock)]
        calls = [b for b in message.content if isinstance(b, ToolCallBlock)]
        results = [b for b in message.content if isinstance(b, ToolResultBlock)]
        for result in results:
            messages.append(
                {
                    "role": "tool",
                    "tool_call_id": call_id(result.tool_call_id, CALL_ID, "call_"),
                    "content": result_text(result),
                }
            )
        if media:
            parts = [{"type": "text", "text": text}] if text else []
            parts += [media_part(block, chat=True) for block in media]
            messages.append({"role": message.role, "content": parts})
        elif text or calls:
            entry: dict[str, Any] = {"role": message.role, "content": text or None}
            if calls:
                entry["tool_calls"] = [
                    {
                        "id": call_id(c.id, CALL_ID, "call_"),
                        "type": "function",
                        "function": {"name": c.name, "arguments": json.dumps(c.arguments)},
                    }
                    for c in calls
                ]
            messages.append(entry)
    params: dict[str, Any] = {
        "model": model,
        "messages": messages,
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_completion_tokens": request.max_tokens,
    }
    if request.temperature is not None:
        params["temperature"] = request.temperature
    if request.top_p is not None:
        params["top_p"] = request.top_p
    if request.stop:
        params["stop"] = request.stop
    if request.tools:
        params["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": t.name,
                    "description": t.description,
                    "parameters": t.input_schema,
                },
            }
            for t in request.tools
        ]
    choice = tool_choice(request, chat=True)
    if choice is not None:
        params["tool_choice"] = choice
    if request.reasoning is not None and request.reasoning.effort is not None:
        params["reasoning_effort"] = request.reasoning.effort.value
    form = request.response_format
    if isinstance(form, JsonSchemaFormat):
        schema: dict[str, Any] = {"name": form.name, "schema": form.schema_, "strict": form.strict}
        if form.description:
            schema["description"] = form.description
        params["response_format"] = {"type": "json_schema", "json_schema": schema}
    key, longer = cache_key(request, cache_by_default)
    if key is not None:
        params["prompt_cache_key"] = key
        if longer:
            params["prompt_cache_retention"] = "24h"
    return params


CHAT_STOP = {
    "stop": StopReason.END_TURN,
    "length": StopReason.MAX_TOKENS,
    "tool_calls": StopReason.TOOL_CALL,
    "function_call": StopReason.TOOL_CALL,
    "content_filter": StopReason.REFUSAL,
}


class ChatMapper:
    """Chat Completions chunks to neutral events."""

    def __init__(self, model: str, provider: ProviderId = ProviderId.OPENAI) -> None:
        self.model = model
        self.provider = provider
        self.request_id: str | None = None
        self._index = BlockIndex()
        self._calls: dict[int, tuple[int, str, str, list[str]]] = {}
        self._stop: StopReason | None = None
        self._usage: Usage | None = None  # absent until a chunk reports it

    def feed(self, chunk: Any) -> Iterator[AdapterEvent]:
        self.model = getattr(chunk, "model", None) or self.model
        if getattr(chunk, "usage", None) is not None:
            self._usage = usage_of(chunk.usage)
        for choice in getattr(chunk, "choices", None) or []:
            delta = choice.delta
            if delta is not None and getattr(delta, "content", None):
                yield TextDeltaEvent(index=self._index("text"), text=delta.content)
            for call in (getattr(delta, "tool_calls", None) or []) if delta is not None else []:
                yield from self._tool_delta(call)
            if choice.finish_reason:
                self._stop = CHAT_STOP.get(choice.finish_reason, StopReason.OTHER)
                yield from self._end_calls()

    def whole(self, completion: dict[str, Any]) -> Iterator[AdapterEvent]:
        """A whole completion (`stream: false`) as the events its stream would have given: each
        choice's message read as one chunk's delta, then `Finished`."""
        choices = []
        for choice in completion.get("choices") or []:
            message = dict(choice.get("message") or {})
            calls = message.get("tool_calls") or []
            message["tool_calls"] = [{**call, "index": n} for n, call in enumerate(calls)]
            choices.append({"delta": message, "finish_reason": choice.get("finish_reason")})
        yield from self.feed(Fields({**completion, "choices": choices}))
        yield self.finish()

    def _tool_delta(self, call: Any) -> Iterator[AdapterEvent]:
        if call.index not in self._calls:
            function = call.function
            index = self._index(("call", call.index))
            self._calls[call.index] = (
                index,
                call.id or f"call_{call.index}",
                function.name or "",
                [],
            )
            yield ToolCallStartEvent(
                index=index, id=self._calls[call.index][1], name=function.name or ""
            )
        arguments = getattr(call.function, "arguments", None) if call.function else None
        if arguments:
            entry = self._calls[call.index]
            entry[3].append(arguments)
            yield ToolCallDeltaEvent(index=entry[0], arguments_delta=arguments)

    def _end_calls(self) -> Iterator[AdapterEvent]:
        for index, made_id, name, parts in self._calls.values():
            yield ToolCallEndEvent(
                index=index, id=made_id, name=name, arguments=parse_arguments("".join(parts), name)
            )
        self._calls.clear()

    def finish(self) -> Finished:
        """Called at `[DONE]`/end of stream: the stream must have said why it stopped."""
        if self._stop is None:
            raise ProviderUnavailable(
                f"{name_of(self.provider)} ended the stream without a finish reason.",
                "Retry the request.",
                provider=self.provider,
            )
        return Finished(self._stop, self._usage, self.model, self.request_id)
