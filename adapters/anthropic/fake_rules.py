"""What the Anthropic fake refuses, as the Messages API refuses it (its reference and the
installed SDK's param types): thinking a model does not take, a thinking budget of less than
1024 or not below `max_tokens`, thinking with a forced tool choice, an effort level the model
does not take, a thinking block whose signature is not the one given, images and PDFs past
their limits or not what their media type says, more than four cache breakpoints, a
structured-output schema with an object that allows other properties, and tool-use ids the
API does not take. Each answers 400 `invalid_request_error` with the API's kind of message."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from typing import Any

from adapters.json_schema import strict_problems

FAKE_KEY = b"the-fake-anthropic-signing-key"
REDACTED_PREFIX = "fake-redacted:"
TOOL_ID = re.compile(r"^[a-zA-Z0-9_-]+$")
LIMITS = {"image": 5 * 1024 * 1024, "document": 32 * 1024 * 1024}
MAGIC = {
    "image/png": b"\x89PNG",
    "image/jpeg": b"\xff\xd8\xff",
    "image/gif": b"GIF8",
    "image/webp": b"RIFF",
    "application/pdf": b"%PDF-",
}
MAX_IMAGES = 100
MAX_BREAKPOINTS = 4


def sign(thinking: str) -> str:
    """The signature the fake gives a thinking block (and checks when it comes back)."""
    return "fakesig_" + hmac.new(FAKE_KEY, thinking.encode(), hashlib.sha256).hexdigest()[:40]


def refused(body: dict[str, Any], model: dict[str, Any]) -> str | None:
    """Why the API would refuse `body` for `model` (its models-list entry); None when not."""
    return (
        _thinking(body, model.get("capabilities") or {})
        or _messages(body.get("messages") or [])
        or _breakpoints(body)
        or _format(body.get("output_config") or {})
    )


def _thinking(body: dict[str, Any], capabilities: dict[str, Any]) -> str | None:
    thinking = body.get("thinking")
    effort = (body.get("output_config") or {}).get("effort")
    levels = capabilities.get("effort") or {}
    if effort is not None and not (levels.get(effort) or {}).get("supported"):
        return f"output_config.effort: {effort!r} is not supported by this model"
    if not isinstance(thinking, dict):
        return None
    kind = thinking.get("type")
    types = (capabilities.get("thinking") or {}).get("types") or {}
    if types and not (types.get(kind) or {}).get("supported"):
        return f"thinking.type: {kind!r} is not supported by this model"
    if kind == "enabled":
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or budget < 1024:
            return "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
        if budget >= body.get("max_tokens", 0):
            return "`max_tokens` must be greater than `thinking.budget_tokens`"
    choice = body.get("tool_choice") or {}
    if kind in ("enabled", "adaptive") and choice.get("type") in ("any", "tool"):
        return "Thinking may not be enabled when tool_choice forces tool use."
    return None


def _messages(messages: list[Any]) -> str | None:
    images = 0
    for n, message in enumerate(messages):
        content = message.get("content") if isinstance(message, dict) else None
        for m, block in enumerate(content if isinstance(content, list) else []):
            kind = block.get("type") if isinstance(block, dict) else None
            where = f"messages.{n}.content.{m}"
            if kind == "thinking" and block.get("signature") != sign(block.get("thinking", "")):
                return f"{where}: Invalid `signature` in `thinking` block"
            if kind == "redacted_thinking" and not str(block.get("data")).startswith(
                REDACTED_PREFIX
            ):
                return f"{where}: Invalid `data` in `redacted_thinking` block"
            if kind in ("tool_use", "tool_result"):
                call = block.get("id") if kind == "tool_use" else block.get("tool_use_id")
                if not isinstance(call, str) or not TOOL_ID.fullmatch(call):
                    return f"{where}: String should match pattern '^[a-zA-Z0-9_-]+$'"
            if kind in ("image", "document"):
                images += kind == "image"
                problem = _media(kind, block.get("source") or {})
                if problem:
                    return f"{where}.source: {problem}"
    if images > MAX_IMAGES:
        return f"Too many images: at most {MAX_IMAGES} are allowed in a request"
    return None


def _media(kind: str, source: dict[str, Any]) -> str | None:
    if source.get("type") == "url":
        url = source.get("url")
        return None if isinstance(url, str) and url.startswith("https://") else "Invalid URL"
    media_type = source.get("media_type")
    try:
        raw = base64.b64decode(source.get("data", ""), validate=True)
    except (binascii.Error, ValueError, TypeError):
        return "The image data is not valid base64"
    if len(raw) > LIMITS[kind]:
        return f"{kind} exceeds {LIMITS[kind] // (1024 * 1024)} MB maximum"
    if media_type not in MAGIC or not raw.startswith(MAGIC[media_type]):
        return f"The {kind} data does not match the provided media type {media_type}"
    return None


def _breakpoints(body: dict[str, Any]) -> str | None:
    count = 1 if body.get("cache_control") else 0
    system = body.get("system")
    places = [
        *(system if isinstance(system, list) else []),
        *(body.get("tools") or []),
        *(
            block
            for message in body.get("messages") or []
            if isinstance(message.get("content"), list)
            for block in message["content"]
        ),
    ]
    count += sum(1 for place in places if isinstance(place, dict) and place.get("cache_control"))
    ttl = (body.get("cache_control") or {}).get("ttl", "5m")
    if ttl not in ("5m", "1h"):
        return "cache_control.ttl: Input should be '5m' or '1h'"
    if count > MAX_BREAKPOINTS:
        return (
            f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. "
            f"Found {count}."
        )
    return None


def _format(output: dict[str, Any]) -> str | None:
    form = output.get("format")
    if not isinstance(form, dict):
        return None
    if form.get("type") != "json_schema" or not isinstance(form.get("schema"), dict):
        return "output_config.format: a json_schema format with a `schema` object is required"
    for path, problem in strict_problems(form["schema"]):
        if "additionalProperties" in problem:
            where = ".".join(str(p) for p in path) or "(root)"
            return f"output_config.format.schema: For '{where}', additionalProperties must be false"
    return None


def redacted(text: str) -> str:
    """The data of a redacted thinking block the fake makes."""
    return REDACTED_PREFIX + base64.b64encode(text.encode()).decode()
