"""Capability tables: what each of a wire's formats takes, mapping every neutral request
parameter to the SDK parameter that carries it (None where the API has none). Each wire declares
its tables in its own `wire.py`; this module holds their type and the check a request passes.

`tests/test_capabilities.py` checks every wire's tables against the installed SDK's signatures,
so an SDK upgrade that drops a parameter fails a test instead of a user's request.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

from adapters.specs import name_of
from contracts.base import ProviderId
from contracts.error_body import ErrorDetail
from contracts.errors import InvalidRequest
from contracts.executions import ExecutionRequest
from contracts.providers import ProviderCapabilities


@dataclass(frozen=True)
class CapabilityTable:
    """Neutral parameter -> SDK parameter, for one provider's wire API."""

    sdk_method: str  # the SDK method the adapter calls, e.g. "messages.create"
    parameters: dict[str, str | None]
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
            model_listing=self.model_listing,
            token_sessions=self.token_sessions,
        )


def used_parameters(request: ExecutionRequest) -> list[str]:
    """The neutral parameters a request sets."""
    used = {
        "temperature": request.temperature is not None,
        "stop": bool(request.stop),
        "tools": bool(request.tools),
        "tool_choice": request.tool_choice is not None,
    }
    return [name for name, set_ in used.items() if set_]


def check_request(provider: ProviderId, table: CapabilityTable, request: ExecutionRequest) -> None:
    """Refuse (422, naming the field) a parameter the provider's current API does not accept,
    before anything is sent."""
    refused = [name for name in used_parameters(request) if table.parameters.get(name) is None]
    if not refused:
        return
    name = name_of(provider)
    fields = ", ".join(f"`{field}`" for field in refused)
    raise InvalidRequest(
        f"{name}'s current API does not accept {fields}.",
        f"Leave out {fields} for {name}; the provider status lists what each provider accepts "
        "under `capabilities`.",
        provider=provider,
        status=422,
        details=[
            ErrorDetail(loc=["body", field], msg=f"not supported by {name}", type="unsupported")
            for field in refused
        ],
    )
