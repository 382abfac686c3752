"""The recorded provider streams in tests/wire (copied byte for byte from public repositories;
tests/wire/SOURCES.md says from where), as raw bytes, with what they say computed
independently of the adapters (a plain SSE parse), so the tests compare two separate readings."""

from __future__ import annotations

import base64
import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

WIRE = Path(__file__).resolve().parent / "wire"


@dataclass
class Recording:
    """One recorded streamed response."""

    name: str
    protocol: str  # "anthropic", "responses" or "chat"
    raw: bytes
    text: str = ""
    tool_arguments: list[dict[str, Any]] = field(default_factory=list)
    # The provider's counts, normalized by hand: input is the uncached part.
    usage: dict[str, int] = field(default_factory=dict)


def _bodies(path: Path) -> list[bytes]:
    if path.suffix == ".sse":
        return [path.read_bytes()]
    document = yaml.safe_load(path.read_text())
    bodies = []
    for interaction in document["interactions"]:
        body = interaction["response"]["body"]
        value = body.get("string") if isinstance(body, dict) else body
        if isinstance(value, bytes):
            value = gzip.decompress(value) if value[:2] == b"\x1f\x8b" else value
        elif isinstance(value, str) and not value.lstrip().startswith(("event:", "data:")):
            value = gzip.decompress(base64.b64decode(value))
        raw = value if isinstance(value, bytes) else str(value).encode()
        if b"data:" in raw:
            bodies.append(raw)
    return bodies


def _events(raw: bytes) -> list[tuple[str | None, Any]]:
    events: list[tuple[str | None, Any]] = []
    for block in raw.decode().split("\n\n"):
        name, data = None, []
        for line in block.splitlines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        if data and data != ["[DONE]"]:
            events.append((name, json.loads("\n".join(data))))
    return events


def _read_anthropic(recording: Recording) -> None:
    parts: dict[int, list[str]] = {}
    counts: dict[str, int] = {}
    for _, data in _events(recording.raw):
        raw_usage = (data.get("message") or {}).get("usage") or data.get("usage") or {}
        for theirs, ours in (
            ("input_tokens", "input_tokens"),
            ("output_tokens", "output_tokens"),
            ("cache_read_input_tokens", "cache_read_tokens"),
            ("cache_creation_input_tokens", "cache_write_tokens"),
        ):
            if raw_usage.get(theirs):
                counts[ours] = raw_usage[theirs]  # later events carry running totals
        if (
            data.get("type") == "content_block_start"
            and data["content_block"]["type"] == "tool_use"
        ):
            parts[data["index"]] = []
        elif data.get("type") == "content_block_delta":
            delta = data["delta"]
            if delta["type"] == "text_delta":
                recording.text += delta["text"]
            elif delta["type"] == "input_json_delta":
                parts[data["index"]].append(delta["partial_json"])
    recording.tool_arguments = [json.loads("".join(p) or "{}") for _, p in sorted(parts.items())]
    recording.usage = _normalized(counts)


def _normalized(counts: dict[str, int]) -> dict[str, int]:
    usage = {
        "input_tokens": counts.get("input_tokens", 0),
        "output_tokens": counts.get("output_tokens", 0),
        "cache_read_tokens": counts.get("cache_read_tokens", 0),
        "cache_write_tokens": counts.get("cache_write_tokens", 0),
        "reasoning_tokens": counts.get("reasoning_tokens", 0),
    }
    usage["total_tokens"] = sum(usage[k] for k in usage if k != "reasoning_tokens")
    return usage


def _openai_counts(raw_usage: dict[str, Any], chat: bool) -> dict[str, int]:
    prefix = ("prompt", "completion") if chat else ("input", "output")
    cached = (raw_usage.get(f"{prefix[0]}_tokens_details") or {}).get("cached_tokens") or 0
    reasoning = (raw_usage.get(f"{prefix[1]}_tokens_details") or {}).get("reasoning_tokens") or 0
    return {
        # OpenAI's input count includes the cached tokens.
        "input_tokens": raw_usage.get(f"{prefix[0]}_tokens", 0) - cached,
        "cache_read_tokens": cached,
        "output_tokens": raw_usage.get(f"{prefix[1]}_tokens", 0),
        "reasoning_tokens": reasoning,
    }


def _read_responses(recording: Recording) -> None:
    for _, data in _events(recording.raw):
        if data.get("type") in ("response.completed", "response.incomplete"):
            raw_usage = (data.get("response") or {}).get("usage") or {}
            recording.usage = _normalized(_openai_counts(raw_usage, chat=False))
        if data.get("type") == "response.output_text.delta":
            recording.text += data["delta"]
        elif data.get("type") == "response.function_call_arguments.done":
            recording.tool_arguments.append(json.loads(data["arguments"]))


def _read_chat(recording: Recording) -> None:
    parts: dict[int, list[str]] = {}
    for _, data in _events(recording.raw):
        if data.get("usage"):
            recording.usage = _normalized(_openai_counts(data["usage"], chat=True))
        for choice in data.get("choices", []):
            delta = choice.get("delta") or {}
            recording.text += delta.get("content") or ""
            for call in delta.get("tool_calls") or []:
                parts.setdefault(call["index"], []).append(
                    call.get("function", {}).get("arguments") or ""
                )
    recording.tool_arguments = [json.loads("".join(p) or "{}") for _, p in sorted(parts.items())]


def recordings() -> list[Recording]:
    """Every recorded stream in tests/wire."""
    found: list[Recording] = []
    for path in sorted(WIRE.iterdir()):
        if not path.name.startswith(
            ("anthropic_stream", "openai_chat_stream", "openai_responses_stream")
        ):
            continue
        protocol = (
            "anthropic"
            if path.name.startswith("anthropic")
            else ("chat" if "chat" in path.name else "responses")
        )
        for number, raw in enumerate(_bodies(path)):
            found.append(read(Recording(f"{path.name}#{number}", protocol, raw)))
    return found


def read(recording: Recording) -> Recording:
    """Fill in what the recording says (text, tool arguments, usage) from its raw bytes."""
    recording.text, recording.tool_arguments, recording.usage = "", [], {}
    {"anthropic": _read_anthropic, "responses": _read_responses, "chat": _read_chat}[
        recording.protocol
    ](recording)
    return recording
