"""The seam between the runtime and a provider: a credential and a narrow adapter Protocol."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from contracts.base import AuthMode, ProviderId
from contracts.executions import ExecutionRequest, StopReason, Usage
from contracts.models import ModelCapabilities, ModelInfo
from contracts.stream import (
    TextDeltaEvent,
    ThinkingDeltaEvent,
    ToolCallDeltaEvent,
    ToolCallEndEvent,
    ToolCallStartEvent,
)

if TYPE_CHECKING:
    from adapters.capabilities import CapabilityTable
    from adapters.passthrough import RelayAnswer, RelayRequest, UsageScan
    from contracts.errors import ProviderError


def parse_arguments(raw: str, tool: str) -> dict[str, object]:
    """A tool call's accumulated JSON arguments; empty means none. Malformed JSON is an error."""
    import json

    from contracts.errors import UnexpectedError

    text = raw.strip()
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise UnexpectedError(
            f"The provider sent malformed arguments for tool {tool!r}.",
            "Retry the request; the model's output was cut or corrupted.",
        )
    return value


@dataclass(frozen=True)
class Finished:
    """The upstream stream ended normally."""

    stop_reason: StopReason
    usage: Usage | None  # None: the provider reported no counts (absent, not zero)
    model: str
    upstream_request_id: str | None = None


@dataclass(frozen=True)
class Signature:
    """More of the provider's signature for the thinking block at `index` (not sent to the
    client as an event; it travels with the block, so a block cut mid-stream keeps it)."""

    index: int
    signature: str


@dataclass(frozen=True)
class Redacted:
    """A thinking block at `index` that the provider returned encrypted (Anthropic's
    `redacted_thinking`): kept whole and sent back as it came."""

    index: int
    data: str


@dataclass(frozen=True)
class EncryptedReasoning:
    """The proof of the reasoning at `index` (OpenAI's reasoning item: its id and encrypted
    content), which it needs back to continue after a tool call when nothing is stored."""

    index: int
    item_id: str
    encrypted_content: str | None


@dataclass(frozen=True)
class UsageSeen:
    """The provider's token counts so far (not sent to the client as an event): what a failed
    or cancelled execution records as used."""

    usage: Usage


AdapterEvent = (
    TextDeltaEvent
    | ThinkingDeltaEvent
    | ToolCallStartEvent
    | ToolCallDeltaEvent
    | ToolCallEndEvent
    | Signature
    | Redacted
    | EncryptedReasoning
    | UsageSeen
    | Finished
)


@dataclass(frozen=True)
class Credential:
    """How to authenticate one request. Secrets stay out of `repr`; sessions are read lazily."""

    mode: AuthMode
    source: str | None = None
    api_key: str | None = field(default=None, repr=False)
    profile: str | None = None
    env_token: str | None = None
    token_file: Path | None = None
    chatgpt: bool = False

    @property
    def cache_key(self) -> tuple[object, ...]:
        """Identifies the SDK client this credential needs (the key is hashed, not kept)."""
        key_id = hash(self.api_key) if self.api_key else None
        return (self.mode, key_id, self.profile, self.env_token, self.token_file, self.chatgpt)


class ProviderAdapter(Protocol):
    """What the runtime needs from a provider."""

    provider: ProviderId
    capabilities: CapabilityTable

    async def list_models(self, credential: Credential) -> list[ModelInfo]:
        """Every model the credential reaches (all pages)."""
        ...

    def fit(
        self, request: ExecutionRequest, model: str, info: ModelCapabilities | None
    ) -> ExecutionRequest:
        """`request` as this wire's API takes it for `model` (what `info` says it takes), or
        `invalid_request` (422, naming the field) for what the API would refuse; called before
        anything is sent."""
        ...

    def stream(
        self, request: ExecutionRequest, model: str, credential: Credential, *, whole: bool = False
    ) -> AsyncGenerator[AdapterEvent, None]:
        """Run one request upstream as neutral events, ending with Finished. `whole`: the caller
        takes the answer whole, so the adapter may ask the provider for it whole and give the
        same events once it is in (it may stream still: a path or server that cannot). Closing
        the iterator closes the upstream response."""
        ...

    def relay(
        self, request: RelayRequest, credential: Credential
    ) -> AbstractAsyncContextManager[RelayAnswer]:
        """Pass a client's own provider request upstream with `credential`; the answer, error
        statuses included, as it comes (a transport failure raises ProviderError)."""
        ...

    def relay_error(
        self, status: int, raw: bytes, headers: list[tuple[str, str]], mode: AuthMode
    ) -> ProviderError:
        """What an upstream error answer means in the taxonomy (for the daemon's rules)."""
        ...

    def relay_request(self, request: RelayRequest, body: Mapping[str, Any]) -> RelayRequest:
        """The request to send for a client's own (`body` is its parsed JSON): unchanged, or
        asking for what the ledger needs (usage) and marking what then must not pass back."""
        ...

    def usage_scan(self, streamed: bool, hide_usage_only: bool = False) -> UsageScan:
        """A reader of usage and model for a passing answer (see `UsageScan`)."""
        ...

    def error_event(self, error: ProviderError) -> bytes:
        """The provider's own mid-stream error event, for a passing stream that broke."""
        ...

    async def warm(self, credential: Credential) -> None:
        """Have the client for `credential` built (importing the SDK off the event loop)."""
        ...

    def forget(self, credential: Credential) -> None:
        """Drop the cached client for `credential` (the next request reads it afresh)."""
        ...

    async def aclose(self) -> None:
        """Close every SDK client the adapter opened."""
        ...
