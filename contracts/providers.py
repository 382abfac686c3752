"""Provider status, settings and API-key requests."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field, SecretStr

from contracts.base import (
    AuthMode,
    JsonBool,
    JsonFloat,
    JsonInt,
    ProviderId,
    Request,
    RequestedAuth,
    Response,
)
from contracts.endpoints import EndpointView
from contracts.error_body import ErrorBody
from contracts.usage import BudgetState, GovernorState

KEY_PATTERN = r"^[A-Za-z0-9_.:+/=-]+$"


class ApiKeyStateName(StrEnum):
    """Whether a usable API key is known for the provider."""

    CONFIGURED = "configured"
    MISSING = "missing"
    INVALID = "invalid"


class TokenSessionStateName(StrEnum):
    """What the provider's local tooling holds, as far as the daemon may use it."""

    ACTIVE = "active"
    EXPIRING = "expiring"
    EXPIRED = "expired"
    MISSING = "missing"
    NOT_PERMITTED = "not_permitted"
    DISABLED = "disabled"
    ERROR = "error"
    UNSUPPORTED = "unsupported"  # an endpoint a user added: it has no local tooling


class HealthStateName(StrEnum):
    """Provider health as seen from real traffic and explicit checks."""

    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNAVAILABLE = "unavailable"
    UNKNOWN = "unknown"


class BreakerState(StrEnum):
    """The provider's circuit breaker."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class ApiKeyState(Response):
    """The API key credential. The key itself never leaves the daemon."""

    state: ApiKeyStateName
    source: str | None = Field(
        default=None, description="Where the key in force comes from: keyring:<backend>, file, env."
    )
    hint: str | None = Field(default=None, description="A masked hint: the last 4 characters.")
    store: str | None = Field(
        default=None, description="Where a key saved now would be kept: keyring:<backend> or file."
    )
    remediation: str | None = None


class TokenSessionState(Response):
    """The token session credential held by the provider's own local tooling."""

    state: TokenSessionStateName
    kind: str | None = Field(default=None, description="Which tooling holds the session.")
    source: str | None = Field(
        default=None, description="Path or variable the session was read from."
    )
    expires_at: datetime | None = None
    account: str | None = Field(default=None, description="A label for the signed-in account.")
    remediation: str | None = None
    refreshable: bool = Field(
        default=False, description="An expired access token is renewed on the next request."
    )


class ProviderHealth(Response):
    """Health of one provider."""

    state: HealthStateName = HealthStateName.UNKNOWN
    breaker: BreakerState = BreakerState.CLOSED
    checked_at: datetime | None = None
    latency_ms: float | None = None
    consecutive_failures: int = 0
    cooldown_until: datetime | None = None
    last_failure: str | None = Field(
        default=None, description="The provider's last fault, while it is degraded or paused."
    )


class ProviderCapabilities(Response):
    """What the provider's current API accepts, so the shell can adapt its requests. A request
    that uses a parameter marked false is refused with 422 before any upstream call."""

    temperature: bool
    top_p: bool
    stop: bool
    thinking: bool = Field(description="Whether `reasoning` is taken.")
    tools: bool
    tool_choice: bool
    response_format: bool = False
    cache: bool = Field(default=False, description="Whether prompt caching can be asked for.")
    images: bool = False
    documents: bool = False
    model_listing: bool
    token_sessions: bool


class ProviderSettings(Response):
    """User settings for one provider, persisted across restarts."""

    preferred_auth_mode: RequestedAuth = AuthMode.API_KEY
    allow_api_key_fallback: bool = True
    default_model: str | None = None
    daily_budget_usd: float | None = Field(
        default=None, description="Refuse executions once today's cost reaches it; null: none."
    )
    max_concurrent: int = Field(
        default=8, description="At most this many executions upstream at once; more wait."
    )


class ProviderStatus(Response):
    """Everything the shell shows about one provider."""

    id: ProviderId
    display_name: str
    demo: bool = Field(default=False, description="True when the daemon runs against demo fakes.")
    requested_mode: AuthMode
    resolved_mode: AuthMode | None = Field(description="The mode requests would use now, if any.")
    fallback_applied: bool
    usable: bool = Field(description="Whether a request to this provider can be attempted now.")
    api_key: ApiKeyState
    token_session: TokenSessionState
    health: ProviderHealth
    capabilities: ProviderCapabilities
    settings: ProviderSettings
    budget: BudgetState
    governor: GovernorState
    last_error: ErrorBody | None = None
    endpoint: EndpointView | None = Field(
        default=None, description="For a provider a user added: where it points and how."
    )
    updated_at: datetime


class ProviderList(Response):
    """All providers and the one used when a request names none."""

    default_provider: ProviderId | None
    providers: list[ProviderStatus]


class ProviderSettingsUpdate(Request):
    """A partial update: omitted fields keep their value; `default_model: null` clears it."""

    preferred_auth_mode: RequestedAuth | None = None
    allow_api_key_fallback: JsonBool | None = None
    default_model: str | None = Field(default=None, min_length=1, max_length=256)
    daily_budget_usd: JsonFloat | None = Field(
        default=None, ge=0, le=1_000_000, description="`null` removes the budget."
    )
    max_concurrent: JsonInt | None = Field(default=None, ge=1, le=256)


class ApiKeyPut(Request):
    """Store an API key for a provider. The key is write-only: it is never returned."""

    api_key: SecretStr = Field(
        min_length=8,
        max_length=512,
        # Documented here, enforced by the daemon's key check (constraints cannot see into
        # SecretStr): the same characters as service/providers/credentials/keystore.py allows.
        json_schema_extra={"writeOnly": True, "pattern": KEY_PATTERN},
        description="The key as the provider's console shows it.",
    )
    verify: JsonBool = Field(
        default=False, description="Probe the provider with the key before storing."
    )
