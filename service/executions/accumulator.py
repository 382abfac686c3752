"""Building whole content blocks out of neutral stream events (for `done` and partial errors)."""

from __future__ import annotations

from adapters.base import EncryptedReasoning, Redacted, Signature
from contracts.base import ProviderId
from contracts.executions import (
    ContentBlock,
    RedactedThinkingBlock,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)
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
Part = Delta | Signature | Redacted | EncryptedReasoning


class Accumulator:
    """Content blocks by index, exactly as streamed: nothing duplicated, nothing invented.
    Thinking is stamped with the provider (and model) that made it: the hand-off rule reads it."""

    def __init__(self, provider: ProviderId | None = None) -> None:
        self.reset(provider)

    def reset(self, provider: ProviderId | None) -> None:
        """Start over for `provider` (a route's next target: nothing reached the caller)."""
        self.provider = provider
        self.model: str | None = None
        self._redacted: dict[int, str] = {}
        self._encrypted: dict[int, EncryptedReasoning] = {}
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
        if isinstance(event, EncryptedReasoning):
            self._encrypted[event.index] = event
            self._thinking.setdefault(event.index, [])
            return
        if isinstance(event, Redacted):  # not streamed to the caller: like a signature
            self._redacted[event.index] = event.data
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
            encrypted = self._encrypted.get(index)
            found[index] = ThinkingBlock(
                type="thinking",
                thinking="".join(parts),
                signature=signature,
                encrypted_content=encrypted.encrypted_content if encrypted else None,
                item_id=encrypted.item_id if encrypted else None,
                provider=self.provider,
                model=self.model,
            )
        for index, data in self._redacted.items():
            found[index] = RedactedThinkingBlock(
                type="redacted_thinking", data=data, provider=self.provider, model=self.model
            )
        for index, parts in self._text.items():
            found[index] = TextBlock(type="text", text="".join(parts))
        found.update(self._calls)
        return [found[index] for index in sorted(found)]
