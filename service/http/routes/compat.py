"""Provider-compatible routes: an official SDK or agent framework points its base URL at a
built-in provider's prefix (`<daemon>/anthropic`, `<daemon>/openai/v1`) or, for any provider (a
user-added one included), at `<daemon>/providers/<id>`, which speaks that provider's wire; and
it sends the daemon token as its API key. What each wire serves is its own (`Wire.routes`).

Pass-through, not translation: the body goes upstream as sent (once it is known to be JSON within
the size limit), with the resolved credential (key or session) in place of the daemon token, and
the answer's bytes come back unchanged. Budgets, the governor, health, retries before the first
byte, session-to-key fallback and the ledger apply as for `/v1/executions`. The daemon's own
errors use the provider's error shape, so the SDK raises its own exception types."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapters.passthrough import RelayRequest, answered, forwarded
from adapters.specs import SPECS, ProviderSpec
from adapters.wire import Wire
from contracts.base import ProviderId
from contracts.errors import InvalidRequest, ProviderError
from service.http import strict_json
from service.http.compat_errors import BY_ID, FALLBACK, compat_error, shaped_for
from service.http.sse_stream import EventStream
from service.providers.endpoint_list import unknown_provider
from service.runtime import Runtime

MAX_PATH = 512
ALL_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


@dataclass(frozen=True)
class Served:
    """Whose request this is, the wire it speaks (its routes and error shape), and the prefix
    the client's base URL ends with."""

    provider: ProviderId
    wire: Wire
    prefix: str


def provider_error(wire: Wire, error: ProviderError, request: Request) -> Response:
    """A daemon error in the wire's own shape and status (service.http.compat_errors)."""
    status, body, headers = compat_error(wire, error, request.scope["state"].get("request_id"))
    return JSONResponse(body, status, headers=headers)


def _allowed(wire: Wire, path: str) -> dict[str, bool]:
    """The methods served at `path`, each with whether it is billable."""
    return {
        route.method: route.billable
        for route in wire.routes
        if len(path) <= MAX_PATH and route.pattern.fullmatch(path)
    }


