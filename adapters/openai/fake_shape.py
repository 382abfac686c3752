"""The OpenAI fake's request validation, as the API's comes before it looks at the model: a
required field missing, a field of the wrong type, an empty `messages`, a chat message with no
role or one the API does not have. Each is a 400 `invalid_request_error` with the API's
wording, `code` and `param`; the compatible routes' document states the same rules
(adapters/openai/wire.py)."""

from __future__ import annotations

from typing import Any

from adapters.openai.chat import CHAT_ROLES

# (message, code, param)
Problem = tuple[str, str, str]


def malformed(body: dict[str, Any], chat: bool) -> Problem | None:
    """Why validation refuses `body` (a Chat Completions one when `chat`); None when it
    passes."""
    if "model" not in body:
        return "Missing required parameter: 'model'.", "missing_required_parameter", "model"
    if not isinstance(body["model"], str):
        return _type("model", "a string", body["model"])
    if "stream" in body and not isinstance(body["stream"], bool):
        return _type("stream", "a boolean", body["stream"])
    if not chat:
        given = body.get("input")
        if "input" in body and not isinstance(given, str | list):
            return _type("input", "one of a string or array of input items", given)
        return None
    if "messages" not in body:
        return "Missing required parameter: 'messages'.", "missing_required_parameter", "messages"
    messages = body["messages"]
    if not isinstance(messages, list):
        return _type("messages", "an array", messages)
    if not messages:
        return (
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got "
            "an empty array instead.",
            "empty_array",
            "messages",
        )
    for n, message in enumerate(messages):
        if not isinstance(message, dict):
            return _type(f"messages[{n}]", "an object", message)
        if "role" not in message:
            return (
                f"Missing required parameter: 'messages[{n}].role'.",
                "missing_required_parameter",
                f"messages[{n}].role",
            )
        role = message["role"]
        if role not in CHAT_ROLES:
            supported = ", ".join(f"'{r}'" for r in CHAT_ROLES[:-1])
            return (
                f"Invalid value: {role!r}. Supported values are: {supported}, and "
                f"'{CHAT_ROLES[-1]}'.",
                "invalid_value",
                f"messages[{n}].role",
            )
    return None


def _type(param: str, expected: str, value: Any) -> Problem:
    got = {bool: "a boolean", int: "an integer", float: "a decimal", str: "a string"}.get(
        type(value), "an array" if isinstance(value, list) else "an object"
    )
    if value is None:
        got = "null"
    return (
        f"Invalid type for '{param}': expected {expected}, but got {got} instead.",
        "invalid_type",
        param,
    )
