"""The runtime: one per process, the canonical state every route reads and changes."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import UTC, datetime

from contracts.base import ProviderId
from contracts.errors import ErrorCode, ProviderError
from contracts.events import SnapshotEvent, StateEvent
from contracts.executions import ExecutionRequest, ExecutionResult
from contracts.health import HealthResponse
from contracts.providers import (
    ApiKeyState,
    ApiKeyStateName,
    ProviderHealth,
    ProviderList,
    ProviderSettings,
    ProviderStatus,
    TokenSessionState,
    TokenSessionStateName,
)
from service import __version__
from service.config import DaemonConfig
from service.events import EventBus

DISPLAY_NAMES = {ProviderId.ANTHROPIC: "Anthropic", ProviderId.OPENAI: "OpenAI"}
KEY_ENV = {ProviderId.ANTHROPIC: "ANTHROPIC_API_KEY", ProviderId.OPENAI: "OPENAI_API_KEY"}


def utcnow() -> datetime:
    """The current time, timezone-aware."""
    return datetime.now(UTC)


def missing_auth(provider: ProviderId) -> ProviderError:
    """The error for a provider with no usable credential, with what to do about it."""
    return ProviderError(
        ErrorCode.MISSING_AUTH,
        f"No credential is configured for {DISPLAY_NAMES[provider]}.",
        f"Add an API key on the settings page or with PUT /v1/providers/{provider.value}/api-key, "
        f"or set {KEY_ENV[provider]} before starting the daemon.",
        provider=provider,
    )


class Runtime:
    """Holds provider state and the event bus; routes call its methods and nothing else."""

    def __init__(
        self,
        config: DaemonConfig,
        bus: EventBus | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.bus = bus or EventBus(config.event_buffer, config.subscriber_queue)
        self._clock = clock
        self._started = clock()
        self._started_at = utcnow()
        self._settings = {provider: ProviderSettings() for provider in ProviderId}
        self._health = {provider: ProviderHealth() for provider in ProviderId}

    async def startup(self) -> None:
        """Bring the runtime up; called from the app's lifespan."""
        self.config.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)

    async def shutdown(self) -> None:
        """Release everything the runtime holds."""

    def health(self) -> HealthResponse:
        """Liveness: version, pid and uptime."""
        return HealthResponse(
            version=__version__,
            pid=os.getpid(),
            started_at=self._started_at,
            uptime_s=max(0.0, self._clock() - self._started),
            demo=self.config.demo,
        )

    def provider(self, provider: ProviderId) -> ProviderStatus:
        """The current status of one provider."""
        settings = self._settings[provider]
        error = missing_auth(provider)
        return ProviderStatus(
            id=provider,
            display_name=DISPLAY_NAMES[provider],
            demo=self.config.demo,
            requested_mode=settings.preferred_auth_mode,
            resolved_mode=None,
            fallback_applied=False,
            usable=False,
            api_key=ApiKeyState(state=ApiKeyStateName.MISSING, remediation=error.remediation),
            token_session=TokenSessionState(state=TokenSessionStateName.MISSING),
            health=self._health[provider],
            settings=settings,
            last_error=error.body(),
            updated_at=self._started_at,
        )

    def providers(self) -> ProviderList:
        """Every provider's status."""
        return ProviderList(
            default_provider=self.default_provider(),
            providers=[self.provider(provider) for provider in ProviderId],
        )

    def default_provider(self) -> ProviderId | None:
        """The provider used when a request names none: the first that is usable."""
        for provider in ProviderId:
            if self.provider(provider).usable:
                return provider
        return None

    async def execute(self, request: ExecutionRequest) -> ExecutionResult:
        """Run one request on the provider it names, or the default provider."""
        provider = request.provider or self.default_provider()
        if provider is None:
            raise ProviderError(
                ErrorCode.MISSING_AUTH,
                "No provider has a usable credential.",
                "Add an API key for Anthropic or OpenAI on the settings page, or sign in with "
                "the provider's CLI.",
            )
        raise missing_auth(provider)

    def snapshot(self) -> SnapshotEvent:
        """The whole state, as the first event of every event stream."""
        listing = self.providers()
        return SnapshotEvent(
            at=utcnow(),
            daemon=self.health(),
            default_provider=listing.default_provider,
            providers=listing.providers,
        )

    def publish(self, event: StateEvent) -> int:
        """Publish a state event to every subscriber."""
        return self.bus.publish(event)
