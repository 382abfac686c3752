"""What an execution gives back: its result (content, why it stopped, usage and cost, timings,
the route's passed-over targets), its state, and the outcome of cancelling it."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, JsonValue, model_validator

from contracts.base import AuthMode, ProviderId, Response
from contracts.content import ContentBlock
from contracts.error_body import PassedOver


class StopReason(StrEnum):
    """Why the model stopped, in neutral terms."""

    END_TURN = "end_turn"
    MAX_TOKENS = "max_tokens"
    STOP_SEQUENCE = "stop_sequence"
    TOOL_CALL = "tool_call"
    REFUSAL = "refusal"
    OTHER = "other"


class CostSource(StrEnum):
    """Where the price behind `cost_usd` came from."""

    TABLE = "table"
    SETTINGS = "settings"


class Usage(Response):
    """Token counts as the provider reported them, in one shape for both providers, and what
    they cost. Input counts never overlap: `input_tokens` is the uncached part."""

    input_tokens: int = Field(default=0, description="Input tokens read fresh (uncached).")
    output_tokens: int = Field(default=0, description="Output tokens, reasoning included.")
    cache_read_tokens: int = Field(default=0, description="Input tokens read from the cache.")
    cache_write_tokens: int = Field(default=0, description="Input tokens written to the cache.")
    reasoning_tokens: int = Field(
        default=0, description="The part of `output_tokens` the model spent reasoning."
    )
    total_tokens: int = Field(
        default=0,
        description="input + cache_read + cache_write + output (always recomputed from them).",
    )
    cost_usd: float | None = Field(
        default=None, description="What the tokens cost; null when the model has no price."
    )
    cost_source: CostSource | None = Field(
        default=None, description="`table` (the shipped price list) or `settings` (yours)."
    )

    @model_validator(mode="after")
    def _total(self) -> Usage:
        self.total_tokens = (
            self.input_tokens
            + self.cache_read_tokens
            + self.cache_write_tokens
            + self.output_tokens
        )
        return self


class Timings(Response):
    """Where the time went, in milliseconds."""

    total_ms: float
    first_token_ms: float | None = Field(
        default=None,
        description="When the first output reached the daemon; for a request taken whole and "
        "asked of the provider whole, when the answer arrived.",
    )
    upstream_ms: float = Field(
        description="From each request going on the wire to its response's last byte, summed."
    )
    overhead_ms: float = Field(
        description="Everything else: the daemon's own time, the SDK's request building included."
    )


class ExecutionResult(Response):
    """The whole result of one execution."""

    id: str
    provider: ProviderId
    model: str
    auth_mode: AuthMode
    fallback_applied: bool
    content: list[ContentBlock]
    stop_reason: StopReason
    usage: Usage | None = Field(
        description="null: the provider reported no token counts (some compatible endpoints "
        "never do), so none are claimed and nothing is priced."
    )
    attempts: int
    upstream_request_id: str | None = None
    route: str | None = Field(default=None, description="The route it took, if any.")
    fallbacks: list[PassedOver] = Field(
        default_factory=list,
        description="The route's targets passed over before the one that served, and why.",
    )
    parsed: JsonValue | None = Field(
        default=None,
        description="With a `json_schema` response_format: the answer, parsed and checked "
        "against the schema.",
    )
    timings: Timings


class ExecutionState(StrEnum):
    """Where an execution is in its life."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class CancelResult(Response):
    """The outcome of a cancel request."""

    id: str
    state: ExecutionState
    cancelled: bool = Field(description="True when this call stopped a running execution.")
