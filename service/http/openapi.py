"""The OpenAPI document: FastAPI's, plus the bearer scheme and the SSE event schemas."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import TypeAdapter

from contracts.events import StateEvent
from contracts.executions import ExecutionRequest
from contracts.stream import ExecutionStreamEvent

REF_TEMPLATE = "#/components/schemas/{model}"
STREAM_SCHEMAS: dict[str, Any] = {
    "StateEvent": StateEvent,
    "ExecutionStreamEvent": ExecutionStreamEvent,
}
# Bodies a route parses itself (off the event loop when large): described here.
REQUEST_SCHEMAS: dict[str, Any] = {"ExecutionRequest": ExecutionRequest}


def sse_content(event_schema: str) -> dict[str, Any]:
    """A `text/event-stream` media type: its schema is one event (`event`, `id`, and `data`
    holding JSON of the event union), as OpenAPI 3.2's `itemSchema` says it and as Schemathesis
    reads a 3.1 event stream's `schema` (3.2 itself is not yet read by the generators users run)."""
    return {
        "schema": {
            "type": "object",
            "description": f"One server-sent event; `data` is JSON of one {event_schema}.",
            "properties": {
                "event": {"type": "string", "description": "The event's `type`."},
                "id": {"type": "string"},
                "retry": {"type": "integer", "minimum": 0},
                "data": {
                    "type": "string",
                    "contentMediaType": "application/json",
                    "contentSchema": {"$ref": REF_TEMPLATE.format(model=event_schema)},
                },
            },
            "required": ["data"],
        },
    }


# Pydantic writes a bound on a validated-before type (JsonFloat, JsonInt) inside `anyOf` under
# its own names; JSON Schema's are these.
BOUNDS = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}


def standard_bounds(node: Any) -> None:
    """Rename pydantic's bound keywords to JSON Schema's, in place, wherever they are."""
    if isinstance(node, dict):
        if node.get("type") in ("number", "integer"):
            for ours, standard in BOUNDS.items():
                if ours in node:
                    node[standard] = node.pop(ours)
        for value in node.values():
            standard_bounds(value)
    elif isinstance(node, list):
        for value in node:
            standard_bounds(value)


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """Generate the document once and cache it on the app."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    document = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name, union in STREAM_SCHEMAS.items():
        schema = TypeAdapter(union).json_schema(ref_template=REF_TEMPLATE, mode="serialization")
        for def_name, definition in schema.pop("$defs", {}).items():
            schemas.setdefault(def_name, definition)
        schemas[name] = schema
    for name, model in REQUEST_SCHEMAS.items():
        schema = TypeAdapter(model).json_schema(ref_template=REF_TEMPLATE, mode="validation")
        for def_name, definition in schema.pop("$defs", {}).items():
            schemas.setdefault(def_name, definition)
        schemas[name] = schema
    components["securitySchemes"] = {
        "bearerAuth": {
            "type": "http",
            "scheme": "bearer",
            "description": "The token from the daemon's ready line (or KATA_PROVIDERS_TOKEN).",
        }
    }
    from service.http.compat_doc import documented, error_schemas, openapi_paths

    wires = app.state.runtime.wires
    for wire in documented(wires):
        if wire.token_header:
            components["securitySchemes"][f"{wire.id}ApiKey"] = {
                "type": "apiKey",
                "in": "header",
                "name": wire.token_header,
                "description": f"The daemon token, as the {wire.display_name} SDK sends its "
                f"key (on the compatible routes of the {wire.display_name} wire only).",
            }
    document["security"] = [{"bearerAuth": []}]
    # The wire formats an added provider may name: those of the wires this daemon speaks.
    described = schemas["ProviderWire"]
    schemas["ProviderWire"] = {"type": "string", "enum": list(wires.format_ids), **described}
    schemas.update(error_schemas(wires))
    document["paths"].update(openapi_paths(wires))
    standard_bounds(document)
    app.openapi_schema = document
    return document
