"""Framing helpers shared by the fakes."""

from __future__ import annotations

import json
import uuid
from typing import Any


def event(name: str | None, data: Any) -> bytes:
    """One SSE event: `event:` line (when named) and a compact JSON `data:` line."""
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    head = f"event: {name}\n" if name else ""
    return f"{head}data: {payload}\n\n".encode()


def new_id(prefix: str) -> str:
    """An id shaped like the providers' (`msg_…`, `toolu_…`, `resp_…`)."""
    return f"{prefix}{uuid.uuid4().hex[:24]}"


def words(text: str) -> list[str]:
    """Split text into deltas the way models stream: a word and its following space."""
    parts = text.split(" ")
    return [part + (" " if i < len(parts) - 1 else "") for i, part in enumerate(parts)]


def split_json(text: str, pieces: int = 3) -> list[str]:
    """Cut a JSON string into fragments, as `partial_json` / argument deltas arrive."""
    size = max(1, len(text) // pieces)
    return [text[i : i + size] for i in range(0, len(text), size)]


SSE_HEADERS = [
    ("content-type", "text/event-stream; charset=utf-8"),
    ("cache-control", "no-cache"),
]
