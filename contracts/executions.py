"""Execution requests, results and the stream events of one execution."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, JsonValue, model_validator

from contracts.base import (
    AuthMode,
    Block,
    JsonBool,
    JsonFloat,
    JsonInt,
    Metadata,
    ModelId,
    ProviderId,
    Request,
    Response,
)

TOOL_NAME = r"^[a-zA-Z0-9_-]{1,64}$"
# Documented per-request limits (README): past them a request is refused with 422.
MAX_MESSAGES = 10_000
MAX_BLOCKS = 20_000  # content blocks over all messages
MAX_TOOLS = 128


class TextBlock(Block):
    """Plain text."""

    type: Literal["text"] = "text"
    text: str


class ThinkingBlock(Block):
    """Model reasoning, with the provider's signature when it gives one."""

    type: Literal["thinking"] = "thinking"
    thinking: str
    signature: str | None = None


class ToolCallBlock(Block):
    """The model asks for a tool to be run."""

    type: Literal["tool_call"] = "tool_call"
    id: str = Field(min_length=1, max_length=256)
    name: str = Field(pattern=TOOL_NAME)
    arguments: dict[str, JsonValue] = Field(default_factory=dict)


class ToolResultBlock(Block):
    """The result of a tool call, sent back to the model."""

    type: Literal["tool_result"] = "tool_result"
    tool_call_id: str = Field(min_length=1, max_length=256)
    content: str | list[TextBlock]
    is_error: JsonBool = False


ContentBlock = Annotated[
    TextBlock | ThinkingBlock | ToolCallBlock | ToolResultBlock, Field(discriminator="type")
]


class Message(Request):
    """One turn of the conversation."""

    role: Literal["user", "assistant"]
    content: (
        Annotated[str, Field(min_length=1)] | Annotated[list[ContentBlock], Field(min_length=1)]
    )


class ToolSpec(Request):
    """A tool the model may call."""

    name: str = Field(pattern=TOOL_NAME)
    description: str = ""
    input_schema: dict[str, JsonValue] = Field(
        default_factory=lambda: dict[str, JsonValue]({"type": "object", "properties": {}}),
        description="JSON Schema of the tool's arguments.",
    )


class ToolChoiceMode(StrEnum):
    """How the model may use tools."""

    AUTO = "auto"
    REQUIRED = "required"
    NONE = "none"


class ToolChoiceTool(Request):
    """Force one named tool."""

    type: Literal["tool"] = "tool"
    name: str = Field(pattern=TOOL_NAME)


class ExecutionRequest(Request):
    """One provider-neutral model request."""

    provider: ProviderId | None = Field(default=None, description="Default: the default provider.")
    model: ModelId | None = None
    system: str | None = None
    messages: list[Message] = Field(min_length=1, max_length=MAX_MESSAGES)
    tools: list[ToolSpec] = Field(default_factory=list, max_length=MAX_TOOLS)
    tool_choice: ToolChoiceMode | ToolChoiceTool | None = None
    max_tokens: JsonInt = Field(default=1024, ge=1, le=200_000)
    temperature: JsonFloat | None = Field(default=None, ge=0, le=2)
    stop: list[str] = Field(default_factory=list, max_length=8)
    stream: JsonBool = False
    timeout_s: JsonFloat | None = Field(default=None, ge=0.001, le=3600)
    metadata: Metadata = Field(
        default_factory=dict,
        description=(
            "Tags kept in the ledger (agent, run and space are its columns): printable text, "
            "at most 32, keys up to 64 characters, values up to 128."
        ),
    )

    @model_validator(mode="after")
    def _bounded(self) -> ExecutionRequest:
        blocks = sum(1 if isinstance(m.content, str) else len(m.content) for m in self.messages)
        if blocks > MAX_BLOCKS:
            raise ValueError(f"at most {MAX_BLOCKS} content blocks in all, not {blocks}")
        return self


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
    first_token_ms: float | None = None
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
