"""Provider-compatible routes: an official SDK or agent framework points its base URL at
`<daemon>/anthropic` or `<daemon>/openai/v1` and sends the daemon token as its API key.

Pass-through, not translation: the body goes upstream as sent (once it is known to be JSON within
the size limit), with the resolved credential (key or session) in place of the daemon token, and
the answer's bytes come back unchanged. Budgets, the governor, health, retries before the first
byte, session-to-key fallback and the ledger apply as for `/v1/executions`. The daemon's own
errors use the provider's error shape, so the SDK raises its own exception types."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapters.anthropic import relay as anthropic_relay
from adapters.openai import relay as openai_relay
from adapters.relay import RelayRequest, answered, compat_status, forwarded
from adapters.specs import NAMES
from contracts.base import ProviderId
from contracts.errors import InvalidRequest, ProviderError
from service.http.sse_stream import EventStream
from service.runtime import Runtime

PREFIX = {ProviderId.ANTHROPIC: "/anthropic", ProviderId.OPENAI: "/openai/v1"}
# What each prefix serves: (method, upstream path pattern, billable). Billable requests go
# through the budget, the governor and the ledger; listings and token counts do not.
SERVED: dict[ProviderId, list[tuple[str, re.Pattern[str], bool]]] = {
    ProviderId.ANTHROPIC: [
        ("POST", re.compile(r"/v1/messages"), True),
        ("POST", re.compile(r"/v1/messages/count_tokens"), False),
        ("GET", re.compile(r"/v1/models"), False),
        ("GET", re.compile(r"/v1/models/[A-Za-z0-9._:@-]+"), False),
    ],
    ProviderId.OPENAI: [
        ("POST", re.compile(r"/responses"), True),
        ("POST", re.compile(r"/chat/completions"), True),
        ("GET", re.compile(r"/models"), False),
        ("GET", re.compile(r"/models/[A-Za-z0-9._:@-]+"), False),
    ],
}
ERROR_BODY = {
    ProviderId.ANTHROPIC: anthropic_relay.error_body,
    ProviderId.OPENAI: openai_relay.error_body,
}


def provider_error(provider: ProviderId, error: ProviderError) -> Response:
    """A daemon error in the provider's own shape and status; `x-should-retry` tells the SDK
    whether retrying can help (never for a spent budget or a refused credential)."""
    status = compat_status(error.code, error.status)
    headers = {"x-should-retry": "true" if error.retryable else "false"}
    if error.retry_after_s is not None:
        # Both SDKs read the precise `retry-after-ms` first, as the providers send it.
        headers["retry-after-ms"] = str(max(1, round(error.retry_after_s * 1000)))
        headers["retry-after"] = str(max(1, round(error.retry_after_s)))
    return JSONResponse(ERROR_BODY[provider](error, status), status, headers=headers)


def _served(provider: ProviderId, method: str, path: str) -> bool | None:
    """Whether the route is billable, or None when it is not served."""
    for allowed, pattern, billable in SERVED[provider]:
        if method == allowed and pattern.fullmatch(path):
            return billable
    return None


async def _disconnected(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


def _body(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise InvalidRequest(
            f"The body is not valid JSON ({exc}).", "Send a JSON object, as the SDK does."
        ) from None
    if not isinstance(value, dict):
        raise InvalidRequest("The body must be a JSON object.", "Send a JSON object.")
    return value


async def relay(request: Request, provider: ProviderId) -> Response:
    """Pass one request through to `provider` (see the module's docstring)."""
    runtime: Runtime = request.app.state.runtime
    path = request.url.path.removeprefix(PREFIX[provider])
    billable = _served(provider, request.method, path)
    try:
        if billable is None:
            raise InvalidRequest(
                f"{request.method} {request.url.path} is not a route the daemon passes through.",
                f"Use the routes listed in the daemon's README under {PREFIX[provider]}.",
                status=404,
            )
        raw = await request.body()
        body = _body(raw) if request.method == "POST" else {}
        upstream = RelayRequest(
            request.method,
            path,
            request.url.query,
            forwarded(request.headers.items()),
            raw if request.method == "POST" else None,
        )
        await runtime.ready()
        prepared = runtime.dispatcher.prepare_relay(
            provider,
            request.url.path,
            upstream,
            body,
            billable,
            request.scope["state"].get("started"),
        )
    except ProviderError as error:
        return provider_error(provider, error)
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
        runtime.dispatcher.relay_finished(prepared)
        raise
    finally:
        watcher.cancel()
    if isinstance(answer, ProviderError):
        await prepared.close()
        runtime.dispatcher.relay_finished(prepared)
        return provider_error(provider, answer)

    async def ended() -> None:
        await prepared.close()
        runtime.dispatcher.relay_finished(prepared)

    headers = [
        (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in answered(answer.headers)
    ]
    return EventStream(
        prepared.passing(answer), ping_s=None, status=answer.status, headers=headers, on_end=ended
    )


def _endpoint(provider: ProviderId) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return await relay(request, provider)

    return endpoint


ROUTES = [
    Route(f"{prefix}/{{rest:path}}", _endpoint(provider), methods=["GET", "POST"])
    for provider, prefix in PREFIX.items()
]


def openapi_paths() -> dict[str, Any]:
    """The compatible routes in the API document, described as what they are: pass-through."""
    paths: dict[str, Any] = {}
    for provider, routes in SERVED.items():
        name = NAMES[provider]
        for method, pattern, billable in routes:
            upstream = pattern.pattern.replace("[A-Za-z0-9._:@-]+", "{model_id}")
            operation: dict[str, Any] = {
                "tags": ["compatible"],
                "operationId": f"{provider.value}Compat{method.title()}"
                + re.sub(r"[^A-Za-z]", "", upstream.title()),
                "summary": f"{name} API pass-through: {method} {upstream}",
                "description": (
                    f"Point the official {name} SDK's base URL at `{PREFIX[provider]}` and give "
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
                "responses": {
                    "default": {
                        "description": (
                            "The provider's answer, unchanged: JSON, or server-sent events when "
                            "the body asks for `stream: true`. The daemon's own errors come in "
                            "the provider's error shape, with the taxonomy body in `kata`."
                        ),
                        "content": {
                            "application/json": {"schema": {"type": "object"}},
                            "text/event-stream": {"schema": {"type": "string"}},
                        },
                    }
                },
            }
            if method == "POST":
                operation["requestBody"] = {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "description": f"The {name} API's own request body.",
                            }
                        }
                    },
                }
            if "{model_id}" in upstream:
                operation["parameters"] = [
                    {
                        "name": "model_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ]
            paths.setdefault(PREFIX[provider] + upstream, {})[method.lower()] = operation
    return paths
