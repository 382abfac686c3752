"""A fake OpenAI API on loopback: Responses (with `sequence_number`), Chat Completions, models,
the Codex backend's rules for ChatGPT-plan sessions, every error shape, and scripted faults."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from adapters.catalogue import catalogue
from adapters.fakes.behaviour import Plan, plan_reply
from adapters.fakes.server import FakeRequest, FakeServer, Reply, Step, scripted, split_events
from adapters.fakes.sse import SSE_HEADERS, event, new_id, split_json, words
from contracts.base import ProviderId

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "permission_error",
    404: "invalid_request_error",
    429: "rate_limit_exceeded",
    500: "server_error",
    503: "server_error",
}
EXPIRED_MESSAGE = "Provided authentication token is expired. Please try signing in again."
CODEX_REJECTS = ("max_output_tokens", "temperature", "top_p", "metadata", "previous_response_id")


@dataclass
class OpenAIAuth:
    """Which credentials the fake accepts."""

    api_keys: set[str] = field(default_factory=set)
    chatgpt_tokens: set[str] = field(default_factory=set)
    expired_chatgpt_tokens: set[str] = field(default_factory=set)


def error_reply(
    status: int,
    message: str,
    code: str | None = None,
    param: str | None = None,
    headers: list[tuple[str, str]] | None = None,
) -> Reply:
    """The real shape: `{"error": {message, type, param, code}}` and an `x-request-id` header."""
    body = {
        "error": {
            "message": message,
            "type": ERROR_TYPES.get(status, "server_error"),
            "param": param,
            "code": code,
        }
    }
    return Reply.json(status, body, [("x-request-id", new_id("req_")), *(headers or [])])


def _mask(key: str) -> str:
    return f"{key[:3]}****{key[-4:]}" if len(key) > 8 else "****"


class FakeOpenAI(FakeServer):
    """`FakeOpenAI(auth).start()`; then point OPENAI_BASE_URL at `.url + "/v1"`."""

    def __init__(self, auth: OpenAIAuth | None = None, models: list[str] | None = None) -> None:
        super().__init__(self._handle)
        self.auth = auth or OpenAIAuth()
        self.limit_reply = lambda: error_reply(
            429,
            "Rate limit reached for requests. Please try again shortly.",
            "rate_limit_exceeded",
            headers=[("retry-after-ms", "50")],
        )
        self.models = models if models is not None else [m.id for m in catalogue(ProviderId.OPENAI)]

    async def _handle(self, request: FakeRequest, step: Step | None) -> Reply:
        codex = request.path.startswith("/backend-api/codex/")
        denied = self._check_codex(request) if codex else self._check(request)
        if denied is not None:
            return denied
        if step is not None and step.status is not None and step.status != 200:
            message = step.body if isinstance(step.body, str) else "Scripted failure."
            return scripted(error_reply(step.status, message, headers=step.headers), step)
        path = request.path.removeprefix("/backend-api/codex").removeprefix("/v1")
        if path == "/models" and request.method == "GET":
            data = [
                {"id": m, "object": "model", "created": 1_760_000_000, "owned_by": "openai"}
                for m in self.models
            ]
            return Reply.json(
                200, {"object": "list", "data": data}, [("x-request-id", new_id("req_"))]
            )
        if path in ("/responses", "/chat/completions") and request.method == "POST":
            try:
                body = request.json()
            except ValueError:
                return error_reply(400, "We could not parse the JSON body of your request.")
            if not isinstance(body, dict):
                return error_reply(400, "Invalid body.")
            if codex:
                problem = _codex_rules(body)
                if problem is not None:
                    return problem
            if body.get("model") not in self.models:
                return error_reply(
                    400,
                    f"The requested model '{body.get('model')}' does not exist.",
                    "model_not_found",
                    "model",
                )
            if step is not None and step.replay is not None:
                return scripted(
                    Reply(200, list(SSE_HEADERS), chunks=split_events(step.replay)), step
                )
            chat = path == "/chat/completions"
            plan = _plan_chat(body) if chat else _plan_responses(body)
            if plan.fail_status is not None:
                return error_reply(plan.fail_status, f"Demo failure {plan.fail_status}.")
            return self._reply(body, plan, chat, step)
        return error_reply(404, f"Invalid URL ({request.method} {request.path})")

    def _check(self, request: FakeRequest) -> Reply | None:
        bearer = request.headers.get("authorization", "")
        key = bearer[7:] if bearer.lower().startswith("bearer ") else ""
        if not key:
            return error_reply(401, "You didn't provide an API key.", None)
        if key in self.auth.api_keys:
            return None
        if key in self.auth.chatgpt_tokens:
            return error_reply(401, "Missing scopes: api.responses.write", "missing_scope")
        return error_reply(
            401,
            f"Incorrect API key provided: {_mask(key)}. You can find your API key "
            "at https://platform.openai.com/account/api-keys.",
            "invalid_api_key",
        )

    def _check_codex(self, request: FakeRequest) -> Reply | None:
        bearer = request.headers.get("authorization", "")
        token = bearer[7:] if bearer.lower().startswith("bearer ") else ""
        if token in self.auth.expired_chatgpt_tokens:
            body = {
                "error": {
                    "message": EXPIRED_MESSAGE,
                    "type": None,
                    "code": "token_expired",
                    "param": None,
                },
                "status": 401,
            }
            return Reply.json(401, body)
        if token not in self.auth.chatgpt_tokens:
            return Reply.json(401, {"detail": "Unauthorized"})
        if not request.headers.get("chatgpt-account-id"):
            return Reply.json(400, {"detail": "ChatGPT-Account-ID header is required"})
        return None

    def _reply(self, body: dict[str, Any], plan: Plan, chat: bool, step: Step | None) -> Reply:
        model = body["model"]
        headers = [("x-request-id", new_id("req_")), ("openai-processing-ms", "12")]
        if not body.get("stream"):
            data = _chat_completion(model, plan) if chat else _response(model, plan, "completed")
            return Reply.json(200, data, headers)
        if chat:
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            chunks = _chat_stream(model, plan, include_usage)
        else:
            chunks = _responses_stream(model, plan)
        if step is not None:
            chunks = _inject(chunks, step, chat)
        return scripted(Reply(200, [*SSE_HEADERS, *headers], chunks=chunks), step)


def _codex_rules(body: dict[str, Any]) -> Reply | None:
    for name in CODEX_REJECTS:
        if name in body:
            return Reply.json(400, {"detail": f"Unsupported parameter: {name}"})
    if body.get("stream") is not True:
        return Reply.json(400, {"detail": "Stream must be set to true"})
    if body.get("store") is not False:
        return Reply.json(400, {"detail": "Store must be set to false"})
    if not body.get("instructions"):
        return Reply.json(400, {"detail": "Instructions are required"})
    if not isinstance(body.get("input"), list):
        return Reply.json(400, {"detail": "Input must be a list"})
    return None


def _inject(chunks: list[bytes], step: Step, chat: bool) -> list[bytes]:
    if step.error_after_events is not None:
        error = {
            "error": {
                "message": "The server had an error.",
                "type": "server_error",
                "param": None,
                "code": "server_error",
            }
        }
        tail = (
            event(None, error)
            if chat
            else event(
                "error",
                {
                    "type": "error",
                    "code": "server_error",
                    "message": "The server had an error.",
                    "param": None,
                    "sequence_number": step.error_after_events,
                },
            )
        )
        return [*chunks[: step.error_after_events], tail]
    if step.malformed_after_events is not None:
        return [
            *chunks[: step.malformed_after_events],
            b"event: response.output_text.delta\ndata: {oops\n\n",
        ]
    return chunks


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _plan_responses(body: dict[str, Any]) -> Plan:
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


def _plan_chat(body: dict[str, Any]) -> Plan:
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


def _response(
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


def _responses_stream(model: str, plan: Plan) -> list[bytes]:
    ids = {"fc": new_id("fc_"), "call": new_id("call_"), "msg": new_id("msg_")}
    rid = new_id("resp_")
    seq = iter(range(10_000))
    out: list[bytes] = []

    def emit(kind: str, **data: Any) -> None:
        out.append(event(kind, {"type": kind, "sequence_number": next(seq), **data}))

    emit("response.created", response=_response(model, plan, "in_progress", ids, rid))
    emit("response.in_progress", response=_response(model, plan, "in_progress", ids, rid))
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
    final = _response(model, plan, "completed", ids, rid)
    emit(
        "response.incomplete" if final["status"] == "incomplete" else "response.completed",
        response=final,
    )
    return out


def _chat_completion(model: str, plan: Plan) -> dict[str, Any]:
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


def _chat_stream(model: str, plan: Plan, include_usage: bool) -> list[bytes]:
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
