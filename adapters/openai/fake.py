"""A fake OpenAI API on loopback: Responses (with `sequence_number`), Chat Completions, models,
the Codex backend's rules for ChatGPT-plan sessions, every error shape, and scripted faults."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from adapters.catalogue import catalogue
from adapters.fakes.behaviour import Plan
from adapters.fakes.prompt_cache import PromptCache
from adapters.fakes.server import FakeRequest, FakeServer, Reply, Step, scripted, split_events
from adapters.fakes.sse import SSE_HEADERS, event, new_id
from adapters.json_schema import example
from adapters.openai.fake_chat import chat_completion, chat_stream, plan_chat
from adapters.openai.fake_replies import (
    Extras,
    plan_responses,
    response_body,
    responses_stream,
)
from adapters.openai.fake_rules import encrypted, refused
from adapters.openai.fake_shape import malformed
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

    def __init__(
        self,
        auth: OpenAIAuth | None = None,
        models: list[str] | None = None,
        plain_models: frozenset[str] = frozenset(),
    ) -> None:
        super().__init__(self._handle)
        self.auth = auth or OpenAIAuth()
        self.plain_models = plain_models  # models that do not reason
        self.cache = PromptCache()
        self.limit_reply = lambda: error_reply(
            429,
            "Rate limit reached for requests. Please try again shortly.",
            "rate_limit_exceeded",
            headers=[("retry-after-ms", "50")],
        )
        self.models = models if models is not None else [m.id for m in catalogue(ProviderId.OPENAI)]
        self.models += [m for m in plain_models if m not in self.models]

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
            malformed_body = malformed(body, path == "/chat/completions")
            if malformed_body is not None:
                return error_reply(400, *malformed_body)
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
            refusal = refused(body, chat, body["model"] not in self.plain_models)
            if refusal is not None:
                return error_reply(400, refusal[0], "invalid_value", refusal[1])
            plan = plan_chat(body) if chat else plan_responses(body)
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

    def _extras(self, body: dict[str, Any], plan: Plan, chat: bool) -> Extras:
        """Reasoning when asked for (a summary when asked for, encrypted content when
        included), a structured answer matching the json_schema format (one that does not for
        `!badjson`), and what the cache read of the prompt (cached automatically, grouped by
        `prompt_cache_key`)."""
        extras = Extras()
        reasoning: dict[str, Any] = (
            body["reasoning"] if isinstance(body.get("reasoning"), dict) else {}
        )
        if (chat and "reasoning_effort" in body) or (not chat and "reasoning" in body):
            extras.reasoning = True
            if not chat and reasoning.get("summary"):
                extras.summary = "Thinking it over."
            if "reasoning.encrypted_content" in (body.get("include") or []):
                extras.encrypted = encrypted(f"reasoning for {plan.text[:40]}")
        form = (
            (body.get("response_format") or {}).get("json_schema")
            if chat
            else ((body.get("text") or {}).get("format"))
        )
        asked = json.dumps((body.get("messages") if chat else body.get("input")) or [])[-400:]
        if isinstance(form, dict) and form.get("schema") is not None and not plan.tool:
            answer = example(form["schema"], plan.text.strip() or "answer")
            plan.text = json.dumps({"unexpected": True} if "!badjson" in asked else answer)
        prompt = body.get("messages") if chat else body.get("input")
        items = prompt if isinstance(prompt, list) else [prompt]
        segments = [[body.get("instructions"), body.get("tools")], *items]
        key = str(body.get("prompt_cache_key") or "")
        _, extras.cached, _ = self.cache.use(segments, write=True, ttl_s=300.0, key=key)
        return extras

    def _reply(self, body: dict[str, Any], plan: Plan, chat: bool, step: Step | None) -> Reply:
        model = body["model"]
        headers = [("x-request-id", new_id("req_")), ("openai-processing-ms", "12")]
        extras = self._extras(body, plan, chat)
        if not body.get("stream"):
            if step is not None and step.error_after_events is not None:
                # Failed mid-answer: a whole request learns it from the status.
                failed = "The server had an error while processing your request."
                return scripted(error_reply(500, failed), step)
            if step is not None and step.malformed_after_events is not None:
                return scripted(Reply(200, [("content-type", "application/json")], b"{not"), step)
            data = (
                chat_completion(model, plan, extras)
                if chat
                else response_body(model, plan, "completed", extras=extras)
            )
            return scripted(Reply.json(200, data, headers), step)
        if chat:
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            chunks = chat_stream(model, plan, include_usage, extras)
        else:
            chunks = responses_stream(model, plan, extras)
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
