"""What the translations of OpenAI's two request APIs share: input items, tool choice, usage
and block indexes. The request bodies and stream mappers are in `responses.py` (the
Responses API) and `chat.py` (Chat Completions)."""

from __future__ import annotations

import json
from typing import Any

from contracts.executions import (
    ExecutionRequest,
    Message,
    TextBlock,
    ToolCallBlock,
    ToolChoiceMode,
    ToolResultBlock,
    Usage,
)

CODEX_INSTRUCTIONS = "You are a helpful assistant."


def result_text(block: ToolResultBlock) -> str:
    text = (
        block.content if isinstance(block.content, str) else "".join(p.text for p in block.content)
    )
    return f"Error: {text}" if block.is_error else text


def input_items(message: Message) -> list[dict[str, Any]]:
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
                    "output": result_text(block),
                }
            )
    flush()
    return items


def tool_choice(request: ExecutionRequest, chat: bool) -> Any:
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


def usage_of(usage: Any) -> Usage:
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
