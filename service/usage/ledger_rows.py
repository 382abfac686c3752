"""The ledger's schema (migrations), its SQL, and how a finished execution becomes a row and back
(never any prompt or answer text)."""

from __future__ import annotations

import base64
import math
import re
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from contracts.base import MAX_MODEL_ID, MAX_TAG, AuthMode, ProviderId
from contracts.error_body import ErrorCode, ErrorDetail
from contracts.errors import InvalidRequest
from contracts.executions import CostSource, ExecutionState, Usage
from contracts.usage import ExecutionRecord, UsageGroupBy

TAG_LIMIT = MAX_TAG  # characters kept of each caller tag
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")


# Each entry moves the schema from version i to i + 1; never edit one that has shipped. One
# index: every read is a window of end times (filters scan it newest first), and each index
# more cost ~20 µs a row on the ledger's thread (measured).
MIGRATIONS: Sequence[str] = (
    """
    CREATE TABLE executions (
        id TEXT NOT NULL,
        started_at REAL NOT NULL,
        first_token_at REAL,
        ended_at REAL NOT NULL,
        local_day TEXT NOT NULL,
        provider TEXT NOT NULL,
        model TEXT NOT NULL,
        auth_mode TEXT NOT NULL,
        fallback_applied INTEGER NOT NULL,
        outcome TEXT NOT NULL,
        error_code TEXT,
        input_tokens INTEGER NOT NULL,
        cache_read_tokens INTEGER NOT NULL,
        cache_write_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        reasoning_tokens INTEGER NOT NULL,
        cost_usd REAL,
        cost_source TEXT,
        agent TEXT,
        run TEXT,
        space TEXT
    );
    CREATE INDEX executions_by_end ON executions (ended_at, id);
    """,
    # 2: the provider-compatible route a row came by (null for /v1/executions).
    "ALTER TABLE executions ADD COLUMN route TEXT",
    # 3: 0 when the provider reported no token counts (the zeros are not counts).
    "ALTER TABLE executions ADD COLUMN usage_reported INTEGER NOT NULL DEFAULT 1",
    # 4: the named route a row took (issue 37); `route` stays the compatible path it came by.
    "ALTER TABLE executions ADD COLUMN named_route TEXT",
)


COLUMNS = (
    "id, started_at, first_token_at, ended_at, local_day, provider, model, auth_mode, "
    "fallback_applied, outcome, error_code, input_tokens, cache_read_tokens, "
    "cache_write_tokens, output_tokens, reasoning_tokens, cost_usd, cost_source, agent, run, "
    "space, route, usage_reported, named_route"
)


SUMS = (
    "COUNT(*), SUM(outcome = 'succeeded'), SUM(outcome = 'failed'), "
    "SUM(outcome = 'cancelled'), SUM(input_tokens), SUM(cache_read_tokens), "
    "SUM(cache_write_tokens), SUM(output_tokens), SUM(reasoning_tokens), "
    "SUM(COALESCE(cost_usd, 0)), SUM(cost_usd IS NULL)"
)


INSERT_BATCH = (
    f"INSERT INTO executions ({COLUMNS}) SELECT "  # noqa: S608 - fixed column names only
    + ", ".join(f"value ->> {n}" for n in range(len(COLUMNS.split(","))))
    + " FROM json_each(?)"
)


GROUP_COLUMN = {
    UsageGroupBy.PROVIDER: "provider",
    UsageGroupBy.MODEL: "model",
    UsageGroupBy.AGENT: "agent",
    UsageGroupBy.DAY: "local_day",
    UsageGroupBy.ROUTE: "named_route",
}


def tag(value: str | None, limit: int = TAG_LIMIT) -> str | None:
    """A caller's tag as kept: absent when empty. `/v1/executions` refuses tags past the
    bounds; a compatible route's tag is the provider's field, so it is kept, visibly marked:
    control characters as U+FFFD, and past `limit` characters cut with a closing `…`. (The
    model an upstream answer names is kept the same way, within MAX_MODEL_ID.)"""
    if not value:
        return None
    value = _UNPRINTABLE.sub("\ufffd", value)
    return value if len(value) <= limit else value[: limit - 1] + "…"


