"""The runtime: one per process, the canonical state every route reads. It holds what
`create_app` built, runs the process's background work, and answers the daemon-wide questions
(health, the snapshot); provider questions go to `control`, executions to `dispatcher`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from adapters.base import ProviderAdapter
from adapters.preload import preload
from adapters.wires import Wires
from contracts.base import AuthMode, ProviderId
from contracts.errors import ProviderError, UnexpectedError
from contracts.events import SnapshotEvent, StateEvent
from contracts.executions import ExecutionRequest
from contracts.health import HealthResponse
from service import __version__
from service.events import EventBus, Problems
from service.executions.dispatch import Dispatcher
from service.executions.execution import Execution
from service.process.config import DaemonConfig
from service.providers.added import AddedProviders
from service.providers.control import ProviderControl
from service.providers.credentials.keyring_access import KeyringAccess
from service.providers.settings_store import LiveSettings, PersistedSettings, SettingsStore
from service.providers.watcher import watch_sessions
from service.usage.meter import Meter

if TYPE_CHECKING:
    from service.process.demo import Demo

log = logging.getLogger("kata.runtime")


def utcnow() -> datetime:
    """The current time, timezone-aware."""
    return datetime.now(UTC)


def ledger_damaged(problem: str) -> ProviderError:
    """The daemon problem to publish when the ledger had to be started afresh."""
    return UnexpectedError(
        problem,
        "Usage history before now is in the kept file; the daemon goes on with a new ledger.",
        status=500,
    )


class Runtime:
    """Holds the built pieces; routes read `control`, `dispatcher`, `meter` and `bus`."""

    def __init__(
        self,
        config: DaemonConfig,
        *,
        wires: Wires,
        bus: EventBus,
        problems: Problems,
        keyring: KeyringAccess,
        settings: LiveSettings,
        settings_store: SettingsStore,
        control: ProviderControl,
        added: AddedProviders,
        dispatcher: Dispatcher,
        meter: Meter,
        adapters: Mapping[ProviderId, ProviderAdapter],
        clock: Callable[[], float],
        now: Callable[[], datetime],
        watch: bool,
        demo: Demo | None,
    ) -> None:
        self.config = config
        self.wires = wires
        self.bus = bus
        self.problems = problems
        self.control = control
        self.added = added
        self.book = control.book
        self.dispatcher = dispatcher
        self.meter = meter
        self._keyring = keyring
        self._settings = settings
        self._settings_store = settings_store
        self._adapters = adapters
        self._clock = clock
        self._now = now
        self._watch = watch
        self._demo = demo
        self._started = clock()
        self._started_at = now()
        self.warmed = asyncio.Event()
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def startup(self) -> None:
        """Load settings now; keys and sessions in the background so the ready line is not held."""
        self.config.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self._demo is not None:
            await self._demo.start()
            if not self._settings_store.path.exists():
                self._settings_store.save(PersistedSettings(providers=self._demo.settings()))
        settings, problem = await asyncio.to_thread(self._settings_store.load)
        self._settings.value = settings
        self.added.attach()
        if problem is not None:
            self.problems.report(problem)
        await self.meter.open()
        if self.meter.ledger.problem:
            self.problems.report(ledger_damaged(self.meter.ledger.problem))
        self._tasks.append(asyncio.create_task(self._load()))

    async def _load(self) -> None:
        await self.control.load(self._demo.keys() if self._demo is not None else {})
        if self._watch:
            self._tasks.append(
                asyncio.create_task(
                    watch_sessions(self.book.watched_paths, self.control.redetect, self._stop)
                )
            )
        if self.config.probe_interval_s > 0:
            self._tasks.append(
                asyncio.create_task(
                    self.control.probe_forever(self.config.probe_interval_s, self._stop)
                )
            )
        # Load what the first request needs now, off the event loop, so it never waits on it.
        modules = [name for wire in self.wires.all for name in wire.preload]
        await asyncio.to_thread(preload, [*modules, *self._sdks_in_use()])
        self.warmed.set()

    def _sdks_in_use(self) -> list[str]:
        """The SDKs a credential in use needs now: Anthropic's, for a token session whose token
        must be refreshed or exchanged (its credential providers do that); API keys and
        tokens that can be sent as they stand need none (`adapters.anthropic.bearer`)."""
        from adapters.anthropic.bearer import bearer

        status = self.book.status(ProviderId.ANTHROPIC)
        if status.resolved_mode is not AuthMode.TOKEN_SESSION:
            return []
        credential = self.book.session_credential(ProviderId.ANTHROPIC)
        return [] if bearer(credential) is not None else ["anthropic"]

    async def shutdown(self) -> None:
        """Stop background work and close every SDK client."""
        self._stop.set()
        self.control.close()
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
        await self.control.loaded.wait()

    def publish(self, event: StateEvent) -> int:
        """Publish a state event to every subscriber."""
        return self.bus.publish(event)

    def health(self) -> HealthResponse:
        """Liveness: version, pid and uptime."""
        return HealthResponse(
            version=__version__,
            pid=os.getpid(),
            started_at=self._started_at,
            uptime_s=max(0.0, self._clock() - self._started),
            demo=self.config.demo,
            warm=self.warmed.is_set(),
            problems=list(self.problems.items),
        )

    async def snapshot(self) -> SnapshotEvent:
        """The whole state, as the first event of every event stream."""
        listing = await self.control.providers()
        return SnapshotEvent(
            at=self._now(),
            daemon=self.health(),
            settings=self.book.settings.daemon,
            default_provider=listing.default_provider,
            providers=listing.providers,
            problems=list(self.problems.items),
        )

    async def prepare(self, request: ExecutionRequest, started: float | None = None) -> Execution:
        """Route a request: provider, model, credential. Raises what blocks it before any I/O.
        `started` (a perf_counter reading) is when the request reached the daemon."""
        await self.ready()
        return self.dispatcher.prepare(request, started)
