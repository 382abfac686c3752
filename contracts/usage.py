"""Prices, the ledger of finished executions, usage totals, budgets and the wave governor."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import Field

from contracts.base import AuthMode, JsonFloat, ProviderId, Request, Response
from contracts.error_body import ErrorCode
from contracts.executions import ExecutionState, Usage


class Price(Request):
    """A model's price in USD per million tokens (a setting; overrides the shipped table)."""

    input_usd_per_mtok: JsonFloat = Field(ge=0, le=100_000)
    output_usd_per_mtok: JsonFloat = Field(ge=0, le=100_000)
    cache_read_usd_per_mtok: JsonFloat | None = Field(
        default=None, ge=0, le=100_000, description="Default: the input price."
    )
    cache_write_usd_per_mtok: JsonFloat | None = Field(
        default=None, ge=0, le=100_000, description="Default: the input price."
    )


class ExecutionRecord(Response):
    """One finished execution as the ledger keeps it: never any prompt or answer text."""

    id: str
    started_at: datetime
    first_token_at: datetime | None = None
    ended_at: datetime
    provider: ProviderId
    model: str
    auth_mode: AuthMode
    fallback_applied: bool
    outcome: ExecutionState
    error_code: ErrorCode | None = None
    usage: Usage | None = Field(
        description="null: the provider reported no token counts (absent, not zero; unpriced)."
    )
    agent: str | None = Field(default=None, description="From the request's metadata.agent.")
    run: str | None = Field(default=None, description="From the request's metadata.run.")
    space: str | None = Field(default=None, description="From the request's metadata.space.")
    route: str | None = Field(default=None, description="The route it took, if any.")
    path: str | None = Field(
        default=None,
        description="The compatible path it came by (e.g. `/anthropic/v1/messages`); "
        "null for `/v1/executions`.",
    )


class ExecutionPage(Response):
    """Finished executions, newest first; pass `next_cursor` as `cursor` for the next page."""

    executions: list[ExecutionRecord]
    next_cursor: str | None = None


class UsageGroupBy(StrEnum):
    """How `GET /v1/usage` groups its totals."""

    PROVIDER = "provider"
    MODEL = "model"
    AGENT = "agent"
    DAY = "day"
    ROUTE = "route"


class UsageTotals(Response):
    """Tokens, cost and counts of a set of executions."""

    executions: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0
    input_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    total_tokens: int = 0
    cost_usd: float = Field(default=0.0, description="The sum over executions with a price.")
    unpriced: int = Field(default=0, description="Executions whose model had no price.")


class UsageGroup(UsageTotals):
    """The totals of one group (`key`: a provider, model, agent tag or local day)."""

    key: str | None = Field(description="null: executions without that tag.")


class UsageReport(Response):
    """Totals over `[since, until)` and per group."""

    since: datetime
    until: datetime
    group_by: UsageGroupBy
    totals: UsageTotals
    groups: list[UsageGroup]


class BudgetState(Response):
    """A provider's daily budget and today's spend (the user's local day)."""

    daily_budget_usd: float | None = None
    spent_today_usd: float = 0.0
    day: date
    resets_at: datetime = Field(description="The next local midnight.")
    exceeded: bool = False


class GovernorState(Response):
    """How many executions run against the provider at once, and how many wait."""

    max_concurrent: int = Field(description="The setting.")
    effective_limit: int = Field(description="Lower after a 429 (halved), recovering by one.")
    in_flight: int
    queued: int
    paused_until: datetime | None = Field(
        default=None, description="The provider's retry-after: nothing starts before it."
    )
