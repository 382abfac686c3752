"""The OpenAI fake's replies: the plan a request asks for, and the Responses and Chat Completions
bodies and event streams it answers with, shaped as the real API's (see tests/wire)."""

from __future__ import annotations

import json
import time
from typing import Any

from adapters.fakes.behaviour import Plan, plan_reply
from adapters.fakes.sse import event, new_id, split_json, words


def _text(content: Any) -> str:
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
    users = [_text(i.get("content")) for i in items if i.get("role") == "user"]
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


def plan_chat(body: dict[str, Any]) -> Plan:
    messages = body.get("messages") or []
    last = messages[-1] if messages else {}
    result = _text(last.get("content")) if last.get("role") == "tool" else None
    users = [_text(m.get("content")) for m in messages if m.get("role") == "user"]
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


def _output_items(plan: Plan, ids: dict[str, str]) -> list[dict[str, Any]]:
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
    model: str, plan: Plan, status: str, ids: dict[str, str] | None = None, rid: str | None = None
) -> dict[str, Any]:
    ids = ids or {"fc": new_id("fc_"), "call": new_id("call_"), "msg": new_id("msg_")}
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
        "output": _output_items(plan, ids) if done else [],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "store": False,
        "usage": {
            "input_tokens": plan.input_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": output_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": plan.input_tokens + output_tokens,
        }
        if done
        else None,
    }


def responses_stream(model: str, plan: Plan) -> list[bytes]:
    ids = {"fc": new_id("fc_"), "call": new_id("call_"), "msg": new_id("msg_")}
    rid = new_id("resp_")
    seq = iter(range(10_000))
    out: list[bytes] = []

    def emit(kind: str, **data: Any) -> None:
        out.append(event(kind, {"type": kind, "sequence_number": next(seq), **data}))

    emit("response.created", response=response_body(model, plan, "in_progress", ids, rid))
    emit("response.in_progress", response=response_body(model, plan, "in_progress", ids, rid))
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
        emit("response.output_item.done", output_index=0, item=_output_items(plan, ids)[0])
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
        emit("response.output_item.done", output_index=0, item=_output_items(plan, ids)[0])
    final = response_body(model, plan, "completed", ids, rid)
    emit(
        "response.incomplete" if final["status"] == "incomplete" else "response.completed",
        response=final,
    )
    return out


def chat_completion(model: str, plan: Plan) -> dict[str, Any]:
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
        "usage": {
            "prompt_tokens": plan.input_tokens,
            "completion_tokens": output,
            "total_tokens": plan.input_tokens + output,
        },
    }


def _chat_finish(plan: Plan) -> str:
    return {"tool_use": "tool_calls", "max_tokens": "length"}.get(plan.stop, "stop")


def chat_stream(model: str, plan: Plan, include_usage: bool) -> list[bytes]:
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
        output = max(1, len(plan.text.split()))
        usage = {
            "prompt_tokens": plan.input_tokens,
            "completion_tokens": output,
            "total_tokens": plan.input_tokens + output,
        }
        out.append(event(None, {**base, "choices": [], "usage": usage}))
    out.append(b"data: [DONE]\n\n")
    return out
