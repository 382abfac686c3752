"""The stream events of one execution: start, deltas, retries, queued, and exactly one terminal
done or error."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from contracts.base import (
    AuthMode,
    ProviderId,
    Response,
)
from contracts.error_body import ErrorBody
from contracts.executions import ContentBlock, ExecutionResult, Usage
from contracts.routes import PassedOver


class StartEvent(Response):
    """The execution was accepted and routed."""

    type: Literal["start"] = "start"
    id: str
    provider: ProviderId
    model: str
    auth_mode: AuthMode
    fallback_applied: bool


class TextDeltaEvent(Response):
    """More text for the content block at `index`."""

    type: Literal["text_delta"] = "text_delta"
    index: int
    text: str


class ThinkingDeltaEvent(Response):
    """More reasoning for the thinking block at `index`."""

    type: Literal["thinking_delta"] = "thinking_delta"
    index: int
    thinking: str


class ToolCallStartEvent(Response):
    """A tool call begins at `index`."""

    type: Literal["tool_call_start"] = "tool_call_start"
    index: int
    id: str
    name: str


class ToolCallDeltaEvent(Response):
    """A fragment of a tool call's JSON arguments."""

    type: Literal["tool_call_delta"] = "tool_call_delta"
    index: int
    arguments_delta: str


class ToolCallEndEvent(Response):
    """A tool call is complete, with its parsed arguments."""

    type: Literal["tool_call_end"] = "tool_call_end"
    index: int
    id: str
    name: str
    arguments: dict[str, Any]


class RetryEvent(Response):
    """An attempt failed before any output; the daemon will try again. When the next attempt
    falls back from a failed token session to the API key, this event says so as it happens."""

    type: Literal["retry"] = "retry"
    attempt: int
    delay_s: float
    error: ErrorBody
    auth_mode: AuthMode | None = Field(
        default=None, description="The auth mode of the next attempt, when it changes."
    )
    fallback_applied: bool = Field(
        default=False, description="The next attempt runs on the API key after a session failed."
    )


class FallbackEvent(Response):
    """The route's target failed (or could not serve) before any output: the request goes on to
    the next target, named here."""

    type: Literal["fallback"] = "fallback"
    id: str
    passed_over: PassedOver
    provider: ProviderId = Field(description="The target it goes on to.")
    model: str


class DoneEvent(Response):
    """The terminal success event, with the full result."""

    type: Literal["done"] = "done"
    result: ExecutionResult


class ErrorEvent(Response):
    """The terminal failure event, with whatever content had already been streamed."""

    type: Literal["error"] = "error"
    error: ErrorBody
    partial_content: list[ContentBlock] = Field(default_factory=list)
    usage: Usage | None = Field(
        default=None,
        description="What the provider reported using before the failure (it may bill it).",
    )


class QueuedEvent(Response):
    """The provider's concurrency limit is reached: the execution waits its turn (first in,
    first out). `start` follows when it runs; its wait counts against `timeout_s`."""

    type: Literal["queued"] = "queued"
    id: str = Field(description="The execution's id: it can be cancelled while it waits.")
    provider: ProviderId
    position: int = Field(description="1 is next.")
    limit: int = Field(description="The provider's effective concurrency limit now.")


ExecutionStreamEvent = Annotated[
    QueuedEvent
    | StartEvent
    | TextDeltaEvent
    | ThinkingDeltaEvent
    | ToolCallStartEvent
    | ToolCallDeltaEvent
    | ToolCallEndEvent
    | RetryEvent
    | FallbackEvent
    | DoneEvent
    | ErrorEvent,
    Field(discriminator="type"),
]
