"""What the OpenAI fake refuses, as the API refuses it (its OpenAPI spec and the installed SDK's
param types): reasoning on a model without it, an effort level the model does not take, a
strict json_schema whose objects do not require every property or allow others, images and
files that are not a data URL or https, a reasoning item whose encrypted content is not one it
gave, and a function call output with no function call of its `call_id` before it. Each is
a 400 with the API's `param`."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from adapters.json_schema import strict_problems

ENCRYPTED_PREFIX = "enc_fake_"
EFFORTS = frozenset({"none", "low", "medium", "high", "xhigh"})
MAX_FILE_BYTES = 50 * 1024 * 1024

Refusal = tuple[str, str | None]  # message, param


def encrypted(text: str) -> str:
    """The encrypted content of a reasoning item the fake makes."""
    return ENCRYPTED_PREFIX + base64.b64encode(text.encode()).decode()


def refused(body: dict[str, Any], chat: bool, reasons: bool) -> Refusal | None:
    """Why the API would refuse `body` (for a model that `reasons` or not)."""
    effort = body.get("reasoning_effort") if chat else (body.get("reasoning") or {}).get("effort")
    name = "reasoning_effort" if chat else "reasoning.effort"
    if ("reasoning_effort" in body if chat else "reasoning" in body) and not reasons:
        return f"Unsupported parameter: '{name}' is not supported with this model.", name
    if effort is not None and effort not in EFFORTS:
        return f"Unsupported value: '{name}' does not support {effort!r} with this model.", name
    return _schema(body, chat) or (_messages(body) if chat else _input(body))


def _schema(body: dict[str, Any], chat: bool) -> Refusal | None:
    if chat:
        form = body.get("response_format") or {}
        spec = form.get("json_schema") or {} if form.get("type") == "json_schema" else None
        param = "response_format"
    else:
        form = (body.get("text") or {}).get("format") or {}
        spec = form if form.get("type") == "json_schema" else None
        param = "text.format.schema"
    if spec is None or not spec.get("strict"):
        return None
    broken = strict_problems(spec.get("schema"))
    if not broken:
        return None
    where = ", ".join(repr(p) for p in broken[0][0])
    return (
        f"Invalid schema for response_format '{spec.get('name')}': In context=({where}), "
        f"{broken[0][1]}.",
        param,
    )


def _input(body: dict[str, Any]) -> Refusal | None:
    items = body.get("input")
    calls: set[str] = set()
    for n, item in enumerate(items if isinstance(items, list) else []):
        kind = item.get("type") if isinstance(item, dict) else None
        if kind == "function_call":
            call = item.get("call_id")
            if not isinstance(call, str) or len(call) > 64:
                return f"Invalid 'input[{n}].call_id': string too long.", f"input[{n}].call_id"
            calls.add(call)
        elif kind == "function_call_output" and item.get("call_id") not in calls:
            return (
                f"No tool call found for function call output with call_id {item.get('call_id')}.",
                f"input[{n}]",
            )
        elif kind == "reasoning" and not str(item.get("encrypted_content")).startswith(
            ENCRYPTED_PREFIX
        ):
            return "The encrypted content could not be verified.", f"input[{n}].encrypted_content"
        content = item.get("content") if isinstance(item, dict) else None
        for m, part in enumerate(content if isinstance(content, list) else []):
            problem = _part(part)
            if problem:
                return problem, f"input[{n}].content[{m}]"
    return None


def _messages(body: dict[str, Any]) -> Refusal | None:
    for n, message in enumerate(body.get("messages") or []):
        content = message.get("content") if isinstance(message, dict) else None
        for m, part in enumerate(content if isinstance(content, list) else []):
            problem = _part(part)
            if problem:
                return problem, f"messages[{n}].content[{m}]"
    return None


def _part(part: Any) -> str | None:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind == "input_image":
        if "detail" not in part:
            return "Missing required parameter: 'detail'."
        return _url(part.get("image_url"), "image/")
    if kind == "image_url":
        return _url((part.get("image_url") or {}).get("url"), "image/")
    if kind == "input_file":
        if "file_url" in part:
            return _url(part.get("file_url"), "")
        if not part.get("filename"):
            return "Missing required parameter: 'filename'."
        return _url(part.get("file_data"), "application/pdf")
    if kind == "file":
        return _url((part.get("file") or {}).get("file_data"), "application/pdf")
    return None


def _url(value: Any, media: str) -> str | None:
    if not isinstance(value, str):
        return "Invalid value: expected a URL or a data URL."
    if value.startswith("https://"):
        return None
    head, _, data = value.partition(",")
    if not head.startswith(f"data:{media}") or not head.endswith(";base64"):
        return "Invalid 'url': expected a base64-encoded data URL or an https URL."
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return "Invalid base64 data."
    if len(raw) > MAX_FILE_BYTES:
        return "File too large."
    return None
