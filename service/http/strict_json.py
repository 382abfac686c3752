"""The one JSON parser for every request body, the daemon's routes and the compatible routes
alike: what RFC 8259 leaves undefined, and what no provider can take, is refused here, at the
boundary, with a reason the caller can act on.

The rules (the README's security section lists them):
- at most `MAX_DEPTH` nested arrays and objects (Python's parser would recurse until it fails);
- numbers are finite: `NaN`, `Infinity` and overflowing values such as `1e999` are refused;
- integers are within ±(2^53 - 1), what a double holds exactly (RFC 7493, I-JSON);
- strings are valid Unicode: a lone surrogate escape such as `\\ud800` is refused, and so is a
  body that is not UTF-8;
- an object names each key once (a duplicate would let the daemon read one value and the
  provider another).
Errors never quote the body, which may hold a key.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import Callable, Coroutine
from itertools import accumulate
from typing import Any, TypeVar

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

MAX_DEPTH = 128
MAX_SAFE_INTEGER = 2**53 - 1
NON_FINITE = "numbers must be finite (NaN, Infinity and out-of-range values like 1e999 are refused)"
LONE_SURROGATE = (
    "strings must be valid Unicode (a lone surrogate escape such as \\ud800 is refused)"
)
BIG_INTEGER = "integers must be within ±(2^53 - 1), what a double holds exactly"
DUPLICATE_KEY = "an object names the same key twice"
TOO_DEEP = f"arrays and objects nest more than {MAX_DEPTH} deep"
# Refusals of a value the JSON grammar allows (422); anything else is malformed JSON (400).
UNENCODABLE = frozenset({NON_FINITE, LONE_SURROGATE, BIG_INTEGER, DUPLICATE_KEY})
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
# 2^53 has 16 digits: shorter integers are always safe. Found by a translation to "0 or not"
# and a substring search (a regex scan of `\d{16}` costs 10x more on a large body).
_DIGITS_ONLY = bytes.maketrans(
    bytes(range(256)), bytes(48 if 48 <= c <= 57 else 46 for c in range(256))
)
_LONG_DIGITS = b"0" * 16
_NOT_STRUCTURE = bytes(c for c in range(256) if c not in b'[]{}"')
_DEPTH_STEP = [0] * 256
_DEPTH_STEP[ord("[")] = _DEPTH_STEP[ord("{")] = 1
_DEPTH_STEP[ord("]")] = _DEPTH_STEP[ord("}")] = -1


class _Refused(ValueError):
    pass


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(NON_FINITE)
    return value


def _constant(_: str) -> float:
    raise _Refused(NON_FINITE)


def _safe_integer(text: str) -> int:
    # Checked on the text first: Python refuses to convert more than 4,300 digits at all.
    if len(text.lstrip("-")) > 16 or abs(value := int(text)) > MAX_SAFE_INTEGER:
        raise _Refused(BIG_INTEGER)
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        raise _Refused(DUPLICATE_KEY)
    return value


def depth(body: bytes) -> int:
    """How deep arrays and objects nest in `body`, in one pass of C-speed steps: escaped
    backslashes and quotes dropped, then everything but brackets and quotes, then the strings
    (every other piece between quotes)."""
    if b"\\" in body:
        body = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    structure = b"".join(body.translate(None, _NOT_STRUCTURE).split(b'"')[::2])
    return max(accumulate(map(_DEPTH_STEP.__getitem__, structure)), default=0)


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
    """Parse a request body by the rules above; raises `json.JSONDecodeError` (which FastAPI
    reports as a validation error) whose message is the rule broken."""
    try:
        if body.count(b"[") + body.count(b"{") > MAX_DEPTH and depth(body) > MAX_DEPTH:
            raise json.JSONDecodeError(TOO_DEEP, "", 0)
        value = json.loads(
            body,
            parse_float=_finite,
            parse_constant=_constant,
            # The integer check only when an integer could be long enough to fail it.
            parse_int=_safe_integer if _LONG_DIGITS in body.translate(_DIGITS_ONLY) else None,
            object_pairs_hook=_unique_keys,
        )
        if _SURROGATE_ESCAPE.search(body):  # the walk only when an escape could be one
            _check_strings(value)
    except _Refused as refused:
        raise json.JSONDecodeError(str(refused), "", 0) from None
    except json.JSONDecodeError as exc:
        raise json.JSONDecodeError(exc.msg, "", exc.pos) from None
    except UnicodeDecodeError as exc:
        raise json.JSONDecodeError("the body is not valid UTF-8", "", exc.start) from None
    except RecursionError:  # a last guard: the depth check above comes first
        raise json.JSONDecodeError(TOO_DEEP, "", 0) from None
    return value


LARGE_BODY = 64 * 1024  # larger bodies are parsed and validated in a worker thread
M = TypeVar("M", bound=BaseModel)


async def loads_off_loop(body: bytes) -> Any:
    """`loads`, in a worker thread for a large body (so no single request holds the event loop)."""
    if len(body) > LARGE_BODY:
        return await asyncio.to_thread(loads, body)
    return loads(body)


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
