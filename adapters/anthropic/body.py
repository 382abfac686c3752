"""The Messages request body for a neutral request: content blocks (images, PDFs, thinking by the
hand-off rule, tool ids as the API takes them), thinking and effort, structured output, and
prompt caching; and what the API would refuse, refused up front naming the field (`fit`)."""

from __future__ import annotations

import re
from typing import Any

from adapters.capabilities import CapabilityTable
from adapters.handoff import call_id, goes_back, nothing_left
from adapters.specs import name_of
from contracts.base import ProviderId
from contracts.content import (
    ContentBlock,
    DocumentBlock,
    ImageBlock,
    Message,
    RedactedThinkingBlock,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
    ToolResultBlock,
    UrlSource,
)
from contracts.error_body import ErrorDetail
from contracts.errors import InvalidRequest
from contracts.executions import ExecutionRequest, ToolChoiceMode
from contracts.models import ModelCapabilities
from contracts.options import CacheSettings, JsonSchemaFormat, ReasoningEffort

# What `build_params` carries of the neutral request, by SDK parameter (the wire's table).
MESSAGES = CapabilityTable(
    sdk_method="messages.create",
    parameters={
        # The installed SDK dropped `temperature` and `top_p` from Messages.
        "temperature": None,
        "top_p": None,
        "stop": "stop_sequences",
        "thinking": "thinking",
        "tools": "tools",
        "tool_choice": "tool_choice",
        "response_format": "output_config",
        "cache": "cache_control",
    },
    content={"image": "image", "document": "document"},
)
# The ids Messages takes for a tool use (others are mapped: `adapters.handoff.call_id`).
TOOL_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
ROLES = ("user", "assistant")  # the roles a message may have
EFFORT = {"minimal": "low"}  # Anthropic has no `minimal`; `none` turns thinking off


def _source(source: Any, media_type: str) -> dict[str, Any]:
    if isinstance(source, UrlSource):
        return {"type": "url", "url": source.url}
    return {"type": "base64", "media_type": media_type, "data": source.data}


def _block(block: ContentBlock, to: ProviderId) -> dict[str, Any] | None:
    if isinstance(block, TextBlock):
        return {"type": "text", "text": block.text}
    if isinstance(block, ImageBlock):
        media = getattr(block.source, "media_type", "")
        return {"type": "image", "source": _source(block.source, media)}
    if isinstance(block, DocumentBlock):
        part = {"type": "document", "source": _source(block.source, "application/pdf")}
        return {**part, "title": block.title} if block.title else part
    if isinstance(block, ToolCallBlock):
        call = call_id(block.id, TOOL_ID, "toolu_")
        return {"type": "tool_use", "id": call, "name": block.name, "input": block.arguments}
    if isinstance(block, ToolResultBlock):
        content = (
            block.content
            if isinstance(block.content, str)
            else [{"type": "text", "text": part.text} for part in block.content]
        )
        return {
            "type": "tool_result",
            "tool_use_id": call_id(block.tool_call_id, TOOL_ID, "toolu_"),
            "content": content,
            "is_error": block.is_error,
        }
    if isinstance(block, RedactedThinkingBlock):
        return {"type": "redacted_thinking", "data": block.data} if goes_back(block, to) else None
    # Thinking goes back only to its maker, and only with the signature it gave.
    if isinstance(block, ThinkingBlock) and block.signature and goes_back(block, to):
        return {"type": "thinking", "thinking": block.thinking, "signature": block.signature}
    return None


def _messages(messages: list[Message], to: ProviderId) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for message in messages:
        if isinstance(message.content, str):
            out.append({"role": message.role, "content": message.content})
            continue
        blocks = [part for b in message.content if (part := _block(b, to)) is not None]
        if blocks:  # a turn of another provider's thinking only is not sent at all
            out.append({"role": message.role, "content": blocks})
    return out


def build_params(
    request: ExecutionRequest,
    model: str,
    provider: ProviderId = ProviderId.ANTHROPIC,
    cache_by_default: bool = True,
) -> dict[str, Any]:
    """The keyword arguments of `messages.create` for `request` sent to `provider`."""
    params: dict[str, Any] = {
        "model": model,
        "max_tokens": request.max_tokens,
        "messages": _messages(request.messages, provider),
        "stream": True,
    }
    if request.system:
        params["system"] = request.system
    if request.stop:
        params["stop_sequences"] = request.stop
    if request.tools:
        params["tools"] = [
            {"name": t.name, "description": t.description, "input_schema": t.input_schema}
            for t in request.tools
        ]
    choice = request.tool_choice
    if choice is not None:
        if isinstance(choice, ToolChoiceMode):
            params["tool_choice"] = {"type": {"required": "any"}.get(choice.value, choice.value)}
        else:
            params["tool_choice"] = {"type": "tool", "name": choice.name}
    _reasoning(request, params)
    form = request.response_format
    if isinstance(form, JsonSchemaFormat):
        output = params.setdefault("output_config", {})
        output["format"] = {"type": "json_schema", "schema": form.schema_}
    cache = request.cache
    if isinstance(cache, CacheSettings) or (cache is None and cache_by_default):
        # The SDK's top-level marker: the API caches the prompt up to its last block.
        ttl = cache.ttl if isinstance(cache, CacheSettings) else "5m"
        params["cache_control"] = {"type": "ephemeral", **({"ttl": ttl} if ttl != "5m" else {})}
    return params


