"""Dependencies the routes declare, as `Annotated` aliases defined once."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from contracts.error_body import ErrorDetail
from contracts.errors import InvalidRequest
from service.runtime import Runtime


async def _runtime(request: Request) -> Runtime:
    # async on purpose: FastAPI runs a plain `def` dependency in a worker thread per request.
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(_runtime)]


async def no_unknown_query(request: Request) -> None:
    """Unknown query parameters are an error, as unknown body fields are: a typo never passes
    silently (`?refersh=true` would otherwise quietly serve the cache)."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    known = {param.alias for param in getattr(dependant, "query_params", [])}
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise InvalidRequest(
            f"Unknown query parameter(s): {', '.join(repr(name[:40]) for name in unknown[:5])}.",
            "Check the parameter names against the API docs (/docs).",
            details=[
                ErrorDetail(
                    loc=["query", name[:40]],
                    msg="not a parameter of this route",
                    type="extra_forbidden",
                )
                for name in unknown[:5]
            ],
        )
