"""The Anthropic fake's replies: the plan a request asks for, and the Messages bodies and event
streams it answers with, shaped as the real API's (see tests/wire)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from adapters.anthropic.fake_rules import sign
from adapters.fakes.behaviour import Plan, plan_reply
from adapters.fakes.sse import event, new_id, split_json, words

THOUGHT = "Let me think about this."


@dataclass
class Extras:
    """What a reply carries beyond the plan: thinking (its text, `""` when omitted), a redacted
    thinking block, and the input tokens as the cache split them."""

    thinking: str | None = None
    redacted: str | None = None
    uncached: int | None = None
    cache_read: int = 0
    cache_write: int = 0


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(
        b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text"
    )


def plan_of(body: dict[str, Any]) -> Plan:
    messages = body["messages"]
    last = messages[-1]
    content = last.get("content")
    result = None
    if isinstance(content, list):
        results = [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]
        if results:
            result = (
                _text_of(results[-1].get("content", ""))
                if not isinstance(results[-1].get("content"), str)
                else results[-1]["content"]
            )
    user_texts = [_text_of(m.get("content")) for m in messages if m.get("role") == "user"]
    choice = body.get("tool_choice") or {}
    return plan_reply(
        last_user_text=next((t for t in reversed(user_texts) if t), ""),
        tool_result=result,
        tools=[(t["name"], t.get("input_schema", {})) for t in body.get("tools", [])],
        forced_tool=choice.get("name") if choice.get("type") == "tool" else None,
        tool_choice_none=choice.get("type") == "none",
        max_tokens=int(body["max_tokens"]),
        stops=list(body.get("stop_sequences", [])),
        input_text=json.dumps(messages) + str(body.get("system", "")),
    )


def _usage(plan: Plan, output: int, extras: Extras) -> dict[str, Any]:
    return {
        "input_tokens": plan.input_tokens if extras.uncached is None else extras.uncached,
        "cache_creation_input_tokens": extras.cache_write,
        "cache_read_input_tokens": extras.cache_read,
        "output_tokens": output,
        "service_tier": "standard",
    }


def _output_tokens(plan: Plan) -> int:
    """The answer's output count, alike whole and streamed."""
    return max(1, len(plan.text.split()) if plan.text else len(json.dumps(plan.arguments)) // 4)


def message_body(model: str, plan: Plan, extras: Extras) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if extras.thinking is not None:
        thought = extras.thinking
        content.append({"type": "thinking", "thinking": thought, "signature": sign(thought)})
    if extras.redacted is not None:
        content.append({"type": "redacted_thinking", "data": extras.redacted})
    if plan.tool:
        content.append(
            {"type": "tool_use", "id": new_id("toolu_"), "name": plan.tool, "input": plan.arguments}
        )
    else:
        content.append({"type": "text", "text": plan.text})
    return {
        "id": new_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": plan.stop,
        "stop_sequence": None,
        "usage": _usage(plan, _output_tokens(plan), extras),
    }


def event_stream(model: str, plan: Plan, extras: Extras) -> list[bytes]:
    start: dict[str, Any] = {
        "id": new_id("msg_"),
        "type": "message",
        "role": "assistant",
        "content": [],
        "model": model,
        "stop_reason": None,
        "stop_sequence": None,
        "usage": _usage(plan, 1, extras),
    }
    out = [event("message_start", {"type": "message_start", "message": start})]
    index = 0
    thinking = extras.thinking is not None
    if extras.thinking is not None:
        out.append(_block_start(index, {"type": "thinking", "thinking": "", "signature": ""}))
        out.append(event("ping", {"type": "ping"}))
        for piece in words(extras.thinking):
            out.append(_delta(index, {"type": "thinking_delta", "thinking": piece}))
        signature = sign(extras.thinking)
        out.append(_delta(index, {"type": "signature_delta", "signature": signature}))
        out.append(event("content_block_stop", {"type": "content_block_stop", "index": index}))
        index += 1
    if extras.redacted is not None:
        out.append(_block_start(index, {"type": "redacted_thinking", "data": extras.redacted}))
        out.append(event("content_block_stop", {"type": "content_block_stop", "index": index}))
        index += 1
    if plan.tool:
        block = {"type": "tool_use", "id": new_id("toolu_"), "name": plan.tool, "input": {}}
        out.append(_block_start(index, block))
        pieces = ["", *split_json(json.dumps(plan.arguments))]
        out += [_delta(index, {"type": "input_json_delta", "partial_json": p}) for p in pieces]
    else:
        out.append(_block_start(index, {"type": "text", "text": ""}))
        out += [_delta(index, {"type": "text_delta", "text": piece}) for piece in words(plan.text)]
    if not thinking:
        out.insert(2, event("ping", {"type": "ping"}))
    out.append(event("content_block_stop", {"type": "content_block_stop", "index": index}))
    output = _output_tokens(plan)
    out.append(
        event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": plan.stop, "stop_sequence": None},
                "usage": {"output_tokens": output},
            },
        )
    )
    out.append(event("message_stop", {"type": "message_stop"}))
    return out


def _block_start(index: int, block: dict[str, Any]) -> bytes:
    return event(
        "content_block_start",
        {"type": "content_block_start", "index": index, "content_block": block},
    )


def _delta(index: int, delta: dict[str, Any]) -> bytes:
    return event(
        "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
    )
