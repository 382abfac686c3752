"""A fake Anthropic Messages API on loopback: auth checked as the real API checks it, models with
pagination, streams with the real event names and order, every documented error shape, and
scripted faults."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

from adapters.anthropic.fake_replies import THOUGHT, Extras, event_stream, message_body, plan_of
from adapters.anthropic.fake_rules import redacted, refused
from adapters.anthropic.fake_shape import malformed
from adapters.anthropic.versions import API_VERSIONS
from adapters.catalogue import catalogue
from adapters.fakes.behaviour import Plan
from adapters.fakes.prompt_cache import PromptCache
from adapters.fakes.server import FakeRequest, FakeServer, Reply, Step, scripted, split_events
from adapters.fakes.sse import SSE_HEADERS, event, new_id
from adapters.json_schema import example
from contracts.base import ProviderId

VERSIONS = frozenset(API_VERSIONS)
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


def _yes(supported: bool = True) -> dict[str, bool]:
    return {"supported": supported}


# A model's `capabilities` as the real models list gives them (anthropic.types.ModelCapabilities).
CAPABILITIES: dict[str, Any] = {
    "batch": _yes(),
    "citations": _yes(),
    "code_execution": _yes(),
    "context_management": {"supported": True},
    "effort": {
        "supported": True,
        **{level: _yes() for level in ("low", "medium", "high", "xhigh", "max")},
    },
    "image_input": _yes(),
    "pdf_input": _yes(),
    "server_tools": {"supported": True},
    "structured_outputs": _yes(),
    "thinking": {
        "supported": True,
        "types": {
            "adaptive": _yes(),
            "between_tools": _yes(),
            "disabled": _yes(),
            "enabled": _yes(False),
        },
    },
}


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
        self.cache = PromptCache()
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
                    "capabilities": copy.deepcopy(CAPABILITIES),
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
        if request.path == "/v1/messages/count_tokens" and request.method == "POST":
            return self._count_tokens(request)
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

    def _count_tokens(self, request: FakeRequest) -> Reply:
        """One token a word of the messages and system text, as the fake counts input; the
        body checked as the API checks it (each message an object with a role and content)."""
        try:
            body = request.json()
        except ValueError:
            return error_reply(400, "There was an error parsing the body of your request.")
        problem = malformed(body, max_tokens=False)
        if problem is not None:
            return error_reply(400, problem)
        messages = body["messages"]
        if body["model"] not in {m["id"] for m in self.models}:
            return error_reply(404, f"model: {body.get('model')}")
        words = len(json.dumps([body.get("system"), messages]).split())
        return Reply.json(200, {"input_tokens": words})

    def _messages(self, request: FakeRequest, step: Step | None) -> Reply:
        try:
            body = request.json()
        except ValueError:
            return error_reply(400, "There was an error parsing the body of your request.")
        problem = malformed(body, max_tokens=True)
        if problem is not None:
            return error_reply(400, problem)
        model = body["model"]
        if model not in {m["id"] for m in self.models}:
            return error_reply(404, f"model: {model}")
        if step is not None and step.replay is not None:
            return scripted(Reply(200, list(SSE_HEADERS), chunks=split_events(step.replay)), step)
        entry = next(m for m in self.models if m["id"] == model)
        problem = refused(body, entry)
        if problem is not None:
            return error_reply(400, problem)
        plan = plan_of(body)
        if plan.fail_status is not None:
            return error_reply(plan.fail_status, f"Demo failure {plan.fail_status}.")
        extras = self._extras(body, plan)
        if not body.get("stream"):
            if step is not None and step.error_after_events is not None:
                # Overloaded mid-answer: a whole request learns it from the status.
                return scripted(error_reply(529, "Overloaded"), step)
            if step is not None and step.malformed_after_events is not None:
                return scripted(Reply(200, [("content-type", "application/json")], b"{not"), step)
            whole = message_body(model, plan, extras)
            return scripted(Reply.json(200, whole, [("request-id", new_id("req_"))]), step)
        chunks = event_stream(model, plan, extras)
        if step is not None:
            chunks = _inject(chunks, step)
        return scripted(
            Reply(200, [*SSE_HEADERS, ("request-id", new_id("req_"))], chunks=chunks), step
        )

    def _extras(self, body: dict[str, Any], plan: Plan) -> Extras:
        """Thinking when asked for (or always, in demo mode), a redacted block for a prompt
        with `!redacted`, a structured answer matching `output_config.format` (one that does not
        for `!badjson`), and the cache's share of the input."""
        config: dict[str, Any] = body["thinking"] if isinstance(body.get("thinking"), dict) else {}
        thinks = self.thinking or config.get("type") in ("enabled", "adaptive")
        extras = Extras(
            thinking=("" if config.get("display") == "omitted" else THOUGHT) if thinks else None
        )
        asked = json.dumps(body.get("messages", [])[-1:])
        if "!redacted" in asked:
            extras.redacted = redacted("the reasoning the API keeps to itself")
        form = (body.get("output_config") or {}).get("format")
        if isinstance(form, dict) and not plan.tool:
            answer = example(form.get("schema"), plan.text.strip() or "answer")
            plan.text = json.dumps({"unexpected": True} if "!badjson" in asked else answer)
        marker = body.get("cache_control")
        system, tools = body.get("system"), body.get("tools")
        segments = [[system, tools], *body.get("messages", [])]
        ttl = 3600.0 if isinstance(marker, dict) and marker.get("ttl") == "1h" else 300.0
        uncached, read, written = self.cache.use(segments, write=bool(marker), ttl_s=ttl)
        if read or written:
            extras.uncached, extras.cache_read, extras.cache_write = uncached, read, written
        return extras


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
