"""A structured answer (`response_format: json_schema`): the answer's text, parsed and checked
against the schema. An answer that is not JSON, or does not match, is an error that says where,
never a string passed off as the object."""

from __future__ import annotations

import json

from pydantic import JsonValue

from adapters.json_schema import problems
from contracts.base import ProviderId
from contracts.errors import ProviderError, UnexpectedError
from contracts.executions import ContentBlock, ExecutionRequest, StopReason, TextBlock
from contracts.options import JsonSchemaFormat


def parsed(
    request: ExecutionRequest,
    content: list[ContentBlock],
    stop: StopReason,
    provider: ProviderId,
) -> JsonValue | ProviderError:
    """The answer as the object `request.response_format` asks for, or the error it is."""
    form = request.response_format
    assert isinstance(form, JsonSchemaFormat)
    text = "".join(block.text for block in content if isinstance(block, TextBlock))
    try:
        value: JsonValue = json.loads(text)
    except json.JSONDecodeError as exc:
        cut = " (it was cut off at max_tokens)" if stop is StopReason.MAX_TOKENS else ""
        return _mismatch(
            f"The answer is not JSON{cut}: {exc.msg} at character {exc.pos}.",
            "Raise max_tokens" if cut else "Retry; the model's answer was not the JSON asked for",
            provider,
        )
    found = problems(value, form.schema_)
    if found:
        return _mismatch(
            f"The answer does not match the {form.name!r} schema: {'; '.join(found[:5])}.",
            "Retry; the model's answer did not follow the schema",
            provider,
        )
    return value


def _mismatch(message: str, remediation: str, provider: ProviderId) -> ProviderError:
    return UnexpectedError(
        message, f"{remediation}, or loosen the schema.", provider=provider, status=502
    )
