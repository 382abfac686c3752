"""The app factory: the one place the daemon's pieces are built and wired together
(`build_runtime` builds the state, `create_app` the HTTP edge around it)."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import Depends, FastAPI
from starlette.middleware import Middleware

from adapters.base import ProviderAdapter
from adapters.specs import SPECS
from adapters.wire import Wire
from adapters.wires import Wires
from contracts.base import ProviderId
from service import __version__
from service.events import EventBus, Problems
from service.executions.daemon_ports import DaemonPorts
from service.executions.dispatch import Dispatcher
from service.executions.ports import Deadlines
from service.executions.retry import RetryPolicy
from service.executions.route_book import RouteBook
from service.http.access import AccessPolicy
from service.http.edge.body_limits import BodyLimits
from service.http.edge.host import HostCheck
from service.http.edge.last_resort import LastResort
from service.http.edge.origin import OriginCheck
from service.http.edge.peer import PeerCheck
from service.http.edge.request_log import RequestLog
from service.http.edge.response_headers import ResponseHeaders
from service.http.edge.token import TokenCheck
from service.http.http_errors import COMMON_ERRORS, error_responses, install_error_handlers
from service.http.openapi import build_openapi
from service.http.page_sessions import PageSessions
from service.http.routes import (
    compat,
    events,
    executions,
    health,
    models,
    named_routes,
    page,
    providers,
    settings,
    usage,
)
from service.http.routes.deps import no_unknown_query
from service.process.config import DaemonConfig
from service.providers.added import AddedProviders
from service.providers.control import ProviderControl
from service.providers.credentials.keyring_access import KeyringAccess
from service.providers.credentials.keystore import KeyStore
from service.providers.endpoint_list import key_entry
from service.providers.model_list import ModelCache, models_fetcher
from service.providers.provider_book import ProviderBook
from service.providers.settings_store import LiveSettings, SettingsStore
from service.runtime import Runtime, utcnow
from service.usage.meter import Meter

if TYPE_CHECKING:
    from service.process.demo import Demo

DESCRIPTION = (
    "Kata Providers: the localhost daemon through which the Kata Cloud desktop shell reaches "
    "Anthropic and OpenAI models. Every route needs `Authorization: Bearer <token>`."
)


def build_runtime(
    config: DaemonConfig,
    *,
    keyring: KeyringAccess | None = None,
    env: Mapping[str, str] | None = None,
    home: Path | None = None,
    adapters: Mapping[ProviderId, ProviderAdapter] | None = None,
    clock: Callable[[], float] = time.monotonic,
    now: Callable[[], datetime] = utcnow,
    watch: bool = True,
    policy: RetryPolicy | None = None,
    demo: Demo | None = None,
    wires: Iterable[Wire] = (),
) -> Runtime:
    """Build the daemon's state for `config`. Tests pass a keyring, an environment, a home
    folder, fake clocks, adapters for one provider or both (the rest get the real ones), or
    wires to speak besides the built-in ones."""
    env = dict(os.environ if env is None else env)
    keyring = keyring or KeyringAccess()
    registry = Wires(wires)
    built = {
        spec.id: registry.built_in_adapter(spec, env)
        for spec in SPECS.values()
        if spec.id not in (adapters or {})
    }
    built.update(adapters or {})
    bus = EventBus(config.event_buffer, config.subscriber_queue)
    problems = Problems(bus, now)
    settings = LiveSettings()
    meter = Meter(config.data_dir, settings, registry.price_files, ledger=config.ledger)
    book = ProviderBook(
        KeyStore(
            config.data_dir,
            keyring,
            env,
            entry=lambda provider: key_entry(provider, settings.value.endpoints.get(provider)),
        ),
        settings,
        registry,
        bus.publish,
        env,
        home or Path(env.get("HOME") or Path.home()),
        now,
        lambda provider: built[provider].capabilities.contract(),
        meter.state,
        demo=config.demo,
    )
    meter.watch(book.refresh)  # a gate's state is part of the status the book publishes
    settings_store = SettingsStore(config.data_dir, registry.format_ids)
    models = ModelCache(config.data_dir, models_fetcher(book, built), now, report=problems.report)
    control = ProviderControl(
        book, built, meter, models, settings_store, keyring, bus, problems, clock, now
    )
    deadlines = Deadlines(
        config.request_timeout_s,
        config.first_token_timeout_s,
        config.idle_timeout_s,
        config.queue_wait_s,
        config.whole_max_tokens,
    )
    dispatcher = Dispatcher(
        book,
        built,
        policy or RetryPolicy(max_retries=config.max_retries),
        deadlines,
        meter,
        bus,
        now,
        DaemonPorts(book, meter, built),
        RouteBook(settings, lambda: book.providers, control.save, bus.publish, now),
        models.model,
    )
    added = AddedProviders(
        book,
        built,
        meter,
        models,
        control.save,
        bus.publish,
        dispatcher.forget,
        now,
        config.request_timeout_s,
    )
    return Runtime(
        config,
        wires=registry,
        added=added,
        bus=bus,
        problems=problems,
        keyring=keyring,
        settings=settings,
        settings_store=settings_store,
        control=control,
        dispatcher=dispatcher,
        meter=meter,
        adapters=built,
        clock=clock,
        now=now,
        watch=watch,
        demo=demo,
    )


def create_app(config: DaemonConfig, runtime: Runtime | None = None) -> FastAPI:
    """Build the app for `config`; pass `runtime` to swap in a prepared one (tests do)."""
    runtime = runtime or build_runtime(config)
    policy = AccessPolicy.from_config(config)
    sessions = PageSessions(config.token)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await runtime.startup()
        try:
            yield
        finally:
            await runtime.shutdown()

    # The edge, outermost first: the request's id and log line; the headers every answer
    # carries (refusals too); then the checks in the order they refuse: the peer (403), the
    # Host (421), the Origin (403; a preflight is answered here, before the token), the token
    # (401), the body's type and size (415, 413); innermost, the last resort for anything a
    # route raises.
    edge = [
        Middleware(RequestLog),
        Middleware(ResponseHeaders, policy=policy),
        Middleware(PeerCheck, loopback_only=policy.loopback_only),
        Middleware(HostCheck, hosts=policy.hosts),
        Middleware(OriginCheck, origins=policy.origins),
        Middleware(TokenCheck, policy=policy, sessions=sessions),
        Middleware(BodyLimits, max_body=policy.max_body),
        Middleware(LastResort),
    ]
    app = FastAPI(
        title="Kata Providers",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        middleware=edge,
        responses=error_responses(*COMMON_ERRORS),
        generate_unique_id_function=lambda route: route.name,
        docs_url=None,  # served from the package by routes/page.py, never from a CDN
        redoc_url=None,
        # No OpenTelemetry bridge: a local daemon exports nothing, and asking whether a provider
        # is configured cost environment lookups on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.runtime = runtime
    app.state.policy = policy
    app.state.page_sessions = sessions
    app.openapi = lambda: build_openapi(app)  # type: ignore[method-assign]
    install_error_handlers(app)
    strict_query = [Depends(no_unknown_query)]
    for router in (
        health.router,
        providers.router,
        settings.router,
        models.router,
        executions.router,
        named_routes.router,
        usage.router,
        events.router,
    ):
        app.include_router(router, dependencies=strict_query)
    app.include_router(page.router)
    app.router.routes[:0] = executions.DIRECT_ROUTES
    app.router.routes.extend(compat.routes())
    return app
