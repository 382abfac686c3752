"""State events pushed to the shell on `GET /v1/events`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from contracts.base import AuthMode, ProviderId, Response
from contracts.error_body import ErrorBody, ErrorCode
from contracts.executions import ExecutionState
from contracts.health import HealthResponse
from contracts.models import Provenance
from contracts.providers import ProviderStatus
from contracts.routes import PassedOver, Route
from contracts.settings import DaemonSettings
from contracts.usage import BudgetState, ExecutionRecord


class SnapshotEvent(Response):
    """The whole current state; always the first event of a stream, and sent again on resync."""

    type: Literal["snapshot"] = "snapshot"
    at: datetime
    daemon: HealthResponse
    settings: DaemonSettings
    default_provider: ProviderId | None
    providers: list[ProviderStatus]
    problems: list[ErrorBody] = Field(
        default_factory=list, description="The daemon's own problems since it started."
    )


class ProviderStatusEvent(Response):
    """A provider's status changed (auth, health, settings); carries the whole new status."""

    type: Literal["provider_status"] = "provider_status"
    at: datetime
    provider: ProviderStatus


class ProviderAddedEvent(Response):
    """A user added a provider (`POST /v1/providers`); carries its whole status."""

    type: Literal["provider_added"] = "provider_added"
    at: datetime
    provider: ProviderStatus


class ProviderRemovedEvent(Response):
    """A user removed a provider they had added; it is gone from every list from now on."""

    type: Literal["provider_removed"] = "provider_removed"
    at: datetime
    provider: ProviderId


class ProviderErrorEvent(Response):
    """A non-fatal problem with a provider, e.g. a session that degraded to the API key."""

    type: Literal["provider_error"] = "provider_error"
    at: datetime
    provider: ProviderId
    error: ErrorBody


class DaemonErrorEvent(Response):
    """A problem of the daemon's own, e.g. a corrupt settings file that was set aside."""

    type: Literal["daemon_error"] = "daemon_error"
    at: datetime
    error: ErrorBody


class SettingsEvent(Response):
    """The daemon-wide settings changed."""

    type: Literal["settings"] = "settings"
    at: datetime
    settings: DaemonSettings


class ModelsUpdatedEvent(Response):
    """A provider's model list was refreshed."""

    type: Literal["models_updated"] = "models_updated"
    at: datetime
    provider: ProviderId
    provenance: Provenance
    count: int


class ExecutionFinishedEvent(Response):
    """An execution ended (for activity views; never any prompt or answer text)."""

    type: Literal["execution_finished"] = "execution_finished"
    at: datetime
    id: str
    provider: ProviderId
    model: str
    auth_mode: AuthMode
    fallback_applied: bool
    state: ExecutionState
    error_code: ErrorCode | None = None
    duration_ms: float
    route: str | None = Field(default=None, description="The route it took, if any.")
    passed_over: list[PassedOver] = Field(
        default_factory=list, description="The route's targets passed over, and why."
    )


class RoutesEvent(Response):
    """The routes changed (one was stored, replaced or removed): all of them, as they are now."""

    type: Literal["routes"] = "routes"
    at: datetime
    routes: list[Route]


class UsageEvent(Response):
    """An execution ended: its ledger row (tokens, cost, outcome, tags; never any text) and
    its provider's budget for today after it."""

    type: Literal["usage"] = "usage"
    at: datetime
    execution: ExecutionRecord
    budget: BudgetState


StateEvent = Annotated[
    SnapshotEvent
    | ProviderStatusEvent
    | ProviderAddedEvent
    | ProviderRemovedEvent
    | ProviderErrorEvent
    | DaemonErrorEvent
    | SettingsEvent
    | ModelsUpdatedEvent
    | ExecutionFinishedEvent
    | RoutesEvent
    | UsageEvent,
    Field(discriminator="type"),
]
