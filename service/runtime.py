"""The runtime: one per process, the canonical state every route reads and changes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel

from adapters.base import Credential, ProviderAdapter
from adapters.preload import preload
from adapters.specs import SPECS
from contracts.base import AuthMode, ProviderId
from contracts.error_body import ErrorBody
from contracts.errors import Cancelled, ProviderError, UnexpectedError
from contracts.events import (
    DaemonErrorEvent,
    ExecutionFinishedEvent,
    ModelsUpdatedEvent,
    ProviderErrorEvent,
    SettingsEvent,
    SnapshotEvent,
    StateEvent,
    UsageEvent,
)
from contracts.executions import CancelResult, ExecutionRequest
from contracts.health import HealthResponse
from contracts.models import ModelInfo, ModelList
from contracts.providers import (
    ApiKeyPut,
    ProviderList,
    ProviderSettings,
    ProviderSettingsUpdate,
    ProviderStatus,
)
from contracts.settings import DaemonSettings, DaemonSettingsUpdate
from service import __version__
from service.events import EventBus
from service.executions.dispatch import Dispatcher
from service.executions.execution import Execution
from service.executions.ports import Deadlines
from service.executions.retry import RetryPolicy
from service.process.config import DaemonConfig
from service.providers.credentials.keyring_access import KeyringAccess, KeyringUnavailable
from service.providers.credentials.keystore import KeyStore, check_key_shape
from service.providers.model_list import ModelCache
from service.providers.provider_book import ProviderBook
from service.providers.settings_store import PersistedSettings, SettingsStore
from service.providers.watcher import watch_sessions
from service.usage.meter import Meter

if TYPE_CHECKING:
    from service.process.demo import Demo

log = logging.getLogger("kata.runtime")

EXPIRING_LEAD_S = 120.0


def utcnow() -> datetime:
    """The current time, timezone-aware."""
    return datetime.now(UTC)


def default_adapters(env: Mapping[str, str]) -> dict[ProviderId, ProviderAdapter]:
    """The real adapters, pointed at the SDKs' own base-URL variables."""
    from adapters.anthropic.adapter import AnthropicAdapter
    from adapters.openai.adapter import OpenAIAdapter
    from adapters.openai.codex import CODEX_BASE_URL

    return {
        ProviderId.ANTHROPIC: AnthropicAdapter(env.get(SPECS[ProviderId.ANTHROPIC].base_url_env)),
        ProviderId.OPENAI: OpenAIAdapter(
            env.get(SPECS[ProviderId.OPENAI].base_url_env),
            wire_api=env.get("KATA_PROVIDERS_OPENAI_WIRE_API", "responses"),
            codex_base_url=env.get("KATA_PROVIDERS_CODEX_BASE_URL", CODEX_BASE_URL),
        ),
    }


def ledger_damaged(problem: str) -> ProviderError:
    """The daemon problem to publish when the ledger had to be started afresh."""
    return UnexpectedError(
        problem,
        "Usage history before now is in the kept file; the daemon goes on with a new ledger.",
        status=500,
    )


def _changes(update: BaseModel, clearable: set[str]) -> dict[str, object]:
    """The fields a partial update sets. `null` clears a clearable field and leaves any other
    unchanged (a mode or a flag has no 'unset')."""
    return {
        name: value
        for name, value in update.model_dump(include=update.model_fields_set).items()
        if value is not None or name in clearable
    }


