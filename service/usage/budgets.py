"""Daily budgets per provider: today's spend (the user's local day), a warning at 80 %, and a
refusal before any upstream call once the budget is spent."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta

from adapters.specs import name_of
from contracts.base import ProviderId
from contracts.errors import BudgetExceeded, ProviderError
from contracts.usage import BudgetState

WARN_AT = 0.8


def local_now() -> datetime:
    """Now, in the machine's local time zone (the user's day)."""
    return datetime.now().astimezone()


def next_midnight(now: datetime) -> datetime:
    """The next local midnight after `now` (aware)."""
    tomorrow = datetime.combine(now.date() + timedelta(days=1), time(0), now.tzinfo)
    return tomorrow.astimezone()


class Budgets:
    """Today's spend per provider, kept in memory (the ledger is loaded into it at start)."""

    def __init__(
        self,
        budget: Callable[[ProviderId], float | None],
        now: Callable[[], datetime] = local_now,
    ) -> None:
        self._budget = budget
        self._now = now
        self._day = now().date()
        self._spent: dict[ProviderId, float] = {}
        self._warned: set[ProviderId] = set()

    def load(self, day: date, spent: dict[ProviderId, float]) -> None:
        """Today's spend as the ledger has it (at start)."""
        self._day = day
        self._spent = dict(spent)

    def check(self, provider: ProviderId) -> None:
        """Raise `budget_exceeded` when the provider's budget for today is spent."""
        budget = self._budget(provider)
        if budget is None:
            return
        spent = self.spent(provider)
        if spent >= budget:
            resets = next_midnight(self._now())
            name = name_of(provider)
            raise BudgetExceeded(
                f"Today's {name} budget of ${budget:.2f} is spent (${spent:.2f}).",
                f"It resets at local midnight ({resets.strftime('%Y-%m-%d %H:%M %Z')}); raise "
                f"daily_budget_usd in {name}'s settings to go on now.",
                provider=provider,
                retryable=False,
                retry_after_s=round((resets - self._now()).total_seconds(), 3),
            )

    def add(self, provider: ProviderId, cost_usd: float | None) -> ProviderError | None:
        """Count an execution's cost; the warning to publish when this crossed 80 %."""
        self._roll()
        if cost_usd:
            self._spent[provider] = self._spent.get(provider, 0.0) + cost_usd
        budget = self._budget(provider)
        if budget is None or provider in self._warned or self.spent(provider) < WARN_AT * budget:
            return None
        self._warned.add(provider)
        spent = self.spent(provider)
        name = name_of(provider)
        share = f" ({100 * spent / budget:.0f} %)" if budget else ""
        return BudgetExceeded(
            f"{name} has used ${spent:.2f} of today's ${budget:.2f} budget{share}.",
            f"Executions are refused once it is spent; raise daily_budget_usd in {name}'s "
            "settings if this day needs more.",
            provider=provider,
            retryable=True,
        )

    def forget_warning(self, provider: ProviderId) -> None:
        """The budget changed: warn again when the new one is 80 % used."""
        self._warned.discard(provider)

    def spent(self, provider: ProviderId) -> float:
        """Today's spend so far."""
        self._roll()
        return self._spent.get(provider, 0.0)

    def state(self, provider: ProviderId) -> BudgetState:
        """For the provider's status."""
        budget = self._budget(provider)
        spent = self.spent(provider)
        return BudgetState(
            daily_budget_usd=budget,
            spent_today_usd=round(spent, 6),
            day=self._day,
            resets_at=next_midnight(self._now()),
            exceeded=budget is not None and spent >= budget,
        )

    def _roll(self) -> None:
        today = self._now().date()
        if today != self._day:
            self._day = today
            self._spent = {}
            self._warned.clear()
