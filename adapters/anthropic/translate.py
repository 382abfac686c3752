"""The Messages API's stream events, or a whole answer, to neutral events (the request body is
`body.py`'s)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from adapters.base import AdapterEvent, Finished, Redacted, Signature, UsageSeen, parse_arguments
from adapters.sse_reader import Fields
from contracts.executions import (
    StopReason,
    Usage,
)
from contracts.stream import (
    TextDeltaEvent,
    ThinkingDeltaEvent,
    ToolCallDeltaEvent,
    ToolCallEndEvent,
    ToolCallStartEvent,
)

STOP_REASONS = {
    "end_turn": StopReason.END_TURN,
    "max_tokens": StopReason.MAX_TOKENS,
    "stop_sequence": StopReason.STOP_SEQUENCE,
    "tool_use": StopReason.TOOL_CALL,
    "refusal": StopReason.REFUSAL,
    "model_context_window_exceeded": StopReason.MAX_TOKENS,
}


class EventMapper:
    """Turns raw Messages stream events into neutral events; one per upstream stream."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.request_id: str | None = None
        self._kinds: dict[int, str] = {}
        self._tools: dict[int, tuple[str, str, list[str]]] = {}
        self._usage = Usage()
        self._stop = StopReason.OTHER
        self._delta_seen = False

    def feed(self, event: Any) -> Iterator[AdapterEvent]:
        """Neutral events for one upstream event (unknown types yield nothing)."""
        kind = getattr(event, "type", None)
        if kind == "message_start":
            message = event.message
            self.model = getattr(message, "model", None) or self.model
            yield from self._add_usage(getattr(message, "usage", None))
        elif kind == "content_block_start":
            yield from self._start(event.index, event.content_block)
        elif kind == "content_block_delta":
            yield from self._delta(event.index, event.delta)
        elif kind == "content_block_stop":
            yield from self._stop_block(event.index)
        elif kind == "message_delta":
            reason = getattr(event.delta, "stop_reason", None)
            self._stop = STOP_REASONS.get(reason or "", StopReason.OTHER)
            self._delta_seen = True
            yield from self._add_usage(getattr(event, "usage", None))
        elif kind == "message_stop":
            yield Finished(self._stop, self._usage, self.model, self.request_id)

    def end(self) -> Finished | None:
        """At the end of a stream without `message_stop`: a result when `message_delta` already
        said why the model stopped (an unterminated last SSE event is dropped by the decoder)."""
        if not self._delta_seen or self._tools:
            return None
        return Finished(self._stop, self._usage, self.model, self.request_id)

    def _start(self, index: int, block: Any) -> Iterator[AdapterEvent]:
        kind = getattr(block, "type", "")
        self._kinds[index] = kind
        if kind == "tool_use":
            self._tools[index] = (block.id, block.name, [])
            yield ToolCallStartEvent(index=index, id=block.id, name=block.name)
        elif kind == "text" and getattr(block, "text", ""):
            yield TextDeltaEvent(index=index, text=block.text)
        elif kind == "redacted_thinking":
            yield Redacted(index=index, data=block.data or "")

    def _delta(self, index: int, delta: Any) -> Iterator[AdapterEvent]:
        kind = getattr(delta, "type", "")
        if kind == "text_delta":
            yield TextDeltaEvent(index=index, text=delta.text)
        elif kind == "input_json_delta" and index in self._tools:
            self._tools[index][2].append(delta.partial_json)
            if delta.partial_json:
                yield ToolCallDeltaEvent(index=index, arguments_delta=delta.partial_json)
        elif kind == "thinking_delta":
            yield ThinkingDeltaEvent(index=index, thinking=delta.thinking)
        elif kind == "signature_delta":
            yield Signature(index=index, signature=delta.signature)

    def _stop_block(self, index: int) -> Iterator[AdapterEvent]:
        if index not in self._tools:
            return
        call_id, name, parts = self._tools.pop(index)
        yield ToolCallEndEvent(
            index=index, id=call_id, name=name, arguments=parse_arguments("".join(parts), name)
        )

    def _add_usage(self, usage: Any) -> Iterator[UsageSeen]:
        if usage is None:
            return
        self._usage = merged_usage(self._usage, usage)
        yield UsageSeen(self._usage)


def message_events(
    message: dict[str, Any], model: str, request_id: str | None
) -> Iterator[AdapterEvent]:
    """A whole answer (`stream: false`) as the events its stream would have given: each block
    at its index, the same parts left out (empty text and thinking), then `Finished`."""
    for index, block in enumerate(message.get("content") or []):
        kind = block.get("type")
        if kind == "text" and block.get("text"):
            yield TextDeltaEvent(index=index, text=block["text"])
        elif kind == "thinking":
            if block.get("thinking"):
                yield ThinkingDeltaEvent(index=index, thinking=block["thinking"])
            if block.get("signature"):
                yield Signature(index=index, signature=block["signature"])
        elif kind == "redacted_thinking":
            yield Redacted(index=index, data=block.get("data") or "")
        elif kind == "tool_use":
            call_id, name, arguments = block["id"], block["name"], block.get("input") or {}
            yield ToolCallStartEvent(index=index, id=call_id, name=name)
            if not isinstance(arguments, dict):  # refused as a stream's malformed arguments are
                arguments = parse_arguments(json.dumps(arguments), name)
            yield ToolCallEndEvent(index=index, id=call_id, name=name, arguments=arguments)
    stop = STOP_REASONS.get(message.get("stop_reason") or "", StopReason.OTHER)
    usage = message.get("usage")
    counted = merged_usage(Usage(), Fields(usage) if isinstance(usage, dict) else None)
    yield Finished(stop, counted, message.get("model") or model, request_id)


def merged_usage(current: Usage, usage: Any) -> Usage:
    """Anthropic's usage object over what was known: `message_delta` counts are cumulative, so
    take them as they come and keep what a later event omits."""
    if usage is None:
        return current
    return Usage(
        input_tokens=getattr(usage, "input_tokens", None) or current.input_tokens,
        output_tokens=getattr(usage, "output_tokens", None) or current.output_tokens,
        cache_read_tokens=getattr(usage, "cache_read_input_tokens", None)
        or current.cache_read_tokens,
        cache_write_tokens=getattr(usage, "cache_creation_input_tokens", None)
        or current.cache_write_tokens,
    )
