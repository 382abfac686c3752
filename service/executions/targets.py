"""A route's targets for one request, in order: the next one that can serve, and why each one
passed over could not (`adapters`' and the providers' own errors, recorded as `PassedOver`)."""

from __future__ import annotations

from collections.abc import Callable

from contracts.error_body import PassedOver
from contracts.errors import ProviderError
from contracts.executions import ExecutionRequest, Message
from contracts.routes import Route, RoutePlan, RouteTarget, TargetNow
from service.executions.lifecycle import Binding

# What a target is bound with for this request (the request as its wire takes it), or the error
# that says why it cannot serve now.
Bind = Callable[[RouteTarget, ExecutionRequest], tuple[Binding, ExecutionRequest]]


def passed_over(target: RouteTarget, error: ProviderError) -> PassedOver:
    return PassedOver(
        provider=target.provider, model=target.model, code=error.code, message=error.message
    )


class RouteTargets:
    """The targets of `route` not yet tried; `next` takes them in order."""

    def __init__(self, route: Route, request: ExecutionRequest, bind: Bind) -> None:
        self.route = route
        self._request = request
        self._bind = bind
        self._left = list(route.targets)
        self.last_error: ProviderError | None = None  # why the last target passed over could not

    def next(self, passed: list[PassedOver]) -> tuple[Binding, ExecutionRequest] | None:
        """The next target that can serve, bound; each one that cannot is added to `passed`.
        None when none is left."""
        while self._left:
            target = self._left.pop(0)
            try:
                return self._bind(target, self._request)
            except ProviderError as error:
                self.last_error = error
                passed.append(passed_over(target, error))
        return None


# The request a plan judges targets for: text, nothing a model might not take.
_TEXT = ExecutionRequest(messages=[Message(role="user", content="?")])


def plan_of(route: Route, bind: Bind) -> RoutePlan:
    """Each of `route`'s targets judged now by the same rule a request meets (`bind`), for a
    text request; nothing is sent. The first that would serve is `serves`."""
    judged: list[TargetNow] = []
    serves: int | None = None
    for n, target in enumerate(route.targets):
        try:
            bound, _ = bind(target, _TEXT)
        except ProviderError as error:
            said = passed_over(target, error).model_dump()  # as a request would record it
            judged.append(TargetNow(**said, serves_now=False, retry_after_s=error.retry_after_s))
            continue
        judged.append(TargetNow(provider=target.provider, model=bound.model, serves_now=True))
        if serves is None:
            serves = n
    return RoutePlan(name=route.name, targets=judged, serves=serves)
