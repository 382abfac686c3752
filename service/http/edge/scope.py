"""What the edge's layers share of a request's scope: its headers, read once."""

from __future__ import annotations

from starlette.types import Scope

from contracts.error_body import ErrorCode
from contracts.errors import ProviderError


def headers_of(scope: Scope) -> dict[bytes, bytes]:
    """The request's headers by lower-case name (the last of a repeated one), read once."""
    state = scope.setdefault("state", {})
    headers: dict[bytes, bytes] | None = state.get("edge_headers")
    if headers is None:
        headers = state["edge_headers"] = {key.lower(): value for key, value in scope["headers"]}
    return headers


def denied(code: ErrorCode, status: int, message: str, remediation: str) -> ProviderError:
    """A refusal by one of the edge's checks, in the taxonomy."""
    return ProviderError.of(code, message, remediation, status=status)
