"""The routes (issue 37): named lists of targets, kept with the settings (they survive a
restart), bounded in number and size, and judged when stored: every target's provider must be
one the daemon knows. Every change is saved and published (`routes`). Which route a request
takes is `chosen`'s one decision."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from contracts.base import ProviderId
from contracts.error_body import ErrorDetail
from contracts.errors import InvalidRequest, bound_reached
from contracts.events import RoutesEvent, StateEvent
from contracts.executions import ExecutionRequest
from contracts.routes import MAX_ROUTES, Route, RouteList, RouteSpec
from service.providers.settings_store import LiveSettings


class RouteBook:
    """Reads and changes `settings.routes`; the caller saves the settings after a change."""

    def __init__(
        self,
        settings: LiveSettings,
        known: Callable[[], tuple[ProviderId, ...]],
        save: Callable[[], Awaitable[None]],
        publish: Callable[[StateEvent], object],
        now: Callable[[], datetime],
    ) -> None:
        self._settings = settings
        self._known = known
        self._save = save
        self._publish = publish
        self._now = now

    def list(self) -> RouteList:
        return RouteList(routes=list(self._settings.value.routes.values()))

    def get(self, name: str) -> Route:
        route = self._settings.value.routes.get(name)
        if route is None:
            raise _no_route(name, None)
        return route

    async def put(self, name: str, spec: RouteSpec) -> Route:
        """Store (or replace) a route, save and publish `routes`; 422 naming a target whose
        provider the daemon does not know, and at most MAX_ROUTES routes."""
        routes = self._settings.value.routes
        known = self._known()
        for n, target in enumerate(spec.targets):
            if target.provider not in known:
                message = (
                    f"There is no provider {target.provider.value!r}; the providers are "
                    f"{', '.join(known)}."
                )
                raise InvalidRequest(
                    message,
                    "Name providers the daemon knows (`kata-providers providers list`).",
                    status=422,
                    details=[
                        ErrorDetail(
                            loc=["body", "targets", n, "provider"],
                            msg=message,
                            type="unknown_provider",
                        )
                    ],
                )
        if name not in routes and len(routes) >= MAX_ROUTES:
            raise bound_reached(
                f"At most {MAX_ROUTES} routes are kept.",
                "Remove a route you no longer use.",
                "name",
            )
        route = Route(name=name, targets=spec.targets, description=spec.description)
        routes[name] = route
        await self._changed()
        return route

    async def delete(self, name: str) -> None:
        """Forget a route (agent tags mapped to it then take no route), save and publish."""
        if self._settings.value.routes.pop(name, None) is None:
            raise _no_route(name, None)
        await self._changed()

    async def _changed(self) -> None:
        await self._save()
        self._publish(RoutesEvent(at=self._now(), routes=self.list().routes))

    def chosen(self, request: ExecutionRequest) -> Route | None:
        """The route `request` takes: the one it names, else (when it names neither a provider
        nor a model) the one its agent tag is mapped to in `agent_routes`; None for neither."""
        if request.route is not None:
            route = self._settings.value.routes.get(request.route)
            if route is None:
                raise _no_route(request.route, ("body", "route"))
            return route
        if request.provider is None and request.model is None:
            agent = request.metadata.get("agent")
            name = self._settings.value.daemon.agent_routes.get(agent) if agent else None
            if name is not None and name in self._settings.value.routes:
                return self._settings.value.routes[name]
        return None


def _no_route(name: str, loc: tuple[str, ...] | None) -> InvalidRequest:
    message = f"There is no route {name[:64]!r}."
    remediation = "Name one of the routes (`kata-providers routes list`), or make it first."
    if loc is None:
        return InvalidRequest(message, remediation, status=404)
    detail = ErrorDetail(loc=list(loc), msg=message, type="unknown_route")
    return InvalidRequest(message, remediation, status=422, details=[detail])