class Runtime:
    """Holds provider state, adapters and the event bus; routes call its methods only."""

    def __init__(
        self,
        config: DaemonConfig,
        *,
        bus: EventBus | None = None,
        keyring: KeyringAccess | None = None,
        env: Mapping[str, str] | None = None,
        home: Path | None = None,
        adapters: Mapping[ProviderId, ProviderAdapter] | None = None,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = utcnow,
        watch: bool = True,
        policy: RetryPolicy | None = None,
        demo: Demo | None = None,
    ) -> None:
        self.config = config
        self._demo = demo
        self.bus = bus or EventBus(config.event_buffer, config.subscriber_queue)
        self._env = dict(os.environ if env is None else env)
        self._keyring = keyring or KeyringAccess()
        # Any provider not given an adapter (tests give one or two) gets the real one.
        self._adapters = {**default_adapters(self._env), **(adapters or {})}
        self._clock = clock
        self._now = now
        self._watch = watch
        self._started = clock()
        self._started_at = now()
        self._settings_store = SettingsStore(config.data_dir)
        self.meter = Meter(
            config.data_dir,
            lambda provider: self.book.settings.provider(provider),
            lambda: self.book.settings.daemon.prices,
            lambda: self.book.settings.daemon.ledger_retention_days,
            lambda: self.book.refresh(),
            ledger=config.ledger,
        )
        self.book = ProviderBook(
            KeyStore(config.data_dir, self._keyring, self._env),
            PersistedSettings(),
            self.publish,
            self._env,
            home or Path(self._env.get("HOME") or Path.home()),
            now,
            {
                provider: adapter.capabilities.contract()
                for provider, adapter in self._adapters.items()
            },
            self.meter.state,
            demo=config.demo,
        )
        self._model_list = ModelCache(
            config.data_dir, self._fetch_models, now, report=self._problem
        )
        self.dispatcher = Dispatcher(
            self.book,
            self._adapters,
            policy or RetryPolicy(max_retries=config.max_retries),
            Deadlines(
                config.request_timeout_s, config.first_token_timeout_s, config.idle_timeout_s
            ),
            self.meter,
        )
        self._problems: list[ErrorBody] = []
        self._save_lock = asyncio.Lock()
        self.warmed = asyncio.Event()
        self._ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._timers: list[asyncio.TimerHandle] = []

    async def startup(self) -> None:
        """Load settings now; keys and sessions in the background so the ready line is not held."""
        self.config.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self._demo is not None:
            await self._demo.start()
            if not self._settings_store.path.exists():
                self._settings_store.save(PersistedSettings(providers=self._demo.settings()))
        settings, problem = await asyncio.to_thread(self._settings_store.load)
        self.book.settings = settings
        if problem is not None:
            self._problem(problem)
        await self.meter.open()
        if self.meter.ledger.problem:
            self._problem(ledger_damaged(self.meter.ledger.problem))
        self._tasks.append(asyncio.create_task(self._load()))

    async def _load(self) -> None:
        try:
            await self.book.keys.load()
            if self.book.keys.damage is not None:
                self._problem(self.book.keys.damage)
                self.book.keys.damage = None
            if self._demo is not None:
                for provider, key in self._demo.keys().items():
                    await self.book.keys.put(provider, key)
            if self.book.keys.keyring_problem:
                log.info(
                    "keys are kept in a file", extra={"reason": self.book.keys.keyring_problem}
                )
            await self.book.detect_sessions(self._read_keyring)
            self.book.refresh()
            self._schedule_expiry()
        finally:
            self._ready.set()
        if self._watch:
            self._tasks.append(
                asyncio.create_task(
                    watch_sessions(self.book.watched_paths, self.redetect, self._stop)
                )
            )
        if self.config.probe_interval_s > 0:
            self._tasks.append(asyncio.create_task(self._probe_forever()))
        # Load what the first request needs now, off the event loop, so it never waits on it.
        await asyncio.to_thread(preload, self._sdks_in_use())
        self.warmed.set()

    def _sdks_in_use(self) -> list[str]:
        """The SDKs a credential in use needs now: Anthropic's, for its token sessions (its
        credential providers read profiles and refresh tokens); API keys need none."""
        status = self.book.status(ProviderId.ANTHROPIC)
        return ["anthropic"] if status.resolved_mode is AuthMode.TOKEN_SESSION else []

    async def _probe_forever(self) -> None:
        """Optional periodic health probe: a models call per usable provider, never a paid
        completion."""
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.config.probe_interval_s)
                return
            for provider in ProviderId:
                if self.book.status(provider).usable:
                    await self._probe(provider)

    async def shutdown(self) -> None:
        """Stop background work and close every SDK client."""
        self._stop.set()
        for timer in self._timers:
            timer.cancel()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for adapter in self._adapters.values():
            await adapter.aclose()
        await self.meter.close()
        if self._demo is not None:
            await self._demo.stop()
        self._keyring.close()

    async def ready(self) -> None:
        """Wait until keys and sessions have been read once (bounded by the keyring timeout)."""
        await self._ready.wait()

    def publish(self, event: StateEvent) -> int:
        """Publish a state event to every subscriber."""
        return self.bus.publish(event)

    def _problem(self, error: ProviderError) -> None:
        self._problems.append(error.body())
        self.publish(DaemonErrorEvent(at=self._now(), error=error.body()))

    async def _read_keyring(self, service: str, user: str) -> str | None:
        try:
            return await self._keyring.read_foreign(service, user)
        except KeyringUnavailable:
            return None

    def health(self) -> HealthResponse:
        """Liveness: version, pid and uptime."""
        return HealthResponse(
            version=__version__,
            pid=os.getpid(),
            started_at=self._started_at,
            uptime_s=max(0.0, self._clock() - self._started),
            demo=self.config.demo,
            warm=self.warmed.is_set(),
            problems=list(self._problems),
        )

    async def provider(self, provider: ProviderId) -> ProviderStatus:
        """The current status of one provider."""
        await self.ready()
        return self.book.live(provider)

    async def providers(self) -> ProviderList:
        """Every provider's status."""
        await self.ready()
        return ProviderList(
            default_provider=self.book.default_provider(),
            providers=[self.book.live(provider) for provider in ProviderId],
        )

    async def snapshot(self) -> SnapshotEvent:
        """The whole state, as the first event of every event stream."""
        listing = await self.providers()
        return SnapshotEvent(
            at=self._now(),
            daemon=self.health(),
            settings=self.book.settings.daemon,
            default_provider=listing.default_provider,
            providers=listing.providers,
            problems=list(self._problems),
        )

    async def update_provider_settings(
        self, provider: ProviderId, update: ProviderSettingsUpdate
    ) -> ProviderStatus:
        """Change a provider's settings, persist them, and publish the new status."""
        await self.ready()
        current = self.book.settings.provider(provider)
        changes = _changes(update, clearable={"default_model", "daily_budget_usd"})
        self.book.replace_settings(
            provider, ProviderSettings.model_validate({**current.model_dump(), **changes})
        )
        self.meter.settings_changed(provider)
        await self._save()
        self.book.refresh()
        return self.book.live(provider)

    def daemon_settings(self) -> DaemonSettings:
        """The daemon-wide settings."""
        return self.book.settings.daemon

    async def update_daemon_settings(self, update: DaemonSettingsUpdate) -> DaemonSettings:
        """Change the daemon-wide settings, persist them, and re-detect what they affect."""
        await self.ready()
        changes = _changes(update, clearable={"default_provider"})
        if "prices" in changes:
            # Merged model by model; a model set to null loses the user's price.
            prices = {**self.book.settings.daemon.prices, **(update.prices or {})}
            changes["prices"] = {model: p for model, p in prices.items() if p is not None}
        self.book.settings.daemon = DaemonSettings.model_validate(
            {**self.book.settings.daemon.model_dump(), **changes}
        )
        await self._save()
        self.publish(SettingsEvent(at=self._now(), settings=self.book.settings.daemon))
        await self.redetect()
        return self.book.settings.daemon

    async def put_api_key(self, provider: ProviderId, body: ApiKeyPut) -> ProviderStatus:
        """Store an API key (after probing the provider with it when asked to)."""
        await self.ready()
        value = body.api_key.get_secret_value()
        check_key_shape(provider, value)
        if body.verify:
            await self._adapters[provider].list_models(Credential(AuthMode.API_KEY, api_key=value))
        await self.book.keys.put(provider, value)
        self.book.forget_key_verdict(provider)
        self.book.refresh()
        return self.book.live(provider)

    async def delete_api_key(self, provider: ProviderId) -> ProviderStatus:
        """Forget the stored API key wherever it is kept."""
        await self.ready()
        await self.book.keys.delete(provider)
        self.book.forget_key_verdict(provider)
        self.book.refresh()
        return self.book.live(provider)

    async def check(self, provider: ProviderId) -> ProviderStatus:
        """Re-read keys and sessions, then probe the provider with a models call."""
        await self.ready()
        await self.book.keys.load()
        await self.redetect()
        await self._probe(provider)
        return self.book.live(provider)

    async def _probe(self, provider: ProviderId) -> None:
        """A models call with the credential in force (or the key a rejection blocks); what it
        says is evidence about the key as well as the provider's health."""
        credential = self.book.probe_credential(provider)
        if credential is None:
            return
        started = self._clock()
        failure: ProviderError | None = None
        try:
            await self._adapters[provider].list_models(credential)
        except ProviderError as error:
            failure = error
        self.book.record_check(provider, self._clock() - started, failure)
        self.book.key_evidence(provider, credential, failure)
        self.book.refresh()

    async def redetect(self) -> None:
        """Re-read every session source and publish what changed."""
        await self.book.detect_sessions(self._read_keyring)
        self.book.refresh()
        self._schedule_expiry()

    def _schedule_expiry(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers = []
        loop = asyncio.get_running_loop()
        now = self._now()
        for provider in ProviderId:
            expires_at = self.book.session(provider).expires_at
            if expires_at is None:
                continue
            for lead in (EXPIRING_LEAD_S, 0.0):
                delay = (expires_at - now).total_seconds() - lead
                if delay > 0:
                    self._timers.append(
                        loop.call_later(
                            delay + 0.05, lambda: asyncio.ensure_future(self.redetect())
                        )
                    )

    async def _save(self) -> None:
        # Off the event loop, one save at a time so they land in the order they were made.
        snapshot = self.book.settings.model_copy(deep=True)
        async with self._save_lock:
            await asyncio.to_thread(self._settings_store.save, snapshot)

    async def prepare(self, request: ExecutionRequest, started: float | None = None) -> Execution:
        """Route a request: provider, model, credential. Raises what blocks it before any I/O.
        `started` (a perf_counter reading) is when the request reached the daemon."""
        await self.ready()
        return self.dispatcher.prepare(request, started)

    def finished(self, execution: Execution) -> None:
        """Forget a finished execution, record it in the ledger and tell activity views it
        ended (with what it used)."""
        self.dispatcher.finished(execution)
        record, warning = self.meter.finished(execution)
        budget = self.meter.budgets.state(execution.provider)
        self.publish(UsageEvent(at=self._now(), execution=record, budget=budget))
        if warning is not None:
            log.warning("budget mostly spent", extra={"provider": execution.provider.value})
            self.publish(
                ProviderErrorEvent(
                    at=self._now(), provider=execution.provider, error=warning.body()
                )
            )
        self.publish(
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
            )
        )

    async def drain(self, grace_s: float) -> None:
        """Shutdown: let running executions finish for up to `grace_s`, then end the rest with
        a terminal `cancelled` error, so every open stream is told why it ends."""
        waited = 0.0
        while self.dispatcher.running and waited < grace_s:
            await asyncio.sleep(0.05)
            waited += 0.05
        if self.dispatcher.running:
            log.info("ending open executions", extra={"count": self.dispatcher.running})
            self.dispatcher.stop_all(
                Cancelled(
                    "The daemon is shutting down.",
                    "Send the request again once the daemon is back.",
                )
            )

    def cancel(self, execution_id: str) -> CancelResult:
        """Cancel a running execution."""
        return self.dispatcher.cancel(execution_id)

    async def models(self, provider: ProviderId | None, refresh: bool) -> ModelList:
        """Models of one provider or both, with provenance."""
        await self.ready()
        chosen = [provider] if provider else list(ProviderId)
        answers = [await self._model_list.get(p, refresh) for p in chosen]
        for answer, live in answers:
            if live:
                self.publish(
                    ModelsUpdatedEvent(
                        at=self._now(),
                        provider=answer.provider,
                        provenance=answer.provenance,
                        count=len(answer.models),
                    )
                )
        return ModelList(providers=[answer for answer, _ in answers])

    async def _fetch_models(self, provider: ProviderId) -> tuple[list[ModelInfo], AuthMode]:
        credential, _ = self.book.credential(provider)
        models = await self._adapters[provider].list_models(credential)
        return models, credential.mode