def epoch(at: datetime) -> float:
    return at.timestamp()


def at_epoch(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


def row_of(record: ExecutionRecord) -> tuple[Any, ...]:
    usage = record.usage or Usage()
    return (
        record.id,
        epoch(record.started_at),
        None if record.first_token_at is None else epoch(record.first_token_at),
        epoch(record.ended_at),
        record.ended_at.astimezone().date().isoformat(),
        record.provider.value,
        tag(record.model, MAX_MODEL_ID) or "",
        record.auth_mode.value,
        int(record.fallback_applied),
        record.outcome.value,
        record.error_code.value if record.error_code else None,
        usage.input_tokens,
        usage.cache_read_tokens,
        usage.cache_write_tokens,
        usage.output_tokens,
        usage.reasoning_tokens,
        usage.cost_usd,
        usage.cost_source.value if usage.cost_source else None,
        tag(record.agent),
        tag(record.run),
        tag(record.space),
        record.path,
        int(record.usage is not None),
        record.route,
    )


def record_of(row: sqlite3.Row) -> ExecutionRecord:
    return ExecutionRecord(
        id=row["id"],
        started_at=at_epoch(row["started_at"]) or datetime.now(UTC),
        first_token_at=at_epoch(row["first_token_at"]),
        ended_at=at_epoch(row["ended_at"]) or datetime.now(UTC),
        provider=ProviderId(row["provider"]),
        model=row["model"],
        auth_mode=AuthMode(row["auth_mode"]),
        fallback_applied=bool(row["fallback_applied"]),
        outcome=ExecutionState(row["outcome"]),
        error_code=ErrorCode(row["error_code"]) if row["error_code"] else None,
        usage=None
        if not row["usage_reported"]
        else Usage(
            input_tokens=row["input_tokens"],
            cache_read_tokens=row["cache_read_tokens"],
            cache_write_tokens=row["cache_write_tokens"],
            output_tokens=row["output_tokens"],
            reasoning_tokens=row["reasoning_tokens"],
            cost_usd=row["cost_usd"],
            cost_source=CostSource(row["cost_source"]) if row["cost_source"] else None,
        ),
        agent=row["agent"],
        run=row["run"],
        space=row["space"],
        path=row["route"],
        route=row["named_route"],
    )


def totals_of(values: Sequence[Any]) -> dict[str, Any]:
    count, ok, failed, cancelled, fresh, read, write, out, reasoning, cost, unpriced = (
        v or 0 for v in values
    )
    return {
        "executions": count,
        "succeeded": ok,
        "failed": failed,
        "cancelled": cancelled,
        "input_tokens": fresh,
        "cache_read_tokens": read,
        "cache_write_tokens": write,
        "output_tokens": out,
        "reasoning_tokens": reasoning,
        "total_tokens": fresh + read + write + out,
        "cost_usd": round(cost, 8),
        "unpriced": unpriced,
    }


def encode_cursor(ended_at: float, execution_id: str) -> str:
    """An opaque cursor: where the next page starts."""
    return base64.urlsafe_b64encode(f"{ended_at!r}|{execution_id}".encode()).decode()


_CURSOR = re.compile(r"(\d+(?:\.\d+)?(?:e[+-]?\d+)?)\|([A-Za-z0-9_-]{1,64})")


def decode_cursor(cursor: str) -> tuple[float, str]:
    """The position a cursor names; anything not shaped as ours (a forged `nan|x`, text that
    is not base64) is refused, never read as an empty page."""
    try:
        text = base64.b64decode(cursor.encode("ascii"), altchars=b"-_", validate=True).decode()
    except (ValueError, UnicodeError):
        text = ""
    shaped = _CURSOR.fullmatch(text)
    if shaped is None or not math.isfinite(float(shaped[1])):
        raise InvalidRequest(
            "The cursor is not one this daemon gave out.",
            "Pass the next_cursor of the previous page unchanged, or leave cursor out.",
            status=422,
            details=[ErrorDetail(loc=["query", "cursor"], msg="not a cursor", type="value_error")],
        )
    return float(shaped[1]), shaped[2]
