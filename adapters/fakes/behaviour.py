"""What the fakes answer when no scenario says otherwise: deterministic and request-shaped.

- tools offered and no tool result yet: call the chosen (or first) tool with arguments made
  from its schema;
- a tool result in the last message: answer with text that quotes it;
- otherwise: echo the last user text, word by word; `max_tokens` and stop sequences cut it.
A user text of `!status 429` (any status) makes the fake answer that error: demo mode uses it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

FAIL = re.compile(r"^!status (\d{3})\b")


@dataclass
class Plan:
    """The reply a fake will stream."""

    text: str = ""
    tool: str | None = None
    arguments: dict[str, Any] = field(default_factory=dict)
    stop: str = "end_turn"
    input_tokens: int = 0
    fail_status: int | None = None


def arguments_for(schema: Any, prompt: str) -> dict[str, Any]:
    """Plausible arguments for a JSON schema: strings get the prompt, numbers 42, booleans true."""
    properties = schema.get("properties", {}) if isinstance(schema, dict) else {}
    values: dict[str, Any] = {}
    for name, spec in properties.items():
        kind = spec.get("type") if isinstance(spec, dict) else None
        if kind == "string":
            enum = spec.get("enum")
            values[name] = enum[0] if enum else prompt
        elif kind in ("integer", "number"):
            values[name] = 42
        elif kind == "boolean":
            values[name] = True
        elif kind == "array":
            values[name] = []
        elif kind == "object":
            values[name] = {}
    return values


def plan_reply(
    last_user_text: str,
    tool_result: str | None,
    tools: list[tuple[str, Any]],
    forced_tool: str | None,
    tool_choice_none: bool,
    max_tokens: int,
    stops: list[str],
    input_text: str,
) -> Plan:
    """Decide the reply for one request."""
    plan = Plan(input_tokens=max(1, len(input_text.split())))
    failing = FAIL.match(last_user_text.strip())
    if failing:
        plan.fail_status = int(failing.group(1))
        return plan
    if tool_result is None and tools and not tool_choice_none:
        name = forced_tool or tools[0][0]
        schema = dict(tools).get(name, {})
        plan.tool, plan.arguments, plan.stop = (
            name,
            arguments_for(schema, last_user_text),
            "tool_use",
        )
        return plan
    text = f"Tool said: {tool_result}" if tool_result is not None else f"Echo: {last_user_text}"
    for stop in stops:
        if stop and stop in text:
            text, plan.stop = text[: text.index(stop)], "stop_sequence"
    parts = text.split(" ")
    if len(parts) > max_tokens:
        text, plan.stop = " ".join(parts[:max_tokens]), "max_tokens"
    plan.text = text
    return plan
