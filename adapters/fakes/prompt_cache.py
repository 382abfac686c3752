"""The fakes' prompt cache: prompt prefixes seen, by digest, until they expire. A request's
prompt is a list of segments (the system prompt and tools, then each message); the longest
prefix of segments seen before is read from the cache, and (when the request caches) every
prefix of it is written. Prompts under the providers' minimum cacheable length never cache."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

MIN_TOKENS = 1024  # the providers' smallest cacheable prompt


def tokens(value: Any) -> int:
    """The fakes' token count: one a word of the JSON."""
    return len(json.dumps(value).split())


class PromptCache:
    """One per fake; `use` is the whole interface."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._until: dict[str, float] = {}

    def use(
        self, segments: list[Any], write: bool, ttl_s: float = 300.0, key: str = ""
    ) -> tuple[int, int, int]:
        """(uncached, read, written) input tokens for a prompt of `segments`."""
        counts = [tokens(segment) for segment in segments]
        total = sum(counts)
        if total < MIN_TOKENS:
            return total, 0, 0
        now = self._clock()
        digest = hashlib.sha256(key.encode())
        read = seen = 0
        prefixes: list[str] = []
        for segment, count in zip(segments, counts, strict=True):
            digest.update(json.dumps(segment, sort_keys=True).encode())
            prefixes.append(digest.hexdigest())
            seen += count
            if self._until.get(prefixes[-1], 0.0) > now:
                read = seen
        written = 0
        if write:
            for prefix in prefixes:
                self._until[prefix] = now + ttl_s
            written = total - read
        return total - read - written, read, written
