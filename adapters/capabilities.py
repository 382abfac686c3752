"""Capability tables: what each of a wire's formats takes, mapping every neutral request
parameter to the SDK parameter that carries it (None where the API has none). Each wire declares
its tables in its own `wire.py`; this module holds their type and the check a request passes.

`tests/test_capabilities.py` checks every wire's tables against the installed SDK's signatures,
so an SDK upgrade that drops a parameter fails a test instead of a user's request.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from adapters.json_schema import strict_problems
from adapters.specs import name_of
from contracts.base import ProviderId
from contracts.content import DocumentBlock, ImageBlock, media_problem
from contracts.error_body import ErrorDetail
from contracts.errors import InvalidRequest
from contracts.executions import ExecutionRequest
from contracts.models import ModelCapabilities
from contracts.options import CacheSettings, JsonSchemaFormat
from contracts.providers import ProviderCapabilities


@dataclass(frozen=True)
class CapabilityTable:
    """Neutral parameter -> SDK parameter, for one provider's wire API."""

    sdk_method: str  # the SDK method the adapter calls, e.g. "messages.create"
    parameters: dict[str, str | None]
    # Neutral content block type -> the part type the API takes it as (None: not taken).
    content: dict[str, str | None] = field(default_factory=dict)
    model_listing: bool = True
    token_sessions: bool = True

    def without_sessions(self) -> CapabilityTable:
        """The same wire spoken by an endpoint a user added: no token sessions."""
        return replace(self, token_sessions=False)

    def contract(self) -> ProviderCapabilities:
        """The wire form shown in provider status (built once: every status recompute reads it)."""
        return self._contract

    @cached_property
    def _contract(self) -> ProviderCapabilities:
        return ProviderCapabilities(
            **{name: sdk is not None for name, sdk in self.parameters.items()},
            **{
                {"image": "images", "document": "documents"}[kind]: part is not None
                for kind, part in self.content.items()
            },
            model_listing=self.model_listing,
            token_sessions=self.token_sessions,
        )


def used_parameters(request: ExecutionRequest) -> list[str]:
    """The neutral parameters a request sets (`cache` only when it asks for more than the
    default, which every wire may ignore)."""
    used = {
        "temperature": request.temperature is not None,
        "top_p": request.top_p is not None,
        "stop": bool(request.stop),
        "tools": bool(request.tools),
        "tool_choice": request.tool_choice is not None,
        "thinking": request.reasoning is not None,
        "response_format": isinstance(request.response_format, JsonSchemaFormat),
        "cache": isinstance(request.cache, CacheSettings),
    }
    return [name for name, set_ in used.items() if set_]


FIELDS = {"thinking": "reasoning"}  # a table's name for a parameter, where the field differs


def check_request(
    provider: ProviderId,
    table: CapabilityTable,
    request: ExecutionRequest,
    model: str,
    info: ModelCapabilities | None,
) -> None:
    """Refuse (422, naming the field) what the wire format or the model does not take, before
    anything is sent: a parameter its API has none of, a content block it has no part for, and
    what the model's list (or the catalogue) says it does not take. A strict schema that breaks
    strict mode is refused here too, for every wire."""
    name = name_of(provider)
    refused = [
        FIELDS.get(p, p) for p in used_parameters(request) if table.parameters.get(p) is None
    ]
    if refused:
        fields = ", ".join(f"`{field}`" for field in refused)
        raise _refused(
            provider,
            f"{name}'s current API does not accept {fields}.",
            f"Leave out {fields} for {name}; the provider status lists what each provider "
            "accepts under `capabilities`.",
            [(["body", field], f"not supported by {name}") for field in refused],
        )
    said = info or ModelCapabilities()
    if request.tools and said.tools is False:
        raise _refused(
            provider,
            f"{model} does not take tools, as {provider.value}'s model list says.",
            "Leave out `tools`, or choose a model that takes them.",
            [(["body", "tools"], "not taken")],
        )
    for m, b, block in request.blocks() if request.uses_media else ():
        kind = block.type
        if isinstance(block, ImageBlock | DocumentBlock):
            where = ["body", "messages", m, "content", b]
            if request.messages[m].role == "assistant":
                raise _refused(
                    provider,
                    f"{kind.capitalize()} blocks go in user messages, not the assistant's.",
                    f"Move the {kind} to a user message.",
                    [(where, "media in an assistant turn")],
                    "media_in_assistant_turn",
                )
            problem = media_problem(block)
            if problem is not None:
                raise _refused(
                    provider,
                    f"The {kind} at messages[{m}].content[{b}] is refused: {problem}.",
                    "Send the bytes the media_type names, base64-encoded.",
                    [([*where, "source", "data"], problem)],
                    "media_mismatch",
                )
            taken = (
                table.content.get(kind) is not None
                and (said.images if kind == "image" else said.documents) is not False
            )
            if not taken:
                raise _refused(
                    provider,
                    f"{model} on {name} does not take {kind} blocks.",
                    f"Leave the {kind} out, or choose a model that takes it (`kata-providers "
                    f"models --provider {provider.value}` lists what each takes).",
                    [(["body", "messages", m, "content", b], f"{kind} not taken")],
                )
    if request.reasoning is not None and said.reasoning is False:
        raise _refused(
            provider,
            f"{model} does not reason, as {name}'s model list says.",
            "Leave out `reasoning`, or choose a model that reasons.",
            [(["body", "reasoning"], "not taken by this model")],
        )
    form = request.response_format
    if isinstance(form, JsonSchemaFormat):
        if said.structured_output is False:
            raise _refused(
                provider,
                f"{model} does not take structured output, as {name}'s model list says.",
                "Leave out `response_format`, or choose a model that takes it.",
                [(["body", "response_format"], "not taken by this model")],
            )
        if form.strict and (broken := strict_problems(form.schema_)):
            raise _refused(
                provider,
                f"The schema breaks strict mode: {broken[0][1]}.",
                "List every property in `required` and set `additionalProperties: false` on "
                "every object, or set `strict: false`.",
                [(["body", "response_format", "schema", *p], msg) for p, msg in broken],
            )


def _refused(
    provider: ProviderId,
    message: str,
    remediation: str,
    details: list[tuple[list[Any], str]],
    kind: str = "unsupported",
) -> InvalidRequest:
    return InvalidRequest(
        message,
        remediation,
        provider=provider,
        status=422,
        details=[ErrorDetail(loc=loc, msg=msg, type=kind) for loc, msg in details],
    )
