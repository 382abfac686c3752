"""A fake Anthropic Messages API on loopback: auth checked as the real API checks it, models with
pagination, streams with the real event names and order, every documented error shape, and
scripted faults."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from adapters.catalogue import catalogue
from adapters.fakes.behaviour import Plan, plan_reply
from adapters.fakes.server import FakeRequest, FakeServer, Reply, Step, scripted, split_events
from adapters.fakes.sse import SSE_HEADERS, event, new_id, split_json, words
from contracts.base import ProviderId

VERSIONS = frozenset({"2023-01-01", "2023-06-01", "2026-10-21"})
OAUTH_BETA = "oauth-2025-04-20"
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
SIGNATURE = "EqQBCkYIBxgCKkDfakeSignatureForTheFakeThinkingBlock"


@dataclass
class AnthropicAuth:
    """Which credentials the fake accepts."""

    api_keys: set[str] = field(default_factory=set)
    oauth_tokens: set[str] = field(default_factory=set)
    expired_tokens: set[str] = field(default_factory=set)
    claude_code_tokens: set[str] = field(default_factory=set)


def error_reply(status: int, message: str, headers: list[tuple[str, str]] | None = None) -> Reply:
    """The real error shape: `{"type":"error","error":{type,message},"request_id"}`."""
    request_id = new_id("req_")
    body = {
        "type": "error",
        "error": {"type": ERROR_TYPES.get(status, "api_error"), "message": message},
        "request_id": request_id,
    }
    return Reply.json(status, body, [("request-id", request_id), *(headers or [])])


class FakeAnthropic(FakeServer):
    """`FakeAnthropic(auth).start()`; then point ANTHROPIC_BASE_URL at `.url`."""

    def __init__(
        self,
        auth: AnthropicAuth | None = None,
        models: list[dict[str, Any]] | None = None,
        thinking: bool = False,
    ) -> None:
        super().__init__(self._handle)
        self.auth = auth or AnthropicAuth()
        self.thinking = thinking
        self.limit_reply = lambda: error_reply(
            429,
            "Number of concurrent connections has exceeded your rate limit.",
            [("retry-after", "0")],
        )
        self.models = (
            models
            if models is not None
            else [
                {
                    "type": "model",
                    "id": m.id,
                    "display_name": m.display_name,
                    "created_at": f"2026-0{9 - n}-01T00:00:00Z",
                    "max_input_tokens": 1_000_000,
                    "max_tokens": 128_000,
                }
                for n, m in enumerate(catalogue(ProviderId.ANTHROPIC))
            ]
        )

    async def _handle(self, request: FakeRequest, step: Step | None) -> Reply:
        denied = self._check(request)
        if denied is not None:
            return denied
        if step is not None and step.status is not None and step.status != 200:
            message = step.body if isinstance(step.body, str) else "Scripted failure."
            return scripted(error_reply(step.status, message, step.headers), step)
        if request.path == "/v1/models" and request.method == "GET":
            return self._models(request)
        if request.path.startswith("/v1/models/") and request.method == "GET":
            found = [m for m in self.models if m["id"] == request.path.rsplit("/", 1)[-1]]
            return (
                Reply.json(200, found[0]) if found else error_reply(404, f"model: {request.path}")
            )
        if request.path == "/v1/messages" and request.method == "POST":
            return self._messages(request, step)
        return error_reply(404, f"Not found: {request.method} {request.path}")

    def _check(self, request: FakeRequest) -> Reply | None:
        version = request.headers.get("anthropic-version")
        if version is None:
            return error_reply(400, "anthropic-version: header is required")
        if version not in VERSIONS:
            return error_reply(400, f'anthropic-version: "{version}" is not a valid version')
        key = request.headers.get("x-api-key")
        bearer = request.headers.get("authorization", "")
        token = bearer[7:] if bearer.lower().startswith("bearer ") else None
        if key is not None:
            return None if key in self.auth.api_keys else _auth_error("invalid x-api-key")
        if token is None:
            return _auth_error("x-api-key header is required")
        if token in self.auth.api_keys:
            return None
        betas = {b.strip() for b in request.headers.get("anthropic-beta", "").split(",")}
        if token in self.auth.claude_code_tokens:
            return error_reply(
                400,
                "This credential is only authorized for use with Claude Code "
                "and cannot be used for other API requests.",
            )
        if token in self.auth.oauth_tokens | self.auth.expired_tokens and OAUTH_BETA not in betas:
            return _auth_error("OAuth authentication is currently not supported.")
        if token in self.auth.expired_tokens:
            return _auth_error(
                "OAuth token has expired. Please obtain a new token or refresh your existing token."
            )
        if token in self.auth.oauth_tokens:
            return None
        return _auth_error("invalid x-api-key")

    def _models(self, request: FakeRequest) -> Reply:
        limit = max(1, min(1000, int(request.query.get("limit", "20"))))
        ids = [m["id"] for m in self.models]
        start, end = 0, len(ids)
        if "after_id" in request.query and request.query["after_id"] in ids:
            start = ids.index(request.query["after_id"]) + 1
        if "before_id" in request.query and request.query["before_id"] in ids:
            end = ids.index(request.query["before_id"])
            start = max(start, end - limit)
        page = self.models[start : min(end, start + limit)]
        return Reply.json(
            200,
            {
                "data": page,
                "has_more": start + len(page) < end,
                "first_id": page[0]["id"] if page else None,
                "last_id": page[-1]["id"] if page else None,
            },
            [("request-id", new_id("req_"))],
        )

    def _messages(self, request: FakeRequest, step: Step | None) -> Reply:
        try:
            body = request.json()
        except ValueError:
            return error_reply(400, "There was an error parsing the body of your request.")
        if not isinstance(body, dict) or not body.get("messages") or "max_tokens" not in body:
            return error_reply(
                400, "messages: Field required" if isinstance(body, dict) else "Invalid body"
            )
        model = body.get("model", "")
        if model not in {m["id"] for m in self.models}:
            return error_reply(404, f"model: {model}")
        if step is not None and step.replay is not None:
            return scripted(Reply(200, list(SSE_HEADERS), chunks=split_events(step.replay)), step)
        plan = _plan(body)
        if plan.fail_status is not None:
            return error_reply(plan.fail_status, f"Demo failure {plan.fail_status}.")
        if not body.get("stream"):
            return Reply.json(
                200, _message(model, plan, self.thinking), [("request-id", new_id("req_"))]
            )
        chunks = _stream(model, plan, self.thinking)
        if step is not None:
            chunks = _inject(chunks, step)
        return scripted(
            Reply(200, [*SSE_HEADERS, ("request-id", new_id("req_"))], chunks=chunks), step
        )


def _auth_error(message: str) -> Reply:
    return error_reply(401, message, [("x-should-retry", "false")])


def _inject(chunks: list[bytes], step: Step) -> list[bytes]:
    if step.error_after_events is not None:
        error = event(
            "error",
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
        )
        return [*chunks[: step.error_after_events], error]
    if step.malformed_after_events is not None:
        return [
            *chunks[: step.malformed_after_events],
            b"event: content_block_delta\ndata: {not json\n\n",
        ]
    return chunks


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(
        b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text"
    )


def _plan(body: dict[str, Any]) -> Plan:
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


def _usage(plan: Plan, output: int) -> dict[str, Any]:
    return {
        "input_tokens": plan.input_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": output,
        "service_tier": "standard",
    }


def _message(model: str, plan: Plan, thinking: bool) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if thinking:
        content.append({"type": "thinking", "thinking": "Let me think.", "signature": SIGNATURE})
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
        "usage": _usage(plan, max(1, len(plan.text.split()))),
    }


def _stream(model: str, plan: Plan, thinking: bool) -> list[bytes]:
    start: dict[str, Any] = {
        "id": new_id("msg_"),
        "type": "message",
        "role": "assistant",
        "content": [],
        "model": model,
        "stop_reason": None,
        "stop_sequence": None,
        "usage": _usage(plan, 1),
    }
    out = [event("message_start", {"type": "message_start", "message": start})]
    index = 0
    if thinking:
        out.append(_block_start(index, {"type": "thinking", "thinking": "", "signature": ""}))
        out.append(event("ping", {"type": "ping"}))
        for piece in words("Let me think about this."):
            out.append(_delta(index, {"type": "thinking_delta", "thinking": piece}))
        out.append(_delta(index, {"type": "signature_delta", "signature": SIGNATURE}))
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
    output = max(1, len(plan.text.split()) if plan.text else len(json.dumps(plan.arguments)) // 4)
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
