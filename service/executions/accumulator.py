"""Building whole content blocks out of neutral stream events (for `done` and partial errors)."""

from __future__ import annotations

from adapters.base import Signature
from contracts.executions import ContentBlock, TextBlock, ThinkingBlock, ToolCallBlock
from contracts.stream import (
    TextDeltaEvent,
    ThinkingDeltaEvent,
    ToolCallDeltaEvent,
    ToolCallEndEvent,
    ToolCallStartEvent,
)

Delta = (
    TextDeltaEvent | ThinkingDeltaEvent | ToolCallStartEvent | ToolCallDeltaEvent | ToolCallEndEvent
)
Part = Delta | Signature


class Accumulator:
    """Content blocks by index, exactly as streamed: nothing duplicated, nothing invented."""

    def __init__(self) -> None:
        self._text: dict[int, list[str]] = {}
        self._thinking: dict[int, list[str]] = {}
        self._calls: dict[int, ToolCallBlock] = {}
        self._open_calls: dict[int, tuple[str, str, list[str]]] = {}
        self._signatures: dict[int, list[str]] = {}
        self.output_seen = False

    def add(self, event: Part) -> None:
        """Fold one event in."""
        if isinstance(event, Signature):
            self._signatures.setdefault(event.index, []).append(event.signature)
            return
        self.output_seen = True
        if isinstance(event, TextDeltaEvent):
            self._text.setdefault(event.index, []).append(event.text)
        elif isinstance(event, ThinkingDeltaEvent):
            self._thinking.setdefault(event.index, []).append(event.thinking)
        elif isinstance(event, ToolCallStartEvent):
            self._open_calls[event.index] = (event.id, event.name, [])
        elif isinstance(event, ToolCallDeltaEvent):
            if event.index in self._open_calls:
                self._open_calls[event.index][2].append(event.arguments_delta)
        else:
            self._open_calls.pop(event.index, None)
            self._calls[event.index] = ToolCallBlock(
                type="tool_call", id=event.id, name=event.name, arguments=event.arguments
            )

    def blocks(self) -> list[ContentBlock]:
        """Completed blocks in index order. A tool call still open (cut mid-stream) is left out:
        its arguments are not whole JSON and must not be run. Thinking keeps what it has of its
        signature, even when the stream was cut."""
        found: dict[int, ContentBlock] = {}
        for index, parts in self._thinking.items():
            signature = "".join(self._signatures.get(index, ())) or None
            found[index] = ThinkingBlock(
                type="thinking", thinking="".join(parts), signature=signature
            )
        for index, parts in self._text.items():
            found[index] = TextBlock(type="text", text="".join(parts))
        found.update(self._calls)
        return [found[index] for index in sorted(found)]
