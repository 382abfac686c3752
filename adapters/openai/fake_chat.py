"""The OpenAI fake's Chat Completions replies: the plan a request asks for, and the bodies and
chunk streams it answers with, shaped as the real API's (see tests/wire)."""

from __future__ import annotations

import json
import time
from typing import Any

from adapters.fakes.behaviour import Plan, plan_reply
from adapters.fakes.sse import event, new_id, split_json, words
from adapters.openai.fake_replies import Extras, text_of


def plan_chat(body: dict[str, Any]) -> Plan:
    messages = body.get("messages") or []
    last = messages[-1] if messages else {}
    result = text_of(last.get("content")) if last.get("role") == "tool" else None
    users = [text_of(m.get("content")) for m in messages if m.get("role") == "user"]
    choice = body.get("tool_choice")
    tools = [
        (t["function"]["name"], t["function"].get("parameters", {})) for t in body.get("tools", [])
    ]
    stops = body.get("stop") or []
    return plan_reply(
        last_user_text=next((t for t in reversed(users) if t), ""),
        tool_result=result,
        tools=tools,
        forced_tool=choice["function"]["name"] if isinstance(choice, dict) else None,
        tool_choice_none=choice == "none",
        max_tokens=int(body.get("max_completion_tokens") or body.get("max_tokens") or 4096),
        stops=[stops] if isinstance(stops, str) else list(stops),
        input_text=json.dumps(messages),
    )


def chat_completion(model: str, plan: Plan, extras: Extras | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": plan.text or None,
        "refusal": None,
        "annotations": [],
    }
    if plan.tool:
        message["tool_calls"] = [
            {
                "id": new_id("call_"),
                "type": "function",
                "function": {"name": plan.tool, "arguments": json.dumps(plan.arguments)},
            }
        ]
    output = max(1, len(plan.text.split()))
    return {
        "id": new_id("chatcmpl-"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": _chat_finish(plan)}
        ],
        "usage": _chat_usage(plan, output, extras or Extras()),
    }


def _chat_usage(plan: Plan, output: int, extras: Extras) -> dict[str, Any]:
    reasoning = 12 if extras.reasoning else 0
    return {
        "prompt_tokens": plan.input_tokens,
        "completion_tokens": output + reasoning,
        "total_tokens": plan.input_tokens + output + reasoning,
        "prompt_tokens_details": {"cached_tokens": extras.cached},
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    }


def _chat_finish(plan: Plan) -> str:
    return {"tool_use": "tool_calls", "max_tokens": "length"}.get(plan.stop, "stop")


def chat_stream(
    model: str, plan: Plan, include_usage: bool, extras: Extras | None = None
) -> list[bytes]:
    base = {
        "id": new_id("chatcmpl-"),
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "service_tier": "default",
        "system_fingerprint": None,
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return event(None, {**base, "choices": [choice], "usage": None})

    out: list[bytes] = []
    if plan.tool:
        call = {
            "index": 0,
            "id": new_id("call_"),
            "type": "function",
            "function": {"name": plan.tool, "arguments": ""},
        }
        out.append(
            chunk({"role": "assistant", "content": None, "tool_calls": [call], "refusal": None})
        )
        for piece in split_json(json.dumps(plan.arguments)):
            out.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
    else:
        out.append(chunk({"role": "assistant", "content": "", "refusal": None}))
        out += [chunk({"content": piece}) for piece in words(plan.text)]
    out.append(chunk({}, _chat_finish(plan)))
    if include_usage:
        usage = _chat_usage(plan, max(1, len(plan.text.split())), extras or Extras())
        out.append(event(None, {**base, "choices": [], "usage": usage}))
    out.append(b"data: [DONE]\n\n")
    return out
