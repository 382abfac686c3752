"""The Anthropic fake's request validation, as the Messages API's comes before it looks at the
model: a body that is not an object, a required field missing, a field of the wrong type, a
message whose role is neither `user` nor `assistant`, content that is neither text nor a list of
typed blocks. Each is a 400 `invalid_request_error` with the API's (pydantic's) wording; the
compatible routes' document states the same rules (adapters/anthropic/wire.py)."""

from __future__ import annotations

from typing import Any

from adapters.anthropic.body import ROLES


def malformed(body: Any, *, max_tokens: bool) -> str | None:
    """Why validation refuses `body` (`max_tokens`: the route requires it); None when it
    passes."""
    if not isinstance(body, dict):
        return "Input should be a valid dictionary"
    if "model" not in body:
        return "model: Field required"
    if not isinstance(body["model"], str):
        return "model: Input should be a valid string"
    if max_tokens:
        if "max_tokens" not in body:
            return "max_tokens: Field required"
        value = body["max_tokens"]
        if not isinstance(value, int) or isinstance(value, bool):
            return "max_tokens: Input should be a valid integer"
        if value < 1:
            return "max_tokens: Input should be greater than or equal to 1"
    if "stream" in body and not isinstance(body["stream"], bool):
        return "stream: Input should be a valid boolean"
    return _messages(body.get("messages"), "messages" in body)


def _messages(messages: Any, given: bool) -> str | None:
    if not given:
        return "messages: Field required"
    if not isinstance(messages, list):
        return "messages: Input should be a valid list"
    if not messages:
        return "messages: at least one message is required"
    for n, message in enumerate(messages):
        where = f"messages.{n}"
        if not isinstance(message, dict):
            return f"{where}: Input should be a valid dictionary"
        if message.get("role") not in ROLES:
            return f"{where}.role: Input should be 'user' or 'assistant'"
        if "content" not in message:
            return f"{where}.content: Field required"
        content = message["content"]
        if isinstance(content, str):
            continue
        if not isinstance(content, list):
            return f"{where}.content: Input should be a valid string or list"
        for m, block in enumerate(content):
            if not isinstance(block, dict) or not isinstance(block.get("type"), str):
                return f"{where}.content.{m}: Input tag not found: expected a typed block"
    return None
