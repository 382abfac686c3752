"""`/v1/routes`: the routes an agent can name instead of a provider (issue 37). (These are
routes of requests between targets; this package's modules are the HTTP routes.)"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from contracts.routes import ROUTE_NAME, Route, RouteList, RoutePlan, RouteSpec
from service.http.http_errors import error_responses
from service.http.routes.deps import RuntimeDep
from service.http.strict_json import StrictJsonRoute

router = APIRouter(tags=["routes"], route_class=StrictJsonRoute)
Name = Annotated[str, Path(min_length=2, max_length=64, pattern=ROUTE_NAME)]


@router.get("/v1/routes", name="listRoutes", summary="Every route, in the order they were made")
async def list_routes(runtime: RuntimeDep) -> RouteList:
    return runtime.dispatcher.routes.list()


@router.get(
    "/v1/routes/{name}", name="getRoute", summary="One route", responses=error_responses(404)
)
async def get_route(name: Name, runtime: RuntimeDep) -> Route:
    return runtime.dispatcher.routes.get(name)


@router.get(
    "/v1/routes/{name}/plan",
    name="planRoute",
    summary="Where the route's next text request would go now, and why not each target before",
    responses=error_responses(404),
)
async def plan_route(name: Name, runtime: RuntimeDep) -> RoutePlan:
    return runtime.dispatcher.plan(name)


@router.put(
    "/v1/routes/{name}",
    name="putRoute",
    summary="Store or replace a route: its targets, tried in order; persisted",
    responses=error_responses(507),
)
async def put_route(name: Name, body: RouteSpec, runtime: RuntimeDep) -> Route:
    return await runtime.dispatcher.routes.put(name, body)


@router.delete(
    "/v1/routes/{name}",
    name="deleteRoute",
    summary="Forget a route; persisted",
    status_code=204,
    responses=error_responses(404, 507),
)
async def delete_route(name: Name, runtime: RuntimeDep) -> Response:
    await runtime.dispatcher.routes.delete(name)
    return Response(status_code=204)
