"""Request bodies parsed strictly: JSON that Python accepts but no provider can take is refused
at the boundary (422), instead of failing upstream as a malformed stream.

Python's `json` accepts `NaN`, `Infinity` and `1e999` (which becomes infinity), and `\\ud800`
escapes that decode to lone surrogates; none of these can be encoded as JSON or UTF-8 again.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

NON_FINITE = "numbers must be finite (NaN, Infinity and out-of-range values like 1e999 are refused)"
LONE_SURROGATE = (
    "strings must be valid Unicode (a lone surrogate escape such as \\ud800 is refused)"
)
UNENCODABLE = frozenset({NON_FINITE, LONE_SURROGATE})
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


class _Refused(ValueError):
    pass


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(NON_FINITE)
    return value


def _constant(_: str) -> float:
    raise _Refused(NON_FINITE)


def _check_strings(value: Any) -> None:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise _Refused(LONE_SURROGATE) from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_strings(key)
            _check_strings(item)
    elif isinstance(value, list):
        for item in value:
            _check_strings(item)


def loads(body: bytes) -> Any:
    """Parse a request body; raises `json.JSONDecodeError` (which FastAPI reports as a validation
    error) for malformed JSON and for values no provider can take. The error never quotes the
    body, which may hold a key."""
    try:
        value = json.loads(body, parse_float=_finite, parse_constant=_constant)
        if _SURROGATE_ESCAPE.search(body):  # the walk only when an escape could be one
            _check_strings(value)
    except _Refused as refused:
        raise json.JSONDecodeError(str(refused), "", 0) from None
    except json.JSONDecodeError as exc:
        raise json.JSONDecodeError(exc.msg, "", exc.pos) from None
    except UnicodeDecodeError as exc:
        raise json.JSONDecodeError("the body is not valid UTF-8", "", exc.start) from None
    return value


LARGE_BODY = 64 * 1024  # larger bodies are parsed and validated in a worker thread
M = TypeVar("M", bound=BaseModel)


async def parse_body(request: Request, model: type[M]) -> M:
    """The body as `model`, parsed strictly. A large body is parsed and validated in a worker
    thread, so no single valid request holds the event loop (and every other client) for long.
    Problems are raised as FastAPI's RequestValidationError, rendered like any other."""
    raw = await request.body()
    if len(raw) > LARGE_BODY:
        return await asyncio.to_thread(_parse, raw, model)
    return _parse(raw, model)


def _parse(raw: bytes, model: type[M]) -> M:
    try:
        data = loads(raw)
    except json.JSONDecodeError as exc:
        raise RequestValidationError(
            [
                {
                    "type": "json_invalid",
                    "loc": ("body", exc.pos),
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": exc.msg},
                }
            ]
        ) from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False, include_context=False)
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in errors]
        ) from None


class StrictJsonRequest(Request):
    """A request whose `json()` is `loads` above."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = loads(await self.body())
        return self._json


class StrictJsonRoute(APIRoute):
    """Routes whose JSON bodies are parsed by `loads`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return strict
