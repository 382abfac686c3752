"""What an execution request may ask of the model beyond its messages: how hard it reasons,
the shape of its answer, and whether its prompt is cached. Each maps to what each wire takes
(the README's table); what a model cannot take is refused up front, naming the field."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, JsonValue

from contracts.base import PRINTABLE, Block, JsonBool, JsonInt, Request


class ReasoningEffort(StrEnum):
    """How much the model reasons: OpenAI's levels, and Anthropic's (`none` turns thinking off;
    `minimal` is Anthropic's `low`)."""

    NONE = "none"
    MINIMAL = "minimal"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    XHIGH = "xhigh"
    MAX = "max"


class Reasoning(Request):
    """Reasoning: an effort level, or (Anthropic) a token budget for its thinking."""

    effort: ReasoningEffort | None = Field(
        default=None, description="null: the model's own default level."
    )
    budget_tokens: JsonInt | None = Field(
        default=None,
        ge=1024,
        le=200_000,
        description="Anthropic's manual extended thinking: at least 1024 and below max_tokens.",
    )
    summary: Literal["auto", "concise", "detailed", "none"] = Field(
        default="auto",
        description="Whether the reasoning comes back (streamed as `thinking_delta`): OpenAI's "
        "summary, Anthropic's summarized thinking; `none` omits it.",
    )


class JsonSchemaFormat(Block):
    """The answer is JSON matching `schema`."""

    type: Literal["json_schema"] = "json_schema"
    name: str = Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")
    schema_: dict[str, JsonValue] = Field(alias="schema", description="A JSON Schema object.")
    strict: JsonBool = Field(
        default=True,
        description="The providers' strict mode: every property required and no others "
        "(`additionalProperties: false`) at every level; checked up front.",
    )
    description: str | None = Field(default=None, max_length=1024)


class TextFormat(Block):
    """Plain text (the default)."""

    type: Literal["text"] = "text"


ResponseFormat = Annotated[JsonSchemaFormat | TextFormat, Field(discriminator="type")]


class CacheSettings(Request):
    """How long a cached prompt prefix lives, and (OpenAI) the key that groups requests that
    share it."""

    ttl: Literal["5m", "1h"] = "5m"
    key: str | None = Field(default=None, min_length=1, max_length=64, pattern=PRINTABLE)


Cache = CacheSettings | Literal["off"] | None
