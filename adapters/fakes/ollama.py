"""A fake Ollama on loopback, as its OpenAI-compatible API answers (`/v1/chat/completions`,
`/v1/models`; ollama/ollama `openai/openai.go`): no authentication at all (any `Authorization`
is ignored), `system_fingerprint: "fp_ollama"`, every chunk's delta carrying the assistant role,
a tool call sent whole in one chunk (its arguments complete, not streamed in pieces), and no
usage in a stream even when `stream_options.include_usage` asks for it (as Ollama answered before
it learnt that option; endpoints that never send it are common). Errors are
`{"error": {message, type, param: null, code: null}}` with `invalid_request_error` for 400,
`not_found_error` for 404 (an unknown model: "model \\"x\\" not found, try pulling it first"),
`api_error` otherwise; a model that cannot use tools answers 400 "<model> does not support tools".

`lists_models=False` makes it an endpoint without `/v1/models` (404, Go's plain-text "404 page
not found"), as some local servers are."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from adapters.fakes.behaviour import Plan
from adapters.fakes.server import FakeRequest, FakeServer, Reply, Step, scripted
from adapters.fakes.sse import SSE_HEADERS, event, new_id, words
from adapters.openai.fake_chat import plan_chat

ERROR_TYPES = {400: "invalid_request_error", 404: "not_found_error"}


def ollama_error(status: int, message: str) -> Reply:
    kind = ERROR_TYPES.get(status, "api_error")
    body = {"error": {"message": message, "type": kind, "param": None, "code": None}}
    return Reply.json(status, body)


@dataclass
class OllamaModels:
    """What the fake has pulled, and which of those cannot use tools."""

    pulled: list[str] = field(default_factory=lambda: ["llama3.2:latest", "qwen2.5-coder:7b"])
    without_tools: set[str] = field(default_factory=set)


class FakeOllama(FakeServer):
    """`FakeOllama().start()`; then point a provider's base URL at `.url + "/v1"`."""

    def __init__(self, models: OllamaModels | None = None, *, lists_models: bool = True) -> None:
        super().__init__(self._handle)
        self.models = models or OllamaModels()
        self.lists_models = lists_models
        # Set: every request is answered `307` to this address (a server that moved, or a
        # proxy in front of it), so tests can see that no client follows it with a key.
        self.redirect_to: str | None = None

    async def _handle(self, request: FakeRequest, step: Step | None) -> Reply:
        if self.redirect_to is not None:
            return Reply(307, [("location", self.redirect_to)], b"")
        if step is not None and step.status is not None and step.status != 200:
            message = step.body if isinstance(step.body, str) else "scripted failure"
            return scripted(ollama_error(step.status, message), step)
        if request.path == "/v1/models" and request.method == "GET" and self.lists_models:
            data = [
                {"id": name, "object": "model", "created": 1_760_000_000, "owned_by": "library"}
                for name in self.models.pulled
            ]
            return Reply.json(200, {"object": "list", "data": data})
        if request.path == "/v1/chat/completions" and request.method == "POST":
            try:
                body = request.json()
            except ValueError as exc:
                return ollama_error(400, str(exc))
            if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
                return ollama_error(400, "[] is too short - 'messages'")
            model = body.get("model")
            if model not in self.models.pulled:
                return ollama_error(404, f'model "{model}" not found, try pulling it first')
            if body.get("tools") and model in self.models.without_tools:
                return ollama_error(
                    400, f"registry.ollama.ai/library/{model} does not support tools"
                )
            return scripted(self._reply(body), step)
        return Reply(404, [("content-type", "text/plain")], b"404 page not found")

    def _reply(self, body: dict[str, Any]) -> Reply:
        model = str(body["model"])
        plan = plan_chat(body)
        if not body.get("stream"):
            return Reply.json(200, completion(model, plan))
        return Reply(200, list(SSE_HEADERS), chunks=chunks(model, plan))


def _finish(plan: Plan) -> str:
    return {"tool_use": "tool_calls", "max_tokens": "length"}.get(plan.stop, "stop")


def _tool_calls(plan: Plan) -> list[dict[str, Any]]:
    function = {"name": plan.tool, "arguments": json.dumps(plan.arguments)}
    return [{"id": new_id("call_")[:13], "index": 0, "type": "function", "function": function}]


def completion(model: str, plan: Plan) -> dict[str, Any]:
    """The whole answer: usage always present, as Ollama's non-streamed answers carry it."""
    message: dict[str, Any] = {"role": "assistant", "content": plan.text}
    if plan.tool:
        message["tool_calls"] = _tool_calls(plan)
    output = max(1, len(plan.text.split()))
    return {
        "id": f"chatcmpl-{int(time.time() * 1000) % 1000}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fp_ollama",
        "choices": [{"index": 0, "message": message, "finish_reason": _finish(plan)}],
        "usage": {
            "prompt_tokens": plan.input_tokens,
            "completion_tokens": output,
            "total_tokens": plan.input_tokens + output,
        },
    }


def chunks(model: str, plan: Plan) -> list[bytes]:
    """The stream: text a word at a time or the tool call whole, the finish reason on a last
    chunk with empty content, then `[DONE]`; never a usage chunk."""
    base = {
        "id": f"chatcmpl-{int(time.time() * 1000) % 1000}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fp_ollama",
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": {"role": "assistant", **delta}, "finish_reason": finish}
        return event(None, {**base, "choices": [choice]})

    out = [chunk({"content": piece}) for piece in words(plan.text)]
    if plan.tool:
        out.append(chunk({"content": "", "tool_calls": _tool_calls(plan)}))
    out.append(chunk({"content": ""}, _finish(plan)))
    out.append(b"data: [DONE]\n\n")
    return out
