"""The OpenAI fake's replies: the plan a request asks for, and the Responses and Chat Completions
bodies and event streams it answers with, shaped as the real API's (see tests/wire)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from adapters.fakes.behaviour import Plan, plan_reply
from adapters.fakes.sse import event, new_id, split_json, words


def text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def plan_responses(body: dict[str, Any]) -> Plan:
    items = body.get("input") or []
    if isinstance(items, str):
        items = [{"role": "user", "content": items}]
    last = items[-1] if items else {}
    result = last.get("output") if last.get("type") == "function_call_output" else None
    users = [text_of(i.get("content")) for i in items if i.get("role") == "user"]
    choice = body.get("tool_choice")
    tools = [
        (t["name"], t.get("parameters", {}))
        for t in body.get("tools", [])
        if t.get("type") == "function"
    ]
    return plan_reply(
        last_user_text=next((t for t in reversed(users) if t), ""),
        tool_result=result,
        tools=tools,
        forced_tool=choice.get("name") if isinstance(choice, dict) else None,
        tool_choice_none=choice == "none",
        max_tokens=int(body.get("max_output_tokens") or 4096),
        stops=[],
        input_text=json.dumps(items) + str(body.get("instructions", "")),
    )


@dataclass
class Extras:
    """What a reply carries beyond the plan: a reasoning item (its summary text, `None` when
    not asked for, and its encrypted content when included), and the input the cache read."""

    reasoning: bool = False
    summary: str | None = None
    encrypted: str | None = None
    cached: int = 0
    reasoning_id: str = field(default_factory=lambda: new_id("rs_"))


def _reasoning_item(extras: Extras, done: bool) -> dict[str, Any]:
    summary = [{"type": "summary_text", "text": extras.summary}] if extras.summary and done else []
    item: dict[str, Any] = {"id": extras.reasoning_id, "type": "reasoning", "summary": summary}
    if extras.encrypted is not None and done:
        item["encrypted_content"] = extras.encrypted
    return item


def _output_items(
    plan: Plan, ids: dict[str, str], extras: Extras | None = None
) -> list[dict[str, Any]]:
    first = [_reasoning_item(extras, True)] if extras is not None and extras.reasoning else []
    return first + _answer_items(plan, ids)


def _answer_items(plan: Plan, ids: dict[str, str]) -> list[dict[str, Any]]:
    if plan.tool:
        return [
            {
                "id": ids["fc"],
                "type": "function_call",
                "status": "completed",
                "call_id": ids["call"],
                "name": plan.tool,
                "arguments": json.dumps(plan.arguments),
            }
        ]
    return [
        {
            "id": ids["msg"],
            "type": "message",
            "status": "completed",
            "role": "assistant",
            "content": [
                {"type": "output_text", "text": plan.text, "annotations": [], "logprobs": []}
            ],
        }
    ]


def response_body(
    model: str,
    plan: Plan,
    status: str,
    ids: dict[str, str] | None = None,
    rid: str | None = None,
    extras: Extras | None = None,
) -> dict[str, Any]:
    ids = ids or {"fc": new_id("fc_"), "call": new_id("call_"), "msg": new_id("msg_")}
    extras = extras or Extras()
    reasoning_tokens = 12 if extras.reasoning else 0
    output_tokens = max(1, len(plan.text.split()) if plan.text else 8)
    done = status == "completed"
    incomplete = {"reason": "max_output_tokens"} if plan.stop == "max_tokens" else None
    return {
        "id": rid or new_id("resp_"),
        "object": "response",
        "created_at": int(time.time()),
        "status": "incomplete" if done and incomplete else status,
        "error": None,
        "incomplete_details": incomplete if done else None,
        "model": model,
        "output": _output_items(plan, ids, extras) if done else [],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "store": False,
        "usage": {
            "input_tokens": plan.input_tokens,
            "input_tokens_details": {"cached_tokens": extras.cached},
            "output_tokens": output_tokens + reasoning_tokens,
            "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
            "total_tokens": plan.input_tokens + output_tokens + reasoning_tokens,
        }
        if done
        else None,
    }


def responses_stream(model: str, plan: Plan, extras: Extras | None = None) -> list[bytes]:
    ids = {"fc": new_id("fc_"), "call": new_id("call_"), "msg": new_id("msg_")}
    rid = new_id("resp_")
    extras = extras or Extras()
    seq = iter(range(10_000))
    out: list[bytes] = []
    at = 1 if extras.reasoning else 0  # the answer's output_index

    def emit(kind: str, **data: Any) -> None:
        if "output_index" in data:
            data["output_index"] += at
        out.append(event(kind, {"type": kind, "sequence_number": next(seq), **data}))

    emit("response.created", response=response_body(model, plan, "in_progress", ids, rid))
    emit("response.in_progress", response=response_body(model, plan, "in_progress", ids, rid))
    if extras.reasoning:
        _stream_reasoning(extras, emit)
    item: dict[str, Any]
    if plan.tool:
        item = {
            "id": ids["fc"],
            "type": "function_call",
            "status": "in_progress",
            "call_id": ids["call"],
            "name": plan.tool,
            "arguments": "",
        }
        emit("response.output_item.added", output_index=0, item=item)
        arguments = json.dumps(plan.arguments)
        for piece in split_json(arguments):
            emit(
                "response.function_call_arguments.delta",
                item_id=ids["fc"],
                output_index=0,
                delta=piece,
            )
        emit(
            "response.function_call_arguments.done",
            item_id=ids["fc"],
            output_index=0,
            arguments=arguments,
        )
        emit("response.output_item.done", output_index=0, item=_answer_items(plan, ids)[0])
    else:
        item = {
            "id": ids["msg"],
            "type": "message",
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        emit("response.output_item.added", output_index=0, item=item)
        part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        emit(
            "response.content_part.added",
            item_id=ids["msg"],
            output_index=0,
            content_index=0,
            part=part,
        )
        for piece in words(plan.text):
            emit(
                "response.output_text.delta",
                item_id=ids["msg"],
                output_index=0,
                content_index=0,
                delta=piece,
                logprobs=[],
            )
        emit(
            "response.output_text.done",
            item_id=ids["msg"],
            output_index=0,
            content_index=0,
            text=plan.text,
            logprobs=[],
        )
        emit(
            "response.content_part.done",
            item_id=ids["msg"],
            output_index=0,
            content_index=0,
            part={**part, "text": plan.text},
        )
        emit("response.output_item.done", output_index=0, item=_answer_items(plan, ids)[0])
    final = response_body(model, plan, "completed", ids, rid, extras)
    emit(
        "response.incomplete" if final["status"] == "incomplete" else "response.completed",
        response=final,
    )
    return out


def _stream_reasoning(extras: Extras, emit: Any) -> None:
    """The reasoning item at output_index 0 (the emitter shifts the rest), summary streamed."""
    emit("response.output_item.added", output_index=-1, item=_reasoning_item(extras, False))
    if extras.summary:
        part = {"type": "summary_text", "text": ""}
        common = {"item_id": extras.reasoning_id, "output_index": -1, "summary_index": 0}
        emit("response.reasoning_summary_part.added", **common, part=part)
        for piece in words(extras.summary):
            emit("response.reasoning_summary_text.delta", **common, delta=piece)
        emit("response.reasoning_summary_text.done", **common, text=extras.summary)
        emit(
            "response.reasoning_summary_part.done", **common, part={**part, "text": extras.summary}
        )
    emit("response.output_item.done", output_index=-1, item=_reasoning_item(extras, True))
