"""What the translations of OpenAI's two request APIs share: input items, tool choice, usage
and block indexes. The request bodies and stream mappers are in `responses.py` (the
Responses API) and `chat.py` (Chat Completions)."""

from __future__ import annotations

import functools
import hashlib
import json
import re
from typing import Any

from adapters.handoff import call_id, goes_back
from contracts.base import ProviderId
from contracts.content import DocumentBlock, ImageBlock, ThinkingBlock, UrlSource
from contracts.executions import (
    ExecutionRequest,
    Message,
    TextBlock,
    ToolCallBlock,
    ToolChoiceMode,
    ToolResultBlock,
    Usage,
)
from contracts.options import CacheSettings

CODEX_INSTRUCTIONS = "You are a helpful assistant."


def result_text(block: ToolResultBlock) -> str:
    text = (
        block.content if isinstance(block.content, str) else "".join(p.text for p in block.content)
    )
    return f"Error: {text}" if block.is_error else text


# The call ids OpenAI's APIs take as they stand (others are mapped: `adapters.handoff.call_id`).
CALL_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


def data_url(media_type: str, data: str) -> str:
    return f"data:{media_type};base64,{data}"


def media_part(block: ImageBlock | DocumentBlock, chat: bool) -> dict[str, Any]:
    """An image or a PDF as Responses (`input_image`, `input_file`) or Chat (`image_url`,
    `file`) takes it; a document by URL reaches Chat only as refused up front (`rules.fit`)."""
    source = block.source
    if isinstance(block, ImageBlock):
        url = (
            source.url
            if isinstance(source, UrlSource)
            else data_url(source.media_type, source.data)
        )
        if chat:
            return {"type": "image_url", "image_url": {"url": url}}
        return {"type": "input_image", "image_url": url, "detail": "auto"}
    filename = block.title or "document.pdf"
    if isinstance(source, UrlSource):
        return {"type": "input_file", "file_url": source.url}
    file_data = data_url("application/pdf", source.data)
    if chat:
        return {"type": "file", "file": {"file_data": file_data, "filename": filename}}
    return {"type": "input_file", "file_data": file_data, "filename": filename}


def input_items(message: Message, to: ProviderId = ProviderId.OPENAI) -> list[dict[str, Any]]:
    """One message as Responses input items: its text and media as one message item, tool
    calls and results as their own items, and reasoning (OpenAI's own, by the hand-off rule)
    as reasoning items with their encrypted content."""
    if isinstance(message.content, str):
        return [{"type": "message", "role": message.role, "content": message.content}]
    items: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    kind = "input_text" if message.role == "user" else "output_text"

    def flush() -> None:
        if not parts:
            return
        if all(part["type"] == kind for part in parts):  # text only: as it always went
            content: Any = "".join(part["text"] for part in parts)
        else:
            content = list(parts)
        items.append({"type": "message", "role": message.role, "content": content})
        parts.clear()

    for block in message.content:
        if isinstance(block, TextBlock):
            parts.append({"type": kind, "text": block.text})
        elif isinstance(block, ImageBlock | DocumentBlock):
            parts.append(media_part(block, chat=False))
        elif isinstance(block, ThinkingBlock):
            if block.item_id and block.encrypted_content and goes_back(block, to):
                flush()
                summary = (
                    [{"type": "summary_text", "text": block.thinking}] if block.thinking else []
                )
                items.append(
                    {
                        "type": "reasoning",
                        "id": block.item_id,
                        "summary": summary,
                        "encrypted_content": block.encrypted_content,
                    }
                )
        elif isinstance(block, ToolCallBlock):
            flush()
            items.append(
                {
                    "type": "function_call",
                    "call_id": call_id(block.id, CALL_ID, "call_"),
                    "name": block.name,
                    "arguments": json.dumps(block.arguments),
                }
            )
        elif isinstance(block, ToolResultBlock):
            flush()
            items.append(
                {
                    "type": "function_call_output",
                    "call_id": call_id(block.tool_call_id, CALL_ID, "call_"),
                    "output": result_text(block),
                }
            )
    flush()
    return items


def cache_key(request: ExecutionRequest, by_default: bool) -> tuple[str | None, bool]:
    """`prompt_cache_key` (the request's own, else a digest of its system prompt and tools:
    what every specialist of one spec shares), and whether to ask for the longer retention;
    none when caching is off, or is not asked for of an endpoint that may not take it."""
    cache = request.cache
    if cache == "off" or (cache is None and not by_default):
        return None, False
    if isinstance(cache, CacheSettings) and cache.key:
        return cache.key, cache.ttl == "1h"
    tools = (
        json.dumps([t.model_dump() for t in request.tools], sort_keys=True) if request.tools else ""
    )
    return _digest(request.system or "", tools), isinstance(
        cache, CacheSettings
    ) and cache.ttl == "1h"


@functools.lru_cache(maxsize=64)
def _digest(system: str, tools: str) -> str:
    """The default cache key of a system prompt and tools (a wave sends the same spec again and
    again: it is hashed once)."""
    shared = json.dumps([system, tools]).encode("utf-8", "surrogatepass")
    return "kata-" + hashlib.sha256(shared).hexdigest()[:32]


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
