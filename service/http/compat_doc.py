"""The compatible routes in the API document, described as what they are: pass-through. Each
body names the fields its provider requires (the provider judges the rest), and each route lists
the statuses the daemon itself answers, in the provider's error shape."""

from __future__ import annotations

import re
from typing import Any

from adapters.specs import name_of
from contracts.base import ProviderId
from service.http.compat_errors import BY_ID, PREFIX
from service.http.http_errors import ERROR_DESCRIPTIONS
from service.http.routes.compat import MODEL_SEGMENT, SERVED

# The same set of ids as MODEL_SEGMENT, written without a lookahead (which not every
# generator reads): one path segment that is not all dots.
MODEL_ID_PARAMETER = {
    "type": "string",
    "minLength": 1,
    "maxLength": 256,
    "pattern": r"^[A-Za-z0-9._:@-]*[A-Za-z0-9_:@-][A-Za-z0-9._:@-]*$",
}
_MESSAGES = {"type": "array", "minItems": 1, "items": {"type": "object"}}
_MODEL = {"type": "string", "minLength": 1, "maxLength": 256}
# What each provider requires of a body (from its API reference); everything else passes as sent.
BODIES: dict[tuple[ProviderId, str], dict[str, Any]] = {
    (ProviderId.ANTHROPIC, "/v1/messages"): {
        "required": ["model", "max_tokens", "messages"],
        "properties": {
            "model": _MODEL,
            "max_tokens": {"type": "integer", "minimum": 1},
            "messages": _MESSAGES,
            "stream": {"type": "boolean"},
        },
    },
    (ProviderId.ANTHROPIC, "/v1/messages/count_tokens"): {
        "required": ["model", "messages"],
        "properties": {"model": _MODEL, "messages": _MESSAGES},
    },
    (ProviderId.OPENAI, "/chat/completions"): {
        "required": ["model", "messages"],
        "properties": {"model": _MODEL, "messages": _MESSAGES, "stream": {"type": "boolean"}},
    },
    (ProviderId.OPENAI, "/responses"): {
        "required": ["model"],
        "properties": {
            "model": _MODEL,
            "input": {"oneOf": [{"type": "string"}, {"type": "array"}]},
            "stream": {"type": "boolean"},
        },
    },
}
# One event of a provider's stream (its `data` is the provider's own JSON, or `[DONE]`).
PROVIDER_EVENT = {
    "type": "object",
    "properties": {"event": {"type": "string"}, "data": {"type": "string"}},
    "required": ["data"],
}
ERROR_SCHEMAS = {ProviderId.ANTHROPIC: "AnthropicError", ProviderId.OPENAI: "OpenAIError"}
# The daemon's own answers on these routes (the security edge's, the route's, the rules').
DAEMON_STATUSES = (400, 401, 403, 404, 405, 413, 415, 421, 429, 500, 502, 503, 504)
BILLABLE_ONLY = (429, 502, 503, 504)


def error_schemas() -> dict[str, Any]:
    """The providers' error shapes, with the daemon's taxonomy body in `kata`."""
    kata = {"$ref": "#/components/schemas/ErrorBody"}
    return {
        "AnthropicError": {
            "type": "object",
            "description": "The Anthropic API's error shape.",
            "required": ["type", "error"],
            "properties": {
                "type": {"const": "error"},
                "error": {
                    "type": "object",
                    "required": ["type", "message"],
                    "properties": {"type": {"type": "string"}, "message": {"type": "string"}},
                },
                "kata": kata,
            },
        },
        "OpenAIError": {
            "type": "object",
            "description": "The OpenAI API's error shape.",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["message", "type"],
                    "properties": {
                        "message": {"type": "string"},
                        "type": {"type": "string"},
                        "param": {"type": ["string", "null"]},
                        "code": {"type": ["string", "null"]},
                        "kata": kata,
                    },
                }
            },
        },
    }


