"""Neutral contracts to OpenAI's Responses API (and Chat Completions), and their stream events
back to neutral events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from adapters.base import AdapterEvent, Finished, UsageSeen, parse_arguments
from contracts.base import ProviderId
from contracts.errors import (
    InvalidRequest,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
    UnexpectedError,
)
from contracts.executions import (
    ExecutionRequest,
    Message,
    StopReason,
    TextBlock,
    TextDeltaEvent,
    ThinkingDeltaEvent,
    ToolCallBlock,
    ToolCallDeltaEvent,
    ToolCallEndEvent,
    ToolCallStartEvent,
    ToolChoiceMode,
    ToolResultBlock,
    Usage,
)

CODEX_INSTRUCTIONS = "You are a helpful assistant."


def _result_text(block: ToolResultBlock) -> str:
    text = (
        block.content if isinstance(block.content, str) else "".join(p.text for p in block.content)
    )
    return f"Error: {text}" if block.is_error else text


def _input_items(message: Message) -> list[dict[str, Any]]:
    if isinstance(message.content, str):
        return [{"type": "message", "role": message.role, "content": message.content}]
    items: list[dict[str, Any]] = []
    text: list[str] = []

    def flush() -> None:
        if text:
            items.append({"type": "message", "role": message.role, "content": "".join(text)})
            text.clear()

    for block in message.content:
        if isinstance(block, TextBlock):
            text.append(block.text)
        elif isinstance(block, ToolCallBlock):
            flush()
            items.append(
                {
                    "type": "function_call",
                    "call_id": block.id,
                    "name": block.name,
                    "arguments": json.dumps(block.arguments),
                }
            )
        elif isinstance(block, ToolResultBlock):
            flush()
            items.append(
                {
                    "type": "function_call_output",
                    "call_id": block.tool_call_id,
                    "output": _result_text(block),
                }
            )
    flush()
    return items


def _tool_choice(request: ExecutionRequest, chat: bool) -> Any:
    choice = request.tool_choice
    if choice is None:
        return None
    if isinstance(choice, ToolChoiceMode):
        return choice.value
    return (
        {"type": "function", "function": {"name": choice.name}}
        if chat
        else {"type": "function", "name": choice.name}
    )


def responses_params(
    request: ExecutionRequest, model: str, *, codex: bool = False
) -> dict[str, Any]:
    """Keyword arguments of `responses.create`. The Codex backend wants it streamed, unstored,
    with instructions, and without temperature or an output cap."""
    params: dict[str, Any] = {
        "model": model,
        "input": [item for m in request.messages for item in _input_items(m)],
        "stream": True,
        "store": False,
    }
    if request.system or codex:
        params["instructions"] = request.system or CODEX_INSTRUCTIONS
    if not codex:
        params["max_output_tokens"] = request.max_tokens
        if request.temperature is not None:
            params["temperature"] = request.temperature
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
    choice = _tool_choice(request, chat=False)
    if choice is not None:
        params["tool_choice"] = choice
    return params


def chat_params(request: ExecutionRequest, model: str) -> dict[str, Any]:
    """Keyword arguments of `chat.completions.create`, for OpenAI-compatible endpoints."""
    messages: list[dict[str, Any]] = []
    if request.system:
        messages.append({"role": "system", "content": request.system})
    for message in request.messages:
        if isinstance(message.content, str):
            messages.append({"role": message.role, "content": message.content})
            continue
        text = "".join(b.text for b in message.content if isinstance(b, TextBlock))
        calls = [b for b in message.content if isinstance(b, ToolCallBlock)]
        results = [b for b in message.content if isinstance(b, ToolResultBlock)]
        for result in results:
            messages.append(
                {
                    "role": "tool",
                    "tool_call_id": result.tool_call_id,
                    "content": _result_text(result),
                }
            )
        if text or calls:
            entry: dict[str, Any] = {"role": message.role, "content": text or None}
            if calls:
                entry["tool_calls"] = [
                    {
                        "id": c.id,
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
    choice = _tool_choice(request, chat=True)
    if choice is not None:
        params["tool_choice"] = choice
    return params


def _usage(usage: Any) -> Usage:
    if usage is None:
        return Usage()
    details = getattr(usage, "input_tokens_details", None) or getattr(
        usage, "prompt_tokens_details", None
    )
    reasoning = getattr(usage, "output_tokens_details", None) or getattr(
        usage, "completion_tokens_details", None
    )
    # OpenAI counts cached tokens inside its input count; ours are apart (input is uncached).
    read = getattr(details, "cached_tokens", 0) or 0
    total_input = getattr(usage, "input_tokens", None) or getattr(usage, "prompt_tokens", 0) or 0
    return Usage(
        input_tokens=max(0, total_input - read),
        output_tokens=getattr(usage, "output_tokens", None)
        or getattr(usage, "completion_tokens", 0)
        or 0,
        cache_read_tokens=read,
        reasoning_tokens=getattr(reasoning, "reasoning_tokens", 0) or 0,
    )


class BlockIndex:
    """Neutral block indexes, dense and in order of first appearance."""

    def __init__(self) -> None:
        self._indexes: dict[object, int] = {}

    def __call__(self, key: object) -> int:
        if key not in self._indexes:
            self._indexes[key] = len(self._indexes)
        return self._indexes[key]


def stream_error(code: str | None, message: str | None) -> ProviderError:
    """A failure reported inside a 200 stream (`error` event or `response.failed`)."""
    code = code or ""
    text = message or "the provider reported an error mid-stream"
    name = "OpenAI"
    if "rate_limit" in code or code in ("insufficient_quota", "usage_limit_reached"):
        return RateLimited(
            f"{name} is rate limiting: {text}",
            "Wait and retry.",
            provider=ProviderId.OPENAI,
        )
    if code in ("server_error", "overloaded", "service_unavailable", ""):
        return ProviderUnavailable(
            f"{name} failed mid-stream: {text}",
            "Retry shortly.",
            provider=ProviderId.OPENAI,
        )
    if "context" in code or "context" in text.lower():
        return InvalidRequest(
            f"The request exceeds the model's context window: {text}",
            "Shorten the conversation.",
            provider=ProviderId.OPENAI,
        )
    return UnexpectedError(
        f"{name} failed mid-stream ({code}): {text}",
        "Retry; report it if it persists.",
        provider=ProviderId.OPENAI,
    )


class ResponsesMapper:
    """Responses stream events to neutral events."""

    def __init__(self, model: str) -> None:
        self.model = model
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
        elif kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            index = self._index(("reasoning", event.output_index))
            if event.delta:
                yield ThinkingDeltaEvent(index=index, thinking=event.delta)
        elif kind in ("response.completed", "response.incomplete"):
            yield self._finished(event.response, kind)
        elif kind == "response.failed":
            usage = getattr(event.response, "usage", None)
            if usage is not None:
                yield UsageSeen(_usage(usage))
            error = getattr(event.response, "error", None)
            raise stream_error(getattr(error, "code", None), getattr(error, "message", None))
        elif kind == "error":
            raise stream_error(getattr(event, "code", None), getattr(event, "message", None))

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
            _usage(getattr(response, "usage", None)),
            getattr(response, "model", None) or self.model,
            self.request_id,
        )


CHAT_STOP = {
    "stop": StopReason.END_TURN,
    "length": StopReason.MAX_TOKENS,
    "tool_calls": StopReason.TOOL_CALL,
    "function_call": StopReason.TOOL_CALL,
    "content_filter": StopReason.REFUSAL,
}


class ChatMapper:
    """Chat Completions chunks to neutral events."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.request_id: str | None = None
        self._index = BlockIndex()
        self._calls: dict[int, tuple[int, str, str, list[str]]] = {}
        self._stop: StopReason | None = None
        self._usage = Usage()

    def feed(self, chunk: Any) -> Iterator[AdapterEvent]:
        self.model = getattr(chunk, "model", None) or self.model
        if getattr(chunk, "usage", None) is not None:
            self._usage = _usage(chunk.usage)
        for choice in getattr(chunk, "choices", None) or []:
            delta = choice.delta
            if delta is not None and getattr(delta, "content", None):
                yield TextDeltaEvent(index=self._index("text"), text=delta.content)
            for call in (getattr(delta, "tool_calls", None) or []) if delta is not None else []:
                yield from self._tool_delta(call)
            if choice.finish_reason:
                self._stop = CHAT_STOP.get(choice.finish_reason, StopReason.OTHER)
                yield from self._end_calls()

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
        for index, call_id, name, parts in self._calls.values():
            yield ToolCallEndEvent(
                index=index, id=call_id, name=name, arguments=parse_arguments("".join(parts), name)
            )
        self._calls.clear()

    def finish(self) -> Finished:
        """Called at `[DONE]`/end of stream: the stream must have said why it stopped."""
        if self._stop is None:
            raise ProviderUnavailable(
                "OpenAI ended the stream without a finish reason.",
                "Retry the request.",
                provider=ProviderId.OPENAI,
            )
        return Finished(self._stop, self._usage, self.model, self.request_id)
