"""A wire: a protocol many providers speak. A provider is an authenticated endpoint (a built-in
one in `adapters.specs`, or one a user added); a wire is how requests to it are spoken (the
split pydantic-ai makes between a provider and a model's wire).

Each wire is one folder in adapters/ whose `wire.py` declares one `Wire`, registered once in
`adapters.wires`. Everything outside the folder that depends on the protocol asks the provider's
wire: its adapter, the request APIs it offers (`WireFormat`, each with its capability table),
its compatible routes and their documented bodies, its error shape, where its key goes, its
fake (which demo mode runs too), and its rows of the price table.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from contracts.base import ProviderId

if TYPE_CHECKING:
    from adapters.base import ProviderAdapter
    from adapters.capabilities import CapabilityTable
    from adapters.fakes.server import FakeServer
    from contracts.errors import ProviderError

# A model id in a path: one segment (no `/`; `.` and `..` are not ids), at most 256 characters.
MODEL_SEGMENT = r"(?!\.+$)[A-Za-z0-9._:@-]{1,256}"
MODEL_ID = "{model_id}"


@dataclass(frozen=True)
class CompatRoute:
    """One upstream path the wire's compatible routes pass through."""

    method: str
    path: str  # relative to the provider's base URL; `{model_id}` stands for one model id
    billable: bool  # through the budget, the governor and the ledger (listings are not)
    # What the provider requires of a POST body (JSON Schema `required` and `properties`);
    # the provider judges the rest.
    body: Mapping[str, Any] | None = None
    # A body the provider takes, but for its `model` (the document adds the default model).
    example: Mapping[str, Any] | None = None

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        """The upstream paths this route matches."""
        return re.compile(re.escape(self.path).replace(re.escape(MODEL_ID), MODEL_SEGMENT))


@dataclass(frozen=True)
class WireFormat:
    """One request API of a wire, as an added provider's `wire` field names it."""

    id: str  # e.g. "openai-chat"
    label: str  # e.g. "OpenAI Chat Completions": how the page and the CLI name it
    capabilities: CapabilityTable


@dataclass(frozen=True)
class ErrorShape:
    """How the wire's own API says an error: the daemon's errors on its compatible routes take
    this shape (so the provider's SDK raises its own exception types)."""

    schema_name: str  # its name among the OpenAPI document's schemas
    schema: Mapping[str, Any]  # its JSON Schema (the taxonomy body is `#/.../ErrorBody`)
    body: Callable[[ProviderError, int, str | None], dict[str, Any]]  # error, status, id


@dataclass(frozen=True)
class AdapterOptions:
    """What an adapter is built with: whose endpoint, which of the wire's formats, and how the
    endpoint is reached."""

    provider: ProviderId
    format: str
    base_url: str | None  # None: the provider's public API
    timeout_s: float
    env: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] | None = None  # None: the ones its SDK reads from `env`
    key_header: str | None = None  # None: the wire's own
    verify_tls: bool = True
    built_in: bool = True  # an added provider has no token sessions


@dataclass(frozen=True)
class FakeCredentials:
    """What a wire's fake accepts: API keys, and the session tokens of its provider's tooling;
    `demo` asks for what demo mode shows (thinking, for one)."""

    api_keys: frozenset[str]
    session_tokens: frozenset[str] = frozenset()
    expired_tokens: frozenset[str] = frozenset()  # refused as expired (a revoked sign-in)
    demo: bool = False


@dataclass(frozen=True, eq=False)  # one object per wire: compared and hashed by identity
class Wire:
    """Everything about one protocol that the daemon's other layers need."""

    id: str  # the folder's name; names its operations in the OpenAPI document
    display_name: str
    formats: tuple[WireFormat, ...]
    key_header: str  # where a stored key goes, unless the provider says otherwise
    routes: tuple[CompatRoute, ...]
    errors: ErrorShape
    adapter: Callable[[AdapterOptions], ProviderAdapter]
    fake: Callable[[FakeCredentials], FakeServer]
    # The header its SDK sends a key in when not `authorization`: on its compatible routes the
    # daemon token may come that way (and is never forwarded).
    token_header: str | None = None
    sdk_path: str = ""  # what the SDK's base URL adds to the server's ("/v1" for OpenAI's)
    # Its rows of the price table: a JSON file in a package (its folder), as (package, file).
    prices: tuple[str, str] | None = None
    preload: tuple[str, ...] = ()  # modules its first request imports (loaded off the loop)
    # Headers its API requires on every request (name -> the values it takes), stated as
    # required header parameters of its compatible routes; its SDK always sends them.
    required_headers: Mapping[str, tuple[str, ...]] | None = None

    def format(self, format_id: str) -> WireFormat:
        """One of its formats, by id."""
        return next(f for f in self.formats if f.id == format_id)