# Under `/providers/{provider}`, the shape of the wire that provider speaks (an id no provider has,
# or a route its wire does not have, is answered in OpenAI's).
EITHER_ERROR = {
    "anyOf": [{"$ref": f"#/components/schemas/{name}"} for name in ERROR_SCHEMAS.values()]
}


def _responses(provider: ProviderId, billable: bool, method: str, by_id: bool) -> dict[str, Any]:
    error = EITHER_ERROR if by_id else {"$ref": f"#/components/schemas/{ERROR_SCHEMAS[provider]}"}
    content: dict[str, Any] = {"application/json": {"schema": {"type": "object"}}}
    if method == "POST":
        content["text/event-stream"] = {"schema": PROVIDER_EVENT}
    answer = {
        "description": "The provider's answer, unchanged: JSON, or server-sent events when the "
        "body asks for `stream: true`.",
        "content": content,
    }
    responses: dict[str, Any] = {"200": answer}
    for status in DAEMON_STATUSES:
        if status in BILLABLE_ONLY and not billable:
            continue
        if status in (413, 415) and method != "POST":
            continue
        responses[str(status)] = {
            "description": ERROR_DESCRIPTIONS.get(status, "Not a method this path takes.")
            + " Or the provider's own answer with this status.",
            "content": {"application/json": {"schema": error}},
        }
    responses["default"] = {
        "description": "Any other status the provider answers, in its own shape, unchanged.",
        "content": {"application/json": {"schema": error}},
    }
    return responses


PROVIDER_PARAMETER = {
    "name": "provider",
    "in": "path",
    "required": True,
    "description": "Any provider the daemon knows: a built-in one or one a user added.",
    "schema": {"$ref": "#/components/schemas/ProviderId"},
}


def openapi_paths() -> dict[str, Any]:
    """The compatible routes' path items: each built-in provider's prefix, and every provider's
    routes by id (`/providers/{provider}`, the routes of the wire it speaks)."""
    paths: dict[str, Any] = {}
    for by_id in (False, True):
        for provider, routes in SERVED.items():
            _wire_paths(paths, provider, routes, by_id)
    return paths


def _wire_paths(
    paths: dict[str, Any],
    provider: ProviderId,
    routes: list[tuple[str, re.Pattern[str], bool]],
    by_id: bool,
) -> None:
    name = name_of(provider)
    prefix = f"{BY_ID}{{provider}}" if by_id else PREFIX[provider]
    speaks = f"any provider that speaks the {name} wire" if by_id else name
    for method, pattern, billable in routes:
        upstream = pattern.pattern.replace(MODEL_SEGMENT, "{model_id}")
        operation: dict[str, Any] = {
            "tags": ["compatible"],
            "operationId": ("byId" if by_id else "")
            + f"{provider.value}Compat{method.title()}"
            + re.sub(r"[^A-Za-z]", "", upstream.title()),
            "summary": f"{name} API pass-through ({speaks}): {method} {upstream}",
            "description": (
                f"Point the official {name} SDK's base URL at `{prefix}` and give "
                "it the daemon token as its API key. The body goes upstream as sent, with "
                "the resolved credential; the answer comes back unchanged. "
                + (
                    "Budgets, the governor and the usage ledger apply."
                    if billable
                    else "Not billed: no budget, slot or ledger row."
                )
            ),
            "security": [{"bearerAuth": []}]
            + ([{"anthropicApiKey": []}] if provider is ProviderId.ANTHROPIC else []),
            "responses": _responses(provider, billable, method, by_id),
        }
        if method == "POST":
            body = BODIES[(provider, upstream)]
            operation["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "description": f"The {name} API's own request body.",
                            "additionalProperties": True,
                            **body,
                        }
                    }
                },
            }
        parameters = [PROVIDER_PARAMETER] if by_id else []
        if "{model_id}" in upstream:
            parameters.append(
                {
                    "name": "model_id",
                    "in": "path",
                    "required": True,
                    "schema": MODEL_ID_PARAMETER,
                }
            )
        if parameters:
            operation["parameters"] = parameters
        paths.setdefault(prefix + upstream, {})[method.lower()] = operation
