"""A request body checked against the installed SDK's own param types: pydantic validates the
values against the SDK's TypedDicts, and every key must be one the TypedDict declares (so an SDK
upgrade that renames or drops a field fails a test, not a user's request)."""

from __future__ import annotations

import collections.abc
import types
import typing
from typing import Any, Literal, Union, get_args, get_origin

import typing_extensions
from pydantic import TypeAdapter
from typing_extensions import get_type_hints, is_typeddict


def unknown_keys(value: Any, hint: Any, path: str = "") -> list[str]:
    """The keys in `value` that `hint` (an SDK param type) does not declare, by path."""
    origin = get_origin(hint)
    if origin in (typing.Annotated, typing_extensions.Annotated):
        return unknown_keys(value, get_args(hint)[0], path)
    if is_typeddict(hint):
        if not isinstance(value, dict):
            return []
        hints = get_type_hints(hint)
        found = [f"{path}.{key}" for key in value if key not in hints]
        for key, item in value.items():
            if key in hints:
                found += unknown_keys(item, hints[key], f"{path}.{key}")
        return found
    if origin in (Union, types.UnionType, typing_extensions.Union):
        arms = [arm for arm in get_args(hint) if _fits(value, arm)] or list(get_args(hint))
        results = [unknown_keys(value, arm, path) for arm in arms]
        return min(results, key=len) if results else []
    if origin in (list, tuple, collections.abc.Iterable, collections.abc.Sequence):
        args = get_args(hint)
        if isinstance(value, list) and args:
            return [
                k
                for n, item in enumerate(value)
                for k in unknown_keys(item, args[0], f"{path}[{n}]")
            ]
    if origin in (dict, collections.abc.Mapping) and isinstance(value, dict):
        args = get_args(hint)
        if len(args) == 2:
            return [
                k
                for key, item in value.items()
                for k in unknown_keys(item, args[1], f"{path}.{key}")
            ]
    return []


def _fits(value: Any, arm: Any) -> bool:
    """Whether a union arm can be `value`'s: the same kind of JSON value, and for an object
    a TypedDict whose `type` (or `role`) literal matches."""
    if get_origin(arm) in (typing.Annotated, typing_extensions.Annotated):
        arm = get_args(arm)[0]
    if isinstance(value, dict):
        if not is_typeddict(arm):
            return get_origin(arm) in (dict, collections.abc.Mapping)
        hints = get_type_hints(arm)
        for tag in ("type", "role"):
            declared = hints.get(tag)
            literal: Any = get_origin(declared)
            if declared is not None and tag in value and literal is Literal:
                return value[tag] in get_args(declared)
        return True
    if isinstance(value, list):
        return get_origin(arm) in (list, tuple, collections.abc.Iterable, collections.abc.Sequence)
    return (not is_typeddict(arm) and get_origin(arm) is None) or get_origin(arm) is Literal


def check(params: dict[str, Any], param_type: Any) -> None:
    """Raise unless `params` is what `param_type` (the SDK's) takes."""
    TypeAdapter(param_type).validate_python(params)
    unknown = unknown_keys(params, param_type)
    assert not unknown, f"keys the installed SDK does not declare: {unknown}"
