"""What an execution needs from the runtime (its `Ports`), its deadlines, its bookkeeping across
attempts, and its id."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Protocol

from adapters.base import Credential
from contracts.base import ProviderId
from contracts.errors import (
    ProviderError,
)
from contracts.executions import Usage
from service.providers.health import HealthTracker
from service.usage.governor import Gate


def new_execution_id() -> str:
    """A unique id for an execution."""
    return f"exe_{os.urandom(12).hex()}"


@dataclass(frozen=True)
class Deadlines:
    """How long an execution may take: in all, to its first event, between events, and in
    the queue for a slot when the request set no `timeout_s` of its own; and up to which
    `max_tokens` a request taken whole is asked of the provider whole."""

    total_s: float = 600.0
    first_token_s: float = 120.0
    idle_s: float = 60.0
    queue_s: float = 30.0
    whole_max_tokens: int = 4_096  # KATA_PROVIDERS_WHOLE_MAX_TOKENS (DaemonConfig's default)

    def whole(self, stream: bool, max_tokens: int) -> bool:
        """Whether to ask the provider for a request's answer whole (one answer, not a
        stream: less to read, decode and translate): taken whole, and short enough that a
        stall costs little. Past `whole_max_tokens` it streams upstream still: a stream lets
        the idle deadline see an answer that stalled, and the Messages API refuses a
        non-streaming request that may take over ten minutes (its SDK's rule: 21,333 tokens;
        8,192 for the Opus 4 models). 0 streams every request."""
        return not stream and max_tokens <= self.whole_max_tokens

    def whole_s(self, max_tokens: int) -> float:
        """How long to wait for an answer asked for whole: the first token's allowance and the
        output at the slowest rate the SDK's rule counts on."""
        return self.first_token_s + max_tokens * SECONDS_PER_TOKEN


WHOLE_MAX_TOKENS = Deadlines.whole_max_tokens
SECONDS_PER_TOKEN = 3600 / 128_000  # the SDK's slowest output: 128,000 tokens an hour


class Ports(Protocol):
    """What an execution asks of the runtime: health, the gate, the budget, prices, and what
    evidence about credentials means (`service.executions.daemon_ports` answers it)."""

    def health(self, provider: ProviderId) -> HealthTracker: ...

    def gate(self, provider: ProviderId) -> Gate:
        """The provider's concurrency gate (the wave governor)."""
        ...

    def priced(self, model: str, usage: Usage) -> Usage:
        """`usage` with its cost for `model`."""
        ...

    def admit(self, provider: ProviderId) -> None:
        """Raise what refuses a request before any upstream call (a spent budget)."""
        ...

    def traffic(self, provider: ProviderId) -> None: ...

    def forget_client(self, provider: ProviderId, credential: Credential) -> None: ...

    def session_failed(
        self, provider: ProviderId, error: ProviderError
    ) -> tuple[Credential, bool] | ProviderError:
        """The session was rejected or could not be refreshed: the credential to go on with
        (and whether that is a fallback), or the error that ends the execution."""
        ...

    def key_evidence(
        self, provider: ProviderId, credential: Credential, error: ProviderError | None
    ) -> None:
        """What an attempt with `credential` said of its API key (None: it worked)."""
        ...


@dataclass
class Attempts:
    """Bookkeeping across attempts."""

    count: int = 0
    retries: int = 0
    reread_session: bool = False
    fallback_applied: bool = False
