"""The JSON Schema subset structured output uses (the providers' strict mode): the rules a strict
schema must follow, whether a value matches a schema, and a value that does (the fakes'
answers). Types, `properties`, `required`, `additionalProperties`, `items`, `enum`, `const`,
`anyOf`/`oneOf`, `$ref` into `$defs`, and the string, number and array bounds; other keywords
are not judged."""

from __future__ import annotations

import re
from typing import Any

Path = list[str | int]
TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}
MAX_DEPTH = 32


def strict_problems(schema: Any, path: Path | None = None) -> list[tuple[Path, str]]:
    """Where a schema breaks strict mode: every object lists all its properties in `required`
    and has `additionalProperties: false`."""
    path = path or []
    found: list[tuple[Path, str]] = []
    if not isinstance(schema, dict) or len(path) > MAX_DEPTH:
        return found
    types = schema.get("type")
    if types == "object" or (isinstance(types, list) and "object" in types):
        properties = schema.get("properties") or {}
        missing = [name for name in properties if name not in (schema.get("required") or [])]
        if missing:
            found.append((path, f"strict mode needs every property required; not {missing}"))
        if schema.get("additionalProperties") is not False:
            found.append((path, "strict mode needs `additionalProperties: false`"))
    for key in ("properties", "$defs", "definitions"):
        for name, sub in (schema.get(key) or {}).items():
            found += strict_problems(sub, [*path, key, name])
    if isinstance(schema.get("items"), dict):
        found += strict_problems(schema["items"], [*path, "items"])
    for key in ("anyOf", "oneOf", "allOf"):
        for n, sub in enumerate(schema.get(key) or []):
            found += strict_problems(sub, [*path, key, n])
    return found


def problems(value: Any, schema: Any, root: Any = None, path: Path | None = None) -> list[str]:
    """Why `value` does not match `schema` (empty: it matches), each naming where."""
    root = schema if root is None else root
    path = path or []
    where = "/" + "/".join(str(p) for p in path)
    if not isinstance(schema, dict) or len(path) > MAX_DEPTH:
        return []
    if "$ref" in schema:
        target = _resolve(root, schema["$ref"])
        return problems(value, target, root, path) if target is not None else []
    for key in ("anyOf", "oneOf"):
        if key in schema:
            if any(not problems(value, sub, root, path) for sub in schema[key]):
                return []
            return [f"{where}: matches none of `{key}`"]
    if "const" in schema and value != schema["const"]:
        return [f"{where}: is not {schema['const']!r}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{where}: is not one of {schema['enum']}"]
    types = schema.get("type")
    if types is not None:
        names = types if isinstance(types, list) else [types]
        if not any(_is(value, name) for name in names):
            return [f"{where}: is not {' or '.join(names)}"]
    if isinstance(value, dict):
        return _object(value, schema, root, path)
    if isinstance(value, list):
        found = _bounds(len(value), schema.get("minItems"), schema.get("maxItems"), where, "items")
        if isinstance(schema.get("items"), dict):
            for n, item in enumerate(value):
                found += problems(item, schema["items"], root, [*path, n])
        return found
    if isinstance(value, str):
        found = _bounds(
            len(value), schema.get("minLength"), schema.get("maxLength"), where, "chars"
        )
        pattern = schema.get("pattern")
        if isinstance(pattern, str) and re.search(pattern, value) is None:
            found.append(f"{where}: does not match {pattern!r}")
        return found
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _bounds(value, schema.get("minimum"), schema.get("maximum"), where, "")
    return []


def _object(value: dict[str, Any], schema: dict[str, Any], root: Any, path: Path) -> list[str]:
    where = "/" + "/".join(str(p) for p in path)
    properties = schema.get("properties") or {}
    found = [
        f"{where}: lacks {name!r}" for name in schema.get("required") or [] if name not in value
    ]
    extra = schema.get("additionalProperties", True)
    for name, item in value.items():
        if name in properties:
            found += problems(item, properties[name], root, [*path, name])
        elif extra is False:
            found.append(f"{where}: has {name!r}, which the schema does not allow")
        elif isinstance(extra, dict):
            found += problems(item, extra, root, [*path, name])
    return found


def _bounds(size: float, low: Any, high: Any, where: str, unit: str) -> list[str]:
    if isinstance(low, int | float) and size < low:
        return [f"{where}: is below the minimum of {low} {unit}".rstrip()]
    if isinstance(high, int | float) and size > high:
        return [f"{where}: is above the maximum of {high} {unit}".rstrip()]
    return []


def _is(value: Any, name: str) -> bool:
    if name in ("integer", "number") and isinstance(value, bool):
        return False
    if name == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, TYPES.get(name, (object,)))


def _resolve(root: Any, ref: Any) -> Any:
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return None
    node = root
    for part in ref[2:].split("/"):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def example(schema: Any, text: str = "", root: Any = None, depth: int = 0) -> Any:
    """A value that matches `schema` (strings carry `text`): what the fakes answer with."""
    root = schema if root is None else root
    if not isinstance(schema, dict) or depth > MAX_DEPTH:
        return None
    if "$ref" in schema:
        return example(_resolve(root, schema["$ref"]), text, root, depth + 1)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            return example(schema[key][0], text, root, depth + 1)
    kind = schema.get("type")
    kind = next((k for k in kind if k != "null"), "null") if isinstance(kind, list) else kind
    if kind == "object" or (kind is None and "properties" in schema):
        return {
            name: example(sub, text, root, depth + 1)
            for name, sub in (schema.get("properties") or {}).items()
        }
    if kind == "array":
        count = max(1, int(schema.get("minItems") or 1))
        return [example(schema.get("items"), text, root, depth + 1) for _ in range(count)]
    if kind == "string":
        return text[: schema["maxLength"]] if "maxLength" in schema else text
    if kind in ("integer", "number"):
        low = schema.get("minimum", 0)
        return max(42, low) if isinstance(low, int | float) else 42
    if kind == "boolean":
        return True
    return None
