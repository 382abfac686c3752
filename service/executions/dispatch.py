"""The dispatcher: routes requests to a provider, model and credential, keeps running
executions cancellable, and answers executions' questions (the `Router` they need)."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from adapters.base import Credential, ProviderAdapter
from adapters.capabilities import check_request
from adapters.catalogue import capabilities_of
from adapters.passthrough import RelayRequest, tags
from contracts.base import MAX_MODEL_ID, ProviderId
from contracts.error_body import PassedOver
from contracts.errors import Cancelled, InvalidRequest, MissingAuth
from contracts.events import ExecutionFinishedEvent, ProviderErrorEvent, UsageEvent
from contracts.executions import CancelResult, ExecutionRequest, ExecutionState
from contracts.models import ModelCapabilities, ModelInfo
from contracts.routes import Route, RoutePlan, RouteTarget
from service.events import EventBus
from service.executions.daemon_ports import DaemonPorts
from service.executions.execution import Execution
from service.executions.fall_through import cannot_serve_now, none_served
from service.executions.lifecycle import Binding, Lifecycle
from service.executions.passthrough import PassThrough
from service.executions.ports import Deadlines
from service.executions.retry import RetryPolicy
from service.executions.route_book import RouteBook
from service.executions.targets import Bind, RouteTargets, plan_of
from service.providers.provider_book import ProviderBook
from service.usage.meter import Meter

log = logging.getLogger("kata.dispatch")
RECENTLY_FINISHED = 1024


class Dispatcher:
    """One per runtime; every method runs on the event loop."""

    def __init__(
        self,
        book: ProviderBook,
        adapters: Mapping[ProviderId, ProviderAdapter],
        policy: RetryPolicy,
        deadlines: Deadlines,
        meter: Meter,
        bus: EventBus,
        now: Callable[[], datetime],
        ports: DaemonPorts,
        routes: RouteBook,
        listed: Callable[[ProviderId, str], ModelInfo | None] = lambda _p, _m: None,
    ) -> None:
        self.routes = routes
        self._listed = listed  # what the last model list said of a model
        self.book = book
        self.ports = ports
        self._bus = bus
        self._now = now
        self.meter = meter
        self.adapters = adapters  # shared: providers a user adds come and go
        self.policy = policy
        self.deadlines = deadlines
        self._running: dict[str, Execution] = {}
        # The outcomes of the last RECENTLY_FINISHED executions, so cancelling one that has
        # just ended answers 409 (bounded: older ids answer 404).
        self._finished: OrderedDict[str, ExecutionState] = OrderedDict()

    def prepare(self, request: ExecutionRequest, started: float | None = None) -> Execution:
        """Bind a request to provider, model and credential (or to the first target of its
        route that can serve); raises what blocks it."""
        route = self.routes.chosen(request)
        if route is not None:
            return self._prepare_route(route, request, started)
        if request.provider is not None:
            self.book.known(request.provider, ("body", "provider"))
        provider = request.provider or self.book.default_provider()
        if provider is None:
            raise MissingAuth(
                "No provider has a usable credential.",
                "Add an API key for Anthropic or OpenAI on the status page, or sign in with "
                "the provider's CLI.",
            )
        bound, request = self._target(provider, request.model, request, started)
        execution = Execution(request, bound)
        self._running[execution.id] = execution
        return execution

    def plan(self, name: str) -> RoutePlan:
        """Where the route's next text request would go now, and why not each one before it."""
        return plan_of(self.routes.get(name), self._binder(None))

    def _binder(self, started: float | None) -> Bind:
        def bind(target: RouteTarget, asked: ExecutionRequest) -> tuple[Binding, ExecutionRequest]:
            provider = self.book.known(target.provider, ("body", "route"))
            return self._target(provider, target.model, asked, started, routed=True)

        return bind

    def _prepare_route(
        self, route: Route, request: ExecutionRequest, started: float | None
    ) -> Execution:
        targets = RouteTargets(route, request, self._binder(started))
        passed: list[PassedOver] = []
        first = targets.next(passed)
        if first is None:
            raise none_served(route, passed, targets.last_error)
        bound, fitted = first
        execution = Execution(fitted, bound, targets)
        execution.route, execution.passed_over = route.name, passed
        self._running[execution.id] = execution
        return execution

    def _target(
        self,
        provider: ProviderId,
        named: str | None,
        request: ExecutionRequest,
        started: float | None,
        routed: bool = False,
    ) -> tuple[Binding, ExecutionRequest]:
        """`request` bound to `provider` (and the model named, else its default), as its wire
        takes it; raises what blocks it. On a route, a target that cannot serve now (its breaker
        open, its gate paused past the bound) is refused too, so the route moves on at once."""
        model = named or self.book.model_for(provider)
        adapter = self.adapters[provider]
        # What the model takes matters only to a request that asks for more than text.
        info = self._info(provider, model) if request.uses_features else None
        check_request(provider, adapter.capabilities, request, model, info)
        if info is not None:
            request = adapter.fit(request, model, info)
        if routed:
            unable = cannot_serve_now(
                provider, self.ports.health(provider), self.ports.gate(provider)
            )
            if unable is not None:
                raise unable
        self.meter.admit(provider)
        credential, resolution = self.book.credential(provider)
        return self._bind(
            provider, model, credential, resolution.fallback_applied, started
        ), request

    def _info(self, provider: ProviderId, model: str) -> ModelCapabilities:
        """What `model` takes: its provider's model list where it said (tools too), else the
        catalogue; nothing said is nothing refused."""
        listed = self._listed(provider, model)
        said = listed.capabilities if listed is not None else None
        said = said or capabilities_of(provider, model) or ModelCapabilities()
        if listed is not None and listed.tools is not None:
            said = said.model_copy(update={"tools": listed.tools})
        return said

    def prepare_passthrough(
        self,
        provider: ProviderId,
        route: str,
        upstream: RelayRequest,
        body: dict[str, Any],
        billable: bool,
        started: float | None,
    ) -> PassThrough:
        """Bind a pass-through request to its provider's credential (and, when it is billable,
        check the budget); raises what blocks it."""
        if billable:
            self.meter.admit(provider)
        credential, resolution = self.book.credential(provider)
        model = body.get("model") if isinstance(body.get("model"), str) else None
        if model is not None and len(model) > MAX_MODEL_ID:
            raise InvalidRequest(
                f"The model id is {len(model)} characters long; at most {MAX_MODEL_ID} are.",
                "Name a model the provider serves (GET /v1/models lists them).",
            )
        model = model or self.book.default_model(provider) or ""
        bound = self._bind(provider, model, credential, resolution.fallback_applied, started)
        return PassThrough(
            bound,
            route,
            bound.adapter.relay_request(upstream, body) if billable else upstream,
            streamed=body.get("stream") is True,
            metadata=tags(body),
            billable=billable,
        )

    def _bind(
        self,
        provider: ProviderId,
        model: str,
        credential: Credential,
        fallback_applied: bool,
        started: float | None,
    ) -> Binding:
        adapter = self.adapters[provider]
        return Binding(
            provider,
            model,
            credential,
            fallback_applied,
            adapter,
            self.ports,
            self.policy,
            self.deadlines,
            started,
        )

    def passthrough_finished(self, passthrough: PassThrough) -> None:
        """A pass-through request ended: billable ones are recorded like executions."""
        if passthrough.billable:
            self.finished(passthrough)

    def finished(self, execution: Lifecycle) -> None:
        """Forget a finished execution (it can no longer be cancelled), record it in the ledger
        and tell activity views it ended, with what it used."""
        if self._running.pop(execution.id, None) is not None:
            self._finished[execution.id] = execution.state
            if len(self._finished) > RECENTLY_FINISHED:
                self._finished.popitem(last=False)
        record, warning = self.meter.finished(execution)
        budget = self.meter.budgets.state(execution.provider)
        self._bus.publish(UsageEvent(at=self._now(), execution=record, budget=budget))
        if warning is not None:
            log.warning("budget mostly spent", extra={"provider": execution.provider.value})
            self._bus.publish(
                ProviderErrorEvent(
                    at=self._now(), provider=execution.provider, error=warning.body()
                )
            )
        self._bus.publish(
            ExecutionFinishedEvent(
                at=self._now(),
                id=execution.id,
                provider=execution.provider,
                model=execution.model,
                auth_mode=execution.auth_mode,
                fallback_applied=execution.fallback_applied,
                state=execution.state,
                error_code=execution.error.code if execution.error is not None else None,
                duration_ms=execution.duration_ms,
                route=execution.route,
                passed_over=execution.passed_over,
            )
        )

    def cancel(self, execution_id: str) -> CancelResult:
        """Cancel a running execution."""
        execution = self._running.get(execution_id)
        if execution is None and execution_id in self._finished:
            state = self._finished[execution_id]
            raise InvalidRequest(
                f"The execution {execution_id!r} has already finished ({state.value}).",
                "Nothing to cancel: its result went to its caller (and to GET /v1/executions).",
                status=409,
            )
        if execution is None:
            raise InvalidRequest(
                f"No running execution has the id {execution_id!r}.",
                "It may have finished already; its result went to its caller.",
                status=404,
            )
        cancelled = execution.cancel()
        return CancelResult(id=execution.id, state=execution.state, cancelled=cancelled)

    @property
    def running(self) -> int:
        """How many executions are in flight."""
        return len(self._running)

    async def drain(self, grace_s: float) -> None:
        """Shutdown: let running executions finish for up to `grace_s`, then end the rest with
        a terminal `cancelled` error, so every open stream is told why it ends."""
        waited = 0.0
        while self._running and waited < grace_s:
            await asyncio.sleep(0.05)
            waited += 0.05
        if self._running:
            log.info("ending open executions", extra={"count": len(self._running)})
            reason = Cancelled(
                "The daemon is shutting down.", "Send the request again once the daemon is back."
            )
            for execution in list(self._running.values()):
                execution.cancel(reason)

    def forget(self, provider: ProviderId) -> None:
        """A provider a user added was removed: its running executions end as cancelled."""
        reason = Cancelled(
            f"The provider {provider.value!r} was removed.",
            "Add it again, or send the request to another provider.",
            provider=provider,
        )
        for execution in list(self._running.values()):
            if execution.provider == provider:
                execution.cancel(reason)
        self.ports.forget(provider)
