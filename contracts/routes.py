"""Routes: an agent names a route (a list of targets, each a provider and optionally a model) and
the daemon falls through to the next target when one is unusable or fails before any output."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from contracts.base import ModelId, ProviderId, Request, Response
from contracts.error_body import PassedOver

__all__ = ["PassedOver", "Route", "RouteList", "RouteName", "RouteSpec", "RouteTarget"]

ROUTE_NAME = r"^[a-z][a-z0-9_-]{0,62}[a-z0-9]$"
RouteName = Annotated[
    str,
    Field(
        min_length=2,
        max_length=64,
        pattern=ROUTE_NAME,
        description="2 to 64 lower-case letters, digits, `-` and `_`, starting with a letter.",
        examples=["reviewers", "claude-else-gpt"],
    ),
]
MAX_ROUTES = 64
MAX_TARGETS = 8


class RouteTarget(Request):
    """One place a route's request may go: a provider, and the model there (its default
    model when none is named)."""

    provider: ProviderId
    model: ModelId | None = None


class RouteSpec(Request):
    """`PUT /v1/routes/{name}`: the targets, tried in order."""

    targets: list[RouteTarget] = Field(min_length=1, max_length=MAX_TARGETS)
    description: str | None = Field(default=None, max_length=256)


class Route(Response):
    """A route as stored."""

    name: str
    targets: list[RouteTarget]
    description: str | None = None


class RouteList(Response):
    """Every route, in the order they were made."""

    routes: list[Route]
