"""What OpenAI's APIs would refuse of a neutral request, refused up front naming the field
(`fit`): a thinking budget (OpenAI takes an effort level), an effort level the model does not
take, and on Chat Completions a reasoning summary (Chat returns none) or a PDF by URL (Chat takes
files inline only)."""

from __future__ import annotations

from adapters.handoff import nothing_left
from adapters.openai.shared import input_items
from adapters.specs import name_of
from contracts.base import ProviderId
from contracts.content import (
    DocumentBlock,
    Message,
    RedactedThinkingBlock,
    ThinkingBlock,
    UrlSource,
)
from contracts.error_body import ErrorDetail
from contracts.errors import InvalidRequest
from contracts.executions import ExecutionRequest
from contracts.models import ModelCapabilities


def fit(
    request: ExecutionRequest,
    model: str,
    info: ModelCapabilities | None,
    provider: ProviderId,
    chat: bool,
) -> ExecutionRequest:
    """`request` as OpenAI's API takes it, or a 422 naming what it would refuse."""
    name = name_of(provider)
    if not any(_sent(message, provider, chat) for message in request.messages):
        raise nothing_left(provider)
    reasoning = request.reasoning
    if reasoning is not None:
        if reasoning.budget_tokens is not None:
            raise _refused(
                provider,
                f"{name} takes a reasoning effort level, not a thinking budget.",
                "Leave out reasoning.budget_tokens and give reasoning.effort.",
                ["reasoning", "budget_tokens"],
            )
        levels = info.efforts if info is not None else None
        if reasoning.effort is not None and levels is not None and reasoning.effort not in levels:
            taken = ", ".join(level.value for level in levels) or "none"
            raise _refused(
                provider,
                f"{model} takes the effort levels {taken}, not {reasoning.effort.value}.",
                "Give one of those levels, or leave reasoning.effort out (the model's own).",
                ["reasoning", "effort"],
            )
        if chat and "summary" in reasoning.model_fields_set and reasoning.summary != "none":
            raise _refused(
                provider,
                "Chat Completions returns no reasoning summary.",
                "Leave out reasoning.summary for this provider (it speaks Chat Completions).",
                ["reasoning", "summary"],
            )
    if chat and request.uses_media:
        for m, b, block in request.blocks():
            if isinstance(block, DocumentBlock) and isinstance(block.source, UrlSource):
                raise _refused(
                    provider,
                    "Chat Completions takes a PDF inline only, not by URL.",
                    "Send the document as base64 data.",
                    ["messages", m, "content", b, "source"],
                )
    return request


def _sent(message: Message, provider: ProviderId, chat: bool) -> bool:
    """Whether anything of `message` is sent (Chat takes no thinking back at all)."""
    if isinstance(message.content, str):
        return True
    if chat:
        return any(
            not isinstance(b, ThinkingBlock | RedactedThinkingBlock) for b in message.content
        )
    return bool(input_items(message, provider))


def _refused(
    provider: ProviderId, message: str, remediation: str, field: list[str | int]
) -> InvalidRequest:
    return InvalidRequest(
        message,
        remediation,
        provider=provider,
        status=422,
        details=[ErrorDetail(loc=["body", *field], msg=message, type="unsupported")],
    )
