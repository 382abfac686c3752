"""The meter: one place for everything about spend — prices, the ledger, budgets and the
governor's gates. The dispatcher asks it before a request goes out; the runtime tells it when
an execution ends."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Protocol

from contracts.base import AuthMode, ProviderId
from contracts.errors import ProviderError
from contracts.executions import ExecutionState, Usage
from contracts.providers import ProviderSettings
from contracts.usage import (
    BudgetState,
    ExecutionPage,
    ExecutionRecord,
    GovernorState,
    UsageGroupBy,
    UsageReport,
)
from service.providers.settings_store import LiveSettings
from service.usage.budgets import Budgets, local_now
from service.usage.governor import Gate
from service.usage.ledger import Ledger
from service.usage.prices import PriceFiles, priced
from service.usage.window import usage_window

log = logging.getLogger("kata.usage")


class Ended(Protocol):
    """What the meter reads of an execution that ended."""

    id: str
    provider: ProviderId
    model: str
    state: ExecutionState
    error: ProviderError | None
    usage: Usage
    usage_reported: bool  # False: the provider reported no counts (the record says null)
    started_at: datetime
    ended_at: datetime | None

    @property
    def path(self) -> str | None:
        """The compatible path it came by; None for /v1/executions."""

    @property
    def route(self) -> str | None:
        """The route it took, if any."""

    @property
    def metadata(self) -> dict[str, str]: ...

    @property
    def first_token_at(self) -> datetime | None: ...

    @property
    def auth_mode(self) -> AuthMode: ...

    @property
    def fallback_applied(self) -> bool: ...


class Meter:
    """Owned by the runtime; every method runs on the event loop."""

    def __init__(
        self,
        data_dir: Path,
        settings: LiveSettings,
        price_files: PriceFiles | None = None,
        now: Callable[[], datetime] = local_now,
        ledger: bool = True,
    ) -> None:
        self._settings = settings
        self._price_files = price_files
        self._now = now
        self.ledger = Ledger(
            data_dir, lambda: settings.value.daemon.ledger_retention_days, enabled=ledger
        )
        self.budgets = Budgets(lambda p: self._provider(p).daily_budget_usd, now)
        self._watchers: list[Callable[[], object]] = []
        self.gates: dict[ProviderId, Gate] = {}

    def watch(self, on_change: Callable[[], object]) -> None:
        """Call `on_change` whenever a gate's state changes (the provider book republishes
        the status it shows)."""
        self._watchers.append(on_change)

    def _changed(self) -> None:
        for on_change in self._watchers:
            on_change()

    def _provider(self, provider: ProviderId) -> ProviderSettings:
        return self._settings.value.provider(provider)

    async def open(self) -> None:
        """Open the ledger and load today's spend into the budgets."""
        await self.ledger.open()
        now = self._now()
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        self.budgets.load(now.date(), await self.ledger.spent_since(midnight))

    async def close(self) -> None:
        """Write what is queued and close the ledger; the gates' timers stop."""
        for gate in self.gates.values():
            gate.close()
        await self.ledger.close()

    def gate(self, provider: ProviderId) -> Gate:
        """The governor's gate of `provider` (made on first use)."""
        gate = self.gates.get(provider)
        if gate is None:
            gate = self.gates[provider] = Gate(
                lambda: self._provider(provider).max_concurrent, self._changed
            )
        return gate

    def forget(self, provider: ProviderId) -> None:
        """A provider a user added was removed: its gate stops (what it admitted runs out)."""
        gate = self.gates.pop(provider, None)
        if gate is not None:
            gate.close()

    def admit(self, provider: ProviderId) -> None:
        """Raise what refuses a request before any upstream call (a spent budget)."""
        self.budgets.check(provider)

    def priced(self, model: str, usage: Usage) -> Usage:
        """`usage` with its cost."""
        return priced(usage, model, self._settings.value.daemon.prices, self._price_files)

    def settings_changed(self, provider: ProviderId) -> None:
        """A provider's settings changed: the gate admits whoever fits the new limit, the
        budget warns again at 80 % of a new amount."""
        self.gate(provider).wake()
        self.budgets.forget_warning(provider)

    def finished(self, execution: Ended) -> tuple[ExecutionRecord, ProviderError | None]:
        """Record an ended execution: its ledger row, and a budget warning when this one
        crossed 80 %."""
        metadata = execution.metadata
        error = execution.error
        outcome = execution.state
        if outcome is ExecutionState.RUNNING:  # ended without its own verdict
            outcome = ExecutionState.CANCELLED
        record = ExecutionRecord(
            id=execution.id,
            started_at=execution.started_at,
            first_token_at=execution.first_token_at,
            ended_at=execution.ended_at or datetime.now(execution.started_at.tzinfo),
            provider=execution.provider,
            model=execution.model,
            auth_mode=execution.auth_mode,
            fallback_applied=execution.fallback_applied,
            outcome=outcome,
            error_code=error.code if error is not None else None,
            usage=execution.usage if execution.usage_reported else None,
            agent=metadata.get("agent"),
            run=metadata.get("run"),
            space=metadata.get("space"),
            route=execution.route,
            path=execution.path,
        )
        self.ledger.record(record)
        return record, self.budgets.add(execution.provider, execution.usage.cost_usd)

    def state(self, provider: ProviderId) -> tuple[BudgetState, GovernorState]:
        """For the provider's status."""
        return self.budgets.state(provider), self.gate(provider).state()

    async def executions(
        self,
        limit: int,
        cursor: str | None,
        provider: ProviderId | None,
        agent: str | None,
        outcome: ExecutionState | None,
    ) -> ExecutionPage:
        """The ledger, newest first."""
        return await self.ledger.page(limit, cursor, provider, agent, outcome)

    async def usage(
        self, since: datetime | None, until: datetime | None, group_by: UsageGroupBy
    ) -> UsageReport:
        """Totals over a window (default: the last 7 days up to now)."""
        since, until = usage_window(since, until, self._now())
        totals, groups = await self.ledger.usage(since, until, group_by)
        return UsageReport(
            since=since, until=until, group_by=group_by, totals=totals, groups=groups
        )
