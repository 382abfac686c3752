"""Execution requests and results. Content blocks are `contracts.content`'s, the request's
options (reasoning, structured output, caching) `contracts.options`'."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import ConfigDict, Field, JsonValue, PrivateAttr, model_validator
from pydantic_core import PydanticCustomError

from contracts.base import (
    JsonBool,
    JsonFloat,
    JsonInt,
    Metadata,
    ModelId,
    ProviderId,
    Request,
)
from contracts.content import (
    MAX_DOCUMENTS,
    MAX_IMAGES,
    TOOL_NAME,
    ContentBlock,
    DocumentBlock,
    ImageBlock,
    Message,
    RedactedThinkingBlock,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
    ToolResultBlock,
)
from contracts.options import Cache, JsonSchemaFormat, Reasoning, ResponseFormat
from contracts.results import (
    CancelResult,
    CostSource,
    ExecutionResult,
    ExecutionState,
    StopReason,
    Timings,
    Usage,
)
from contracts.routes import RouteName

# Re-exported: the blocks and the results are part of this module's vocabulary.
__all__ = [
    "CancelResult",
    "ContentBlock",
    "CostSource",
    "DocumentBlock",
    "ExecutionResult",
    "ExecutionState",
    "ImageBlock",
    "Message",
    "RedactedThinkingBlock",
    "StopReason",
    "TextBlock",
    "ThinkingBlock",
    "Timings",
    "ToolCallBlock",
    "ToolResultBlock",
    "Usage",
]

# Documented per-request limits (README): past them a request is refused with 422.
MAX_MESSAGES = 10_000
MAX_BLOCKS = 20_000  # content blocks over all messages
MAX_TOOLS = 128


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


def _route_or_provider(schema: dict[str, Any]) -> None:
    # A route is instead of a provider and a model: not both (null is not given).
    given = {"type": "string"}
    schema["allOf"] = [
        {"not": {"properties": {"route": given, name: given}, "required": ["route", name]}}
        for name in ("provider", "model")
    ]


class ExecutionRequest(Request):
    """One provider-neutral model request."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_route_or_provider)

    provider: ProviderId | None = Field(default=None, description="Default: the default provider.")
    model: ModelId | None = None
    route: RouteName | None = Field(
        default=None,
        description="A route instead of a provider and model: its targets are tried in order, "
        "falling through before any output (`PUT /v1/routes/{name}`).",
    )
    system: str | None = None
    messages: list[Message] = Field(min_length=1, max_length=MAX_MESSAGES)
    tools: list[ToolSpec] = Field(default_factory=list, max_length=MAX_TOOLS)
    tool_choice: ToolChoiceMode | ToolChoiceTool | None = None
    max_tokens: JsonInt = Field(default=1024, ge=1, le=200_000)
    temperature: JsonFloat | None = Field(default=None, ge=0, le=2)
    top_p: JsonFloat | None = Field(default=None, gt=0, le=1)
    stop: list[str] = Field(default_factory=list, max_length=8)
    reasoning: Reasoning | None = Field(
        default=None,
        description="How hard the model thinks: Anthropic `thinking` and `output_config.effort`, "
        "OpenAI `reasoning` (Responses) or `reasoning_effort` (Chat), as the model takes them.",
    )
    response_format: ResponseFormat | None = Field(
        default=None,
        description="`json_schema`: the answer is JSON matching `schema`, parsed into the "
        "result's `parsed` (an answer that does not match is an error, never a silent string).",
    )
    cache: Cache = Field(
        default=None,
        description='Prompt caching: on by default (5 minutes); `{ttl: "1h"}` for longer, '
        '`"off"` for none. Anthropic: `cache_control`; OpenAI: `prompt_cache_key`.',
    )
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
    def _not_both(self) -> ExecutionRequest:
        if self.route is not None:
            given = [name for name in ("provider", "model") if getattr(self, name) is not None]
            if given:
                raise PydanticCustomError(
                    "route_and_target",
                    f"a route is instead of {' and '.join(given)}: give one or the other",
                )
        return self

    @model_validator(mode="after")
    def _bounded(self) -> ExecutionRequest:
        blocks = images = documents = thinking = 0
        for message in self.messages:
            if isinstance(message.content, str):
                blocks += 1
                continue
            blocks += len(message.content)
            for block in message.content:
                images += isinstance(block, ImageBlock)
                documents += isinstance(block, DocumentBlock)
                thinking += isinstance(block, ThinkingBlock | RedactedThinkingBlock)
        if blocks > MAX_BLOCKS:
            raise ValueError(f"at most {MAX_BLOCKS} content blocks in all, not {blocks}")
        if images > MAX_IMAGES:
            raise ValueError(f"at most {MAX_IMAGES} image blocks in all, not {images}")
        if documents > MAX_DOCUMENTS:
            raise ValueError(f"at most {MAX_DOCUMENTS} document blocks in all, not {documents}")
        self._media = bool(images or documents)
        self._thinking = bool(thinking)
        return self

    _media: bool = PrivateAttr(default=False)
    _thinking: bool = PrivateAttr(default=False)

    @property
    def uses_media(self) -> bool:
        """Whether a message holds an image or a document."""
        return self._media

    @property
    def uses_features(self) -> bool:
        """Whether the request asks for what a model may not take (tools, reasoning, structured
        output, media) or carries thinking (which the hand-off rule may drop): only then is what
        the model takes looked up and the wire's `fit` consulted."""
        return bool(
            self.tools
            or self.reasoning is not None
            or isinstance(self.response_format, JsonSchemaFormat)
            or self._media
            or self._thinking
        )

    def blocks(self) -> list[tuple[int, int, ContentBlock]]:
        """Every content block with its message's and its own index (for errors that name one)."""
        return [
            (m, b, block)
            for m, message in enumerate(self.messages)
            if not isinstance(message.content, str)
            for b, block in enumerate(message.content)
        ]
