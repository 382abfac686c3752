"""Rendering taxonomy errors as HTTP responses: the one place errors become bytes."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope, Send

from contracts.error_body import ErrorBody, ErrorCode, ErrorDetail
from contracts.errors import InvalidRequest, ProviderError, UnexpectedError
from service.http.compat_errors import compat_error, shaped_for
from service.http.strict_json import UNENCODABLE

log = logging.getLogger("kata.errors")

ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "Malformed request (invalid_request).",
    401: "The daemon token is missing or wrong (unauthorized).",
    403: "The Origin or peer may not call this daemon (invalid_request).",
    404: "No such resource or model (invalid_request, model_not_found).",
    409: "The execution was cancelled, or has already finished (cancelled, invalid_request).",
    405: "The path does not take this method (invalid_request); `Allow` lists those it takes.",
    413: "The request body is too large (invalid_request).",
    415: "The request body is not application/json (invalid_request).",
    421: "The Host header is not this daemon's address (invalid_request).",
    422: "The request body does not match the schema (invalid_request).",
    424: "The provider has no usable credential (missing_auth, invalid_auth, session_expired).",
    429: "The provider is rate limiting (rate_limited).",
    500: "A bug in the daemon (unexpected_error).",
    502: "The provider answered in a way the daemon did not expect (unexpected_error).",
    503: "The provider is unavailable (provider_unavailable).",
    504: "The provider did not answer in time (timeout).",
    507: "The data folder cannot be written; the message names the path (unexpected_error).",
}
COMMON_ERRORS = (400, 401, 403, 413, 415, 421, 422, 500)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for the given error statuses, all with the error body."""
    return {
        status: {"model": ErrorBody, "description": ERROR_DESCRIPTIONS[status]}
        for status in statuses
    }


def _headers(error: ProviderError) -> dict[str, str]:
    headers: dict[str, str] = {}
    if error.retry_after_s is not None:
        headers["retry-after"] = str(max(1, round(error.retry_after_s)))
    if error.code is ErrorCode.UNAUTHORIZED:
        headers["www-authenticate"] = 'Bearer realm="kata-providers"'
    return headers


def _rendered(
    error: ProviderError, request_id: str | None, path: str, app: Any = None
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Status, body and headers of `error`: the provider's shape under a compatible route's
    prefix, the taxonomy's elsewhere (the one place this is decided for every error path)."""
    provider = shaped_for(path, app)
    if provider is None:
        return error.status, error.body(request_id).model_dump(mode="json"), _headers(error)
    status, payload, extra = compat_error(provider, error, request_id)
    return status, payload, {**_headers(error), **extra}


def error_response(
    error: ProviderError, request_id: str | None, path: str = "", app: Any = None
) -> JSONResponse:
    """A JSON response for a taxonomy error."""
    status, payload, headers = _rendered(error, request_id, path, app)
    return JSONResponse(payload, status_code=status, headers=headers)


async def send_error(send: Send, error: ProviderError, request_id: str, scope: Scope) -> None:
    """Send a taxonomy error straight over ASGI, for checks that run before any route (the
    scope says the path, and through its app which wire a `/providers/<id>/` path speaks)."""
    status, payload, extra = _rendered(error, request_id, scope["path"], scope.get("app"))
    body = json.dumps(payload, separators=(",", ":")).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    headers += [(k.encode(), v.encode()) for k, v in extra.items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def unexpected_error(request_id: str | None) -> ProviderError:
    """A bug in the daemon, as the taxonomy reports it."""
    return UnexpectedError(
        "The daemon failed unexpectedly; the details are in its log.",
        f"Retry; if it persists, report the daemon log lines with request_id {request_id}.",
        status=500,
    )


def request_id_of(request: Request) -> str | None:
    """The id the security edge gave this request."""
    value = request.scope.get("state", {}).get("request_id")
    return value if isinstance(value, str) else None


def _validation_error(exc: RequestValidationError) -> ProviderError:
    errors = list(exc.errors())
    for error in errors:
        if error.get("type") != "json_invalid":
            continue
        reason = str(error.get("ctx", {}).get("error", ""))
        if reason in UNENCODABLE:
            return InvalidRequest(
                f"The request body cannot be sent to a provider: {reason}.",
                "Send finite numbers and well-formed Unicode text.",
                status=422,
                details=[ErrorDetail(loc=["body"], msg=reason, type="value_error")],
            )
        return InvalidRequest(
            f"The request body is not valid JSON: {reason or 'malformed'}.",
            "Send a well-formed JSON body (the README's security section states the limits).",
        )
    details = [
        ErrorDetail(
            loc=[part for part in error.get("loc", ()) if isinstance(part, str | int)],
            msg=str(error.get("msg", "")),
            type=str(error.get("type", "")),
        )
        for error in errors
    ]
    summary = "; ".join(
        f"{'.'.join(str(p) for p in d.loc[1:]) or 'body'}: {d.msg}" for d in details[:3]
    )
    return InvalidRequest(
        f"The request does not match the schema: {summary}.",
        "Fix the fields named in details; the API docs (/docs) describe each one.",
        details=details,
        status=422,
    )


def _allowed_methods(request: Request) -> str:
    """Every method any route serves at this path (Starlette names only the first route's)."""
    from starlette.routing import Match, Route

    def flat(routes: list[Any]) -> Iterator[Any]:
        # FastAPI keeps an included router's routes behind one entry (`original_router`).
        for route in routes:
            inner = getattr(route, "original_router", None)
            yield from flat(inner.routes) if inner is not None else (route,)

    methods: set[str] = set()
    for route in flat(request.app.routes):
        if isinstance(route, Route) and route.methods:
            probe = {**request.scope, "method": next(iter(route.methods))}
            if route.matches(probe)[0] is Match.FULL:
                methods |= route.methods
    return ", ".join(sorted(methods))


def install_error_handlers(app: FastAPI) -> None:
    """Map every exception a route can raise to the taxonomy's error body."""

    async def on_provider_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ProviderError)
        return error_response(exc, request_id_of(request), request.url.path, request.app)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        error = _validation_error(exc)
        return error_response(error, request_id_of(request), request.url.path, request.app)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        error = InvalidRequest(
            str(exc.detail),
            "Check the method and path against the API docs (/docs).",
            status=exc.status_code,
        )
        response = error_response(error, request_id_of(request), request.url.path, request.app)
        if exc.headers:
            response.headers.update(exc.headers)
        if exc.status_code == 405:
            response.headers["allow"] = _allowed_methods(request)
        return response

    app.add_exception_handler(ProviderError, on_provider_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