def _reasoning(request: ExecutionRequest, params: dict[str, Any]) -> None:
    reasoning = request.reasoning
    if reasoning is None:
        return
    display = {"display": "omitted"} if reasoning.summary == "none" else {}
    if reasoning.effort is ReasoningEffort.NONE and reasoning.budget_tokens is None:
        params["thinking"] = {"type": "disabled"}
    elif reasoning.budget_tokens is not None:
        params["thinking"] = {
            "type": "enabled",
            "budget_tokens": reasoning.budget_tokens,
            **display,
        }
    else:
        params["thinking"] = {"type": "adaptive", **display}
        if reasoning.effort is not None:
            effort = EFFORT.get(reasoning.effort.value, reasoning.effort.value)
            params.setdefault("output_config", {})["effort"] = effort


# A budget for each effort level, for a model that takes manual thinking only.
BUDGETS = {"minimal": 1024, "low": 1024, "medium": 4096, "high": 16_384, "xhigh": 32_000}


def fit(
    request: ExecutionRequest, model: str, info: ModelCapabilities | None, provider: ProviderId
) -> ExecutionRequest:
    """`request` as the Messages API takes it for `model`, or a 422 naming the field the API
    would refuse: a thinking budget not below `max_tokens`, thinking with a forced tool choice,
    an effort level or thinking type the model does not take. For a model that takes manual
    thinking only, an effort level becomes a budget (at most `max_tokens` - 1)."""
    if not _messages(request.messages, provider):
        raise nothing_left(provider)
    reasoning = request.reasoning
    if reasoning is None or (
        reasoning.effort is ReasoningEffort.NONE and reasoning.budget_tokens is None
    ):
        return request
    name = name_of(provider)
    types = info.thinking if info is not None and info.thinking else None
    choice = request.tool_choice
    if choice is not None and choice not in (ToolChoiceMode.AUTO, ToolChoiceMode.NONE):
        raise _refused(
            provider,
            f"{name} does not take thinking with a forced tool choice.",
            "Use tool_choice `auto` (or none) with reasoning, or leave reasoning out.",
            ["tool_choice"],
        )
    budget = reasoning.budget_tokens
    if budget is None and types is not None and "adaptive" not in types and "enabled" in types:
        level = reasoning.effort.value if reasoning.effort is not None else "medium"
        budget = min(BUDGETS.get(level, 32_000), request.max_tokens - 1)
        if budget < 1024:
            raise _refused(
                provider,
                f"{model} thinks on a budget of at least 1024 tokens below max_tokens "
                f"({request.max_tokens}).",
                "Raise max_tokens above 1024, or leave reasoning out.",
                ["max_tokens"],
            )
        return request.model_copy(
            update={"reasoning": reasoning.model_copy(update={"budget_tokens": budget})}
        )
    if budget is not None:
        if budget >= request.max_tokens:
            raise _refused(
                provider,
                f"The thinking budget ({budget}) must be below max_tokens ({request.max_tokens}).",
                "Lower reasoning.budget_tokens, or raise max_tokens.",
                ["reasoning", "budget_tokens"],
            )
        if types is not None and "enabled" not in types:
            raise _refused(
                provider,
                f"{model} takes no thinking budget ({name}'s model list says it thinks "
                f"{', '.join(types)}).",
                "Leave out reasoning.budget_tokens and give an effort level.",
                ["reasoning", "budget_tokens"],
            )
        return request
    effort = reasoning.effort
    levels = info.efforts if info is not None else None
    if effort is not None and levels is not None:
        wanted = ReasoningEffort(EFFORT.get(effort.value, effort.value))
        if wanted not in levels:
            taken = ", ".join(level.value for level in levels) or "none"
            raise _refused(
                provider,
                f"{model} takes the effort levels {taken}, not {effort.value}.",
                "Give one of those levels, or leave reasoning.effort out (the model's own).",
                ["reasoning", "effort"],
            )
    return request


def _refused(
    provider: ProviderId, message: str, remediation: str, field: list[str]
) -> InvalidRequest:
    return InvalidRequest(
        message,
        remediation,
        provider=provider,
        status=422,
        details=[ErrorDetail(loc=["body", *field], msg=message, type="unsupported")],
    )
