"""The app factory: the one place the daemon's pieces are built and wired together."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from service import __version__
from service.http.access import AccessPolicy
from service.http.http_errors import COMMON_ERRORS, error_responses, install_error_handlers
from service.http.last_resort import LastResort
from service.http.openapi import build_openapi
from service.http.page_sessions import PageSessions
from service.http.routes import events, executions, health, models, page, providers, settings, usage
from service.http.routes.deps import no_unknown_query
from service.http.security import SecurityMiddleware
from service.process.config import DaemonConfig
from service.runtime import Runtime

DESCRIPTION = (
    "Kata Providers: the localhost daemon through which the Kata Cloud desktop shell reaches "
    "Anthropic and OpenAI models. Every route needs `Authorization: Bearer <token>`."
)


def create_app(config: DaemonConfig, runtime: Runtime | None = None) -> FastAPI:
    """Build the app for `config`; pass `runtime` to swap in a prepared one (tests do)."""
    runtime = runtime or Runtime(config)
    policy = AccessPolicy.from_config(config)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await runtime.startup()
        try:
            yield
        finally:
            await runtime.shutdown()

    app = FastAPI(
        title="Kata Providers",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
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
    app.state.page_sessions = sessions = PageSessions(config.token)
    app.openapi = lambda: build_openapi(app)  # type: ignore[method-assign]
    install_error_handlers(app)
    strict_query = [Depends(no_unknown_query)]
    for router in (
        health.router,
        providers.router,
        settings.router,
        models.router,
        executions.router,
        usage.router,
        events.router,
    ):
        app.include_router(router, dependencies=strict_query)
    app.include_router(page.router)
    app.router.routes[:0] = executions.DIRECT_ROUTES
    app.add_middleware(LastResort)
    # Added last: the outermost.
    app.add_middleware(SecurityMiddleware, policy=policy, sessions=sessions)
    return app