async def _disconnected(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def _body(raw: bytes) -> dict[str, Any]:
    try:
        value = await strict_json.loads_off_loop(raw)
    except json.JSONDecodeError as exc:
        raise InvalidRequest(
            f"The body is not valid JSON: {exc.msg}.",
            "Send a JSON object, as the SDK does (the daemon's README states the limits).",
        ) from None
    if not isinstance(value, dict):
        raise InvalidRequest("The body must be a JSON object.", "Send a JSON object.")
    return value


def _keep_the_token_here(request: Request, upstream: RelayRequest) -> None:
    """The daemon token (and whatever credential authenticated this request) never leaves the
    machine: it goes in the API-key header, which is never forwarded; found anywhere else that
    would go upstream (the query under any name, a header, the body), the request is refused.
    What authenticates is the edge's to say (service/http/edge/token.py): the daemon token, as
    a bearer or in the wire's key header, or a live page token as a bearer; any other value in
    those headers is no credential of ours (an `x-api-key: 0` beside the bearer token)."""
    secrets = {request.app.state.policy.token}
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and request.scope["state"].get("page_token"):
        secrets.add(presented.strip().encode())  # the edge let it in as a page token
    query = upstream.query
    places = {
        "the query string": f"{query}\n{unquote_plus(query)}".encode(),
        "a header": "\n".join(upstream.headers.values()).encode(),
        "the body": upstream.body or b"",
    }
    for where, text in places.items():
        if any(secret in text for secret in secrets):
            raise InvalidRequest(
                f"The daemon's token is in {where}; it is never sent to the provider.",
                "Send the token only as the API key (Authorization or x-api-key), nowhere else.",
            )


def _required_headers(request: Request, wire: Wire) -> None:
    """A header the wire's API requires on every request (its SDK always sends it) is checked
    here, before a slot or a budget is taken, as the document states; its value is the
    provider's to judge."""
    for header in wire.required_headers or {}:
        if not request.headers.get(header):
            raise InvalidRequest(
                f"{header}: header is required",
                f"Send {header} as {wire.display_name}'s SDK does (the OpenAPI document lists "
                "the values).",
            )


async def relay(request: Request, served: Served) -> Response:
    """Pass one request through to `served.provider` (see the module's docstring)."""
    runtime: Runtime = request.app.state.runtime
    provider, wire = served.provider, served.wire
    path = request.url.path.removeprefix(served.prefix)
    allowed = _allowed(wire, path)
    if request.method not in allowed:
        return _not_served(served, request, allowed)
    billable = allowed[request.method]
    try:
        raw = await request.body()
        body = await _body(raw) if request.method == "POST" else {}
        upstream = RelayRequest(
            request.method,
            path,
            request.url.query,
            forwarded(request.headers.items(), (wire.key_header, wire.token_header)),
            raw if request.method == "POST" else None,
        )
        _keep_the_token_here(request, upstream)
        _required_headers(request, wire)
        await runtime.ready()
        prepared = runtime.dispatcher.prepare_passthrough(
            provider,
            request.url.path,
            upstream,
            body,
            billable,
            request.scope["state"].get("started"),
        )
    except ProviderError as error:
        return provider_error(wire, error, request)
    # The body has been read: the next message is the client leaving, which stops the wait.
    watcher = asyncio.ensure_future(_disconnected(request))

    def left(task: asyncio.Future[None]) -> None:
        if not task.cancelled():
            prepared.cancel()

    watcher.add_done_callback(left)
    try:
        answer = await prepared.open()
    except BaseException:  # the server is stopping: give the slot back, record the end
        await prepared.close()
        runtime.dispatcher.passthrough_finished(prepared)
        raise
    finally:
        watcher.cancel()
    if isinstance(answer, ProviderError):
        await prepared.close()
        runtime.dispatcher.passthrough_finished(prepared)
        return provider_error(wire, answer, request)

    async def ended() -> None:
        await prepared.close()
        runtime.dispatcher.passthrough_finished(prepared)

    headers = [
        (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in answered(answer.headers)
    ]
    return EventStream(
        prepared.passing(answer), ping_s=None, status=answer.status, headers=headers, on_end=ended
    )


def _not_served(served: Served, request: Request, allowed: dict[str, bool]) -> Response:
    """404 for a path the daemon does not pass through; 405 (with `Allow`) for a method the
    path does not have."""
    if not allowed:
        error = InvalidRequest(
            f"{request.method} {request.url.path} is not a route the daemon passes through.",
            f"Use the routes listed in the daemon's README under {served.prefix}.",
            status=404,
        )
        return provider_error(served.wire, error, request)
    methods = ", ".join(sorted(allowed))
    error = InvalidRequest(
        f"{request.url.path} does not take {request.method}; it takes {methods}.",
        f"Send {methods}.",
        status=405,
    )
    response = provider_error(served.wire, error, request)
    response.headers["allow"] = methods
    return response


def _endpoint(spec: ProviderSpec) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        wire = request.app.state.runtime.book.wire_of(spec.id)
        return await relay(request, Served(spec.id, wire, spec.compat_prefix))

    return endpoint


async def by_id(request: Request) -> Response:
    """`/providers/<id>/…`: the provider's own routes, for any provider the daemon knows."""
    book = request.app.state.runtime.book
    raw: str = request.path_params["provider"]
    wire = shaped_for(request.url.path, request.app) or book.wire_of(FALLBACK)
    if raw not in book.providers:  # an id of no provider, or no id at all
        return provider_error(wire, unknown_provider(raw, book.providers, None), request)
    return await relay(request, Served(ProviderId(raw), wire, f"{BY_ID}{raw}"))


def routes() -> list[Route]:
    """Every built-in provider's prefix, then every provider's routes by id. Every method: the
    route itself answers 404 or 405 for what it does not serve."""
    return [
        *(
            Route(f"{spec.compat_prefix}/{{rest:path}}", _endpoint(spec), methods=[*ALL_METHODS])
            for spec in SPECS.values()
        ),
        Route(f"{BY_ID}{{provider}}/{{rest:path}}", by_id, methods=[*ALL_METHODS]),
    ]
