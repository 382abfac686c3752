"""Routes: an agent names a route (a list of targets, each a provider and optionally a model) and
the daemon falls through to the next target when one is unusable or fails before any output."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from contracts.base import ModelId, ProviderId, Request, Response
from contracts.error_body import ErrorCode, PassedOver

__all__ = [
    "PassedOver",
    "Route",
    "RouteList",
    "RouteName",
    "RoutePlan",
    "RouteSpec",
    "RouteTarget",
    "TargetNow",
]

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


class TargetNow(Response):
    """One target as the route would judge it now, for a text request: whether it would be
    tried, and when not, the error that passes it over."""

    provider: ProviderId
    model: str | None = Field(description="The model it would run (its provider's default).")
    serves_now: bool
    code: ErrorCode | None = Field(default=None, description="Why it would be passed over.")
    message: str | None = None
    retry_after_s: float | None = Field(
        default=None, description="When its pause or breaker ends, if that is why."
    )


class RoutePlan(Response):
    """`GET /v1/routes/{name}/plan`: where the route's next text request would go now, and
    why each target before it would be passed over (the same state gives the same choice).
    A request may still fall through after a target fails, or skip one that cannot take what
    it uses (an image, a thinking budget)."""

    name: str
    targets: list[TargetNow]
    serves: int | None = Field(
        description="The index of the target that would serve; null when none would."
    )
