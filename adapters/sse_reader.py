"""Reading a provider's server-sent events off the raw response (the direct path's, or the SDK's
for the token sessions only the SDK can serve).

The event stream is parsed here into light attribute objects instead of the SDK's typed models,
which cost far more per event than everything else on the daemon's hot path. An event left
unterminated at the end of the stream is still delivered (some servers omit the final blank
line).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any


class Fields:
    """A JSON object with attribute access, as the mappers read SDK models: a missing field
    reads as None. Nested objects are wrapped only when read (a `response.completed` event
    carries the whole answer, and the mappers read a few fields of it)."""

    __slots__ = ("_data",)

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getattr__(self, name: str) -> Any:
        value = self._data.get(name)
        if type(value) is dict:
            return Fields(value)
        if type(value) is list:
            return [Fields(item) if type(item) is dict else item for item in value]
        return value

    def __repr__(self) -> str:
        return f"Fields({self._data!r})"


def whole_answer(raw: bytes) -> dict[str, Any]:
    """A whole answer's JSON object; anything else is a ValueError (read as a malformed answer,
    as a stream event that is not JSON is)."""
    value = json.loads(raw)
    if type(value) is not dict:
        raise ValueError("a whole answer that is not a JSON object")
    return value


def parse(data: str) -> Any:
    """JSON with attribute access (`event.delta.text`), as the mappers read SDK objects."""
    value = json.loads(data)
    return Fields(value) if type(value) is dict else value


async def events(lines: AsyncIterator[str]) -> AsyncIterator[tuple[str | None, str]]:
    """(event name, data) pairs from SSE lines; comments and empty data are skipped."""
    name: str | None = None
    data: list[str] = []
    async for line in lines:
        if not line:
            if data:
                yield name, "\n".join(data)
            name, data = None, []
        elif line.startswith("data:"):
            data.append(line[6:] if line.startswith("data: ") else line[5:])
        elif line.startswith("event:"):
            name = line[6:].strip()
    if data:
        yield name, "\n".join(data)
