"""A seeded fault schedule for the fakes (a chaos run's upstream), and what each served request
declared: its status, whether the reply went out whole, the usage in the bytes it sent, and the
caller's marker from the request body. The chaos checker compares these with the daemon's ledger.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from typing import Any

from adapters.fakes.server import FakeRequest, Reply, Step

MARKER = re.compile(rb"ck[0-9a-f]{12}")
BILLABLE = ("/v1/messages", "/v1/responses", "/v1/chat/completions")
SESSION_TOKEN_PREFIX = "sk-ant-oat01-chaos-session-"


@dataclass(frozen=True)
class FaultMix:
    """Per-request chances of each fault (the rest are served normally)."""

    rate_limit: float = 0.08
    server_error: float = 0.04
    reset: float = 0.02
    stall: float = 0.01
    drip_past_idle: float = 0.01
    slow_head: float = 0.03
    idle_s: float = 1.0  # the daemon's idle deadline: a drip past it is a stall mid-stream


class Faults:
    """Draws a fault for each billable request; counts what it drew, by kind."""

    def __init__(self, seed: int, mix: FaultMix | None = None) -> None:
        self._rng = random.Random(seed)  # noqa: S311 - a reproducible schedule, not a secret
        self.mix = mix or FaultMix()
        self.drawn: dict[str, int] = {}

    def __call__(self, request: FakeRequest) -> Step | None:
        if request.method != "POST" or not request.path.endswith(BILLABLE):
            return None
        kind, step = self._draw()
        if kind:
            self.drawn[kind] = self.drawn.get(kind, 0) + 1
        return step

    def _draw(self) -> tuple[str, Step | None]:
        rng, mix = self._rng, self.mix
        roll = rng.random()
        for kind, chance in (
            ("rate_limit", mix.rate_limit),
            ("server_error", mix.server_error),
            ("reset", mix.reset),
            ("stall", mix.stall),
            ("drip_past_idle", mix.drip_past_idle),
            ("slow_head", mix.slow_head),
        ):
            if roll < chance:
                return kind, self._step(kind)
            roll -= chance
        return "", None

    def _step(self, kind: str) -> Step:
        rng = self._rng
        if kind == "rate_limit":
            wait = (
                ("retry-after-ms", str(rng.randint(5, 300)))
                if rng.random() < 0.8
                else ("retry-after", str(rng.randint(0, 2)))
            )
            return Step(status=429, headers=[wait])
        if kind == "server_error":
            return Step(status=rng.choice((500, 502, 503, 529)))
        if kind == "reset":
            return Step(reset_after_events=rng.randint(1, 6))
        if kind == "stall":
            return Step(stall_after_headers=True)
        if kind == "drip_past_idle":
            return Step(drip_s=self.mix.idle_s * 1.5)
        return Step(delay_s=rng.uniform(0.2, 1.5))


def served(
    provider: str, request: FakeRequest, complete: bool, reply: Reply | None
) -> dict[str, Any]:
    """One report line for a request that ended."""
    marker = MARKER.search(request.body)
    return {
        "event": "request_end",
        "provider": provider,
        "method": request.method,
        "path": request.path,
        "status": reply.status if reply is not None else None,
        "complete": complete,
        "marker": marker.group().decode() if marker else None,
        "usage": declared_usage(reply, complete)
        if reply is not None and reply.status < 400
        else None,
    }


def declared_usage(reply: Reply, complete: bool) -> list[int] | None:
    """`[input, output]` tokens as the bytes sent declared them (streams: the events written
    before the reply ended or was cut; the providers' counts are running totals, so the
    largest seen of each is the total; a whole answer cut mid-body declared nothing a client
    can read). None when nothing sent declared usage."""
    if reply.chunks is None:
        texts = [reply.body] if complete else []
    else:
        texts = reply.chunks[: reply.sent]
    found: list[int] | None = None
    for text in texts:
        for line in text.split(b"\n"):
            payload = line.removeprefix(b"data: ").strip()
            if not payload.startswith(b"{"):
                continue
            for counts in _usages(json.loads(payload)):
                found = [max(a, b) for a, b in zip(found or [0, 0], counts, strict=True)]
    return found


def _usages(value: Any) -> list[list[int]]:
    """Every usage object inside `value`, as [input, output]."""
    found: list[list[int]] = []
    if isinstance(value, dict):
        usage = value.get("usage")
        if isinstance(usage, dict):
            found.append(
                [
                    int(usage.get("input_tokens") or usage.get("prompt_tokens") or 0),
                    int(usage.get("output_tokens") or usage.get("completion_tokens") or 0),
                ]
            )
        for key, inner in value.items():
            if key != "usage":
                found += _usages(inner)
    elif isinstance(value, list):
        for inner in value:
            found += _usages(inner)
    return found
