"""The compatible routes in the API document, described as what they are: pass-through. Each
body names the fields its provider requires (the provider judges the rest), and each route lists
the statuses the daemon itself answers, in the provider's error shape."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from adapters.specs import SPECS
from adapters.wire import MODEL_ID, Wire
from adapters.wires import Wires
from service.http.compat_errors import BY_ID
from service.http.http_errors import ERROR_DESCRIPTIONS

# The same set of ids as MODEL_SEGMENT, written without a lookahead (which not every
# generator reads): one path segment that is not all dots.
MODEL_ID_PARAMETER = {
    "type": "string",
    "minLength": 1,
    "maxLength": 256,
    "pattern": r"^[A-Za-z0-9._:@-]*[A-Za-z0-9_:@-][A-Za-z0-9._:@-]*$",
}
# One event of a provider's stream (its `data` is the provider's own JSON, or `[DONE]`).
PROVIDER_EVENT = {
    "type": "object",
    "properties": {"event": {"type": "string"}, "data": {"type": "string"}},
    "required": ["data"],
}
# The daemon's own answers on these routes (the security edge's, the route's, the rules').
DAEMON_STATUSES = (400, 401, 403, 404, 405, 413, 415, 421, 429, 500, 502, 503, 504)
BILLABLE_ONLY = (429, 502, 503, 504)


def documented(wires: Wires) -> list[Wire]:
    """The wires in the order the document lists them: the built-in providers' first (as the
    providers are listed), then the rest as registered."""
    first = [wires.get(spec.wire) for spec in SPECS.values()]
    return [*dict.fromkeys([*first, *wires.all])]


def error_schemas(wires: Wires) -> dict[str, Any]:
    """Each wire's error shape, with the daemon's taxonomy body in `kata`."""
    return {wire.errors.schema_name: dict(wire.errors.schema) for wire in documented(wires)}


def _ref(wire: Wire) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{wire.errors.schema_name}"}


def _responses(error: dict[str, Any], billable: bool, method: str) -> dict[str, Any]:
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


def _provider_parameter(example: _Example | None) -> dict[str, Any]:
    if example is None:
        return PROVIDER_PARAMETER
    return {**PROVIDER_PARAMETER, "example": example.provider}


def _body_example(body: Any, example: _Example | None) -> dict[str, Any]:
    if body is None or example is None:
        return {}
    return {"example": {"model": example.model, **body}}


def openapi_paths(wires: Wires) -> dict[str, Any]:
    """The compatible routes' path items: each built-in provider's prefix, and every provider's
    routes by id (`/providers/{provider}`, the routes of the wire it speaks)."""
    paths: dict[str, Any] = {}
    for spec in SPECS.values():
        wire = wires.get(spec.wire)
        _wire_paths(
            paths,
            wire,
            (spec.id.value, spec.compat_prefix, spec.display_name),
            _ref(wire),
            _Example(spec.id.value, spec.default_model),
        )
    listed = documented(wires)
    # Under `/providers/{provider}`, the shape of the wire that provider speaks (an id no
    # provider has, or a route its wire does not have, is answered in OpenAI's).
    either = {"anyOf": [_ref(wire) for wire in listed]}
    speakers = {spec.wire: spec for spec in reversed(SPECS.values())}
    for wire in listed:
        speaker = speakers.get(wire.id)
        example = None if speaker is None else _Example(speaker.id.value, speaker.default_model)
        named = (wire.id, f"{BY_ID}{{provider}}", wire.display_name)
        _wire_paths(paths, wire, named, either, example)
    return paths


@dataclass(frozen=True)
class _Example:
    """What the document's examples name: a built-in provider and its default model (so that
    an example sent as it stands is answered, by the provider and by Schemathesis's runs)."""

    provider: str
    model: str


def _wire_paths(
    paths: dict[str, Any],
    wire: Wire,
    names: tuple[str, str, str],
    error: dict[str, Any],
    example: _Example | None,
) -> None:
    named, prefix, name = names
    by_id = prefix.startswith(BY_ID)
    speaks = f"any provider that speaks the {name} wire" if by_id else name
    for route in wire.routes:
        method, upstream, billable = route.method, route.path, route.billable
        operation: dict[str, Any] = {
            "tags": ["compatible"],
            "operationId": ("byId" if by_id else "")
            + f"{named}Compat{method.title()}"
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
            + ([{f"{wire.id}ApiKey": []}] if wire.token_header else []),
            "responses": _responses(error, billable, method),
        }
        if method == "POST":
            operation["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "description": f"The {name} API's own request body.",
                            "additionalProperties": True,
                            **(route.body or {}),
                        },
                        **_body_example(route.example, example),
                    }
                },
            }
        parameters = [_provider_parameter(example)] if by_id else []
        if MODEL_ID in upstream:
            parameters.append(
                {
                    "name": "model_id",
                    "in": "path",
                    "required": True,
                    "schema": MODEL_ID_PARAMETER,
                    **({} if example is None else {"example": example.model}),
                }
            )
        for header, values in (wire.required_headers or {}).items():
            parameters.append(
                {
                    "name": header,
                    "in": "header",
                    "required": True,
                    "description": f"Required by the {name} API (its SDK sends it).",
                    "schema": {"type": "string", "enum": list(values)},
                }
            )
        if parameters:
            operation["parameters"] = parameters
        paths.setdefault(prefix + upstream, {})[method.lower()] = operation
