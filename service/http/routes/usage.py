"""`GET /v1/executions` (the ledger, newest first) and `GET /v1/usage` (totals by group)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BeforeValidator

from contracts.base import ProviderId
from contracts.executions import ExecutionState
from contracts.usage import ExecutionPage, UsageGroupBy, UsageReport
from service.http.http_errors import error_responses
from service.http.routes.deps import RuntimeDep

router = APIRouter(tags=["usage"])

_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|z|[+-]\d{2}:\d{2})?$")


def _iso_only(value: Any) -> Any:
    # Pydantic would also take a number of seconds ("0.5"); a window is written as a time.
    if isinstance(value, str) and not _ISO.match(value):
        raise ValueError("expected an ISO 8601 date and time, e.g. 2026-11-28T09:00:00+01:00")
    return value


IsoTime = Annotated[datetime, BeforeValidator(_iso_only)]


@router.get(
    "/v1/executions",
    name="listExecutions",
    summary="Finished executions from the ledger, newest first (no prompt or answer text)",
    responses=error_responses(422),
)
async def list_executions(
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    provider: ProviderId | None = None,
    agent: Annotated[str | None, Query(max_length=128)] = None,
    outcome: ExecutionState | None = None,
) -> ExecutionPage:
    return await runtime.meter.executions(limit, cursor, provider, agent, outcome)


@router.get(
    "/v1/usage",
    name="getUsage",
    summary="Tokens, cost and counts over a window, grouped by provider, model, agent or day",
    responses=error_responses(422),
)
async def get_usage(
    runtime: RuntimeDep,
    since: Annotated[
        IsoTime | None, Query(description="Default: 7 days before `until`. No zone: local.")
    ] = None,
    until: Annotated[IsoTime | None, Query(description="Default: now. No zone: local.")] = None,
    group_by: UsageGroupBy = UsageGroupBy.PROVIDER,
) -> UsageReport:
    return await runtime.meter.usage(since, until, group_by)
