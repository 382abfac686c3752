"""Providers a user adds (issue 29): a local or hosted endpoint that speaks a wire format the
daemon already speaks, named by the user, with its own key (or none) and headers."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    SecretStr,
    WithJsonSchema,
    field_validator,
)
from pydantic_core import PydanticCustomError, core_schema

from contracts.base import PRINTABLE, JsonBool, ModelId, ProviderId, Request, Response

WIRE_FORMAT_PATTERN = r"^[a-z][a-z0-9-]{0,62}[a-z0-9]$"
_WIRE_FORMAT = re.compile(WIRE_FORMAT_PATTERN)


class ProviderWire(str):
    """The wire format an endpoint speaks: one of the formats of a wire the daemon registers
    (`openai-chat`: POST {base_url}/chat/completions, as Ollama, vLLM and OpenRouter take;
    `openai-responses`: POST {base_url}/responses; `anthropic-messages`: POST
    {base_url}/v1/messages; or one a wire added at build time offers). An open set of strings:
    whether a wire speaks it is the registry's question (`adapters.wires.Wires.speaking`), and
    the OpenAPI document lists the formats of the wires the daemon was built with."""

    __slots__ = ()

    def __new__(cls, value: str) -> ProviderWire:
        if isinstance(value, ProviderWire):
            return value
        if not isinstance(value, str) or not _WIRE_FORMAT.fullmatch(value):
            raise ValueError(f"{str(value)[:40]!r} is not a wire format")
        return super().__new__(cls, value)

    @property
    def value(self) -> str:
        """The format as a plain string."""
        return str.__str__(self)

    def __repr__(self) -> str:
        return f"ProviderWire({self.value!r})"

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> Any:
        return core_schema.no_info_after_validator_function(
            cls,
            core_schema.str_schema(pattern=WIRE_FORMAT_PATTERN, max_length=64),
            serialization=core_schema.plain_serializer_function_ser_schema(str.__str__),
            ref="ProviderWire",
        )

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: Any, handler: GetJsonSchemaHandler) -> Any:
        # The formats themselves are the registry's: `service.http.openapi` lists them.
        json_schema = handler(schema)
        target = handler.resolve_ref_schema(json_schema)
        target.clear()
        target.update({"type": "string", "title": "ProviderWire", "description": WIRE_DESCRIPTION})
        return json_schema


WIRE_DESCRIPTION = "The wire format an endpoint speaks."


class EndpointAuth(StrEnum):
    """How the daemon authenticates to the endpoint: the key stored for it, or nothing (a local
    server that asks for none)."""

    API_KEY = "api_key"
    NONE = "none"


class KeyHeader(StrEnum):
    """The header the key goes in: `authorization` (as `Bearer <key>`: OpenAI and most
    compatible servers), `api-key` (Azure OpenAI) or `x-api-key` (Anthropic's wire)."""

    AUTHORIZATION = "authorization"
    API_KEY = "api-key"
    X_API_KEY = "x-api-key"


MAX_BASE_URL = 2048
MAX_HEADERS = 16
# RFC 9110's token characters: what a header name may hold.
HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$")
# Headers the daemon sets itself (the key's, the transport's): a user's value would either
# carry a secret outside the key store or break the request.
RESERVED_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "api-key",
        "x-api-key",
        "cookie",
        "host",
        "content-length",
        "content-type",
        "transfer-encoding",
        "connection",
        "te",
        "upgrade",
        "expect",
    }
)

HeaderValue = Annotated[str, Field(max_length=1024, pattern=r"^[^\x00-\x1f\x7f]*$")]
# Written out, as contracts.base.Metadata is: the names' pattern as `propertyNames`.
Headers = Annotated[
    dict[str, HeaderValue],
    WithJsonSchema(
        {
            "type": "object",
            "maxProperties": MAX_HEADERS,
            "propertyNames": {"pattern": HEADER_NAME.pattern},
            "additionalProperties": {
                "type": "string",
                "maxLength": 1024,
                "pattern": r"^[^\x00-\x1f\x7f]*$",
            },
        }
    ),
]
DisplayName = Annotated[str, Field(min_length=1, max_length=64, pattern=PRINTABLE)]


class EndpointSpec(Request):
    """A provider a user added, as it is stored and listed (its key is never part of it)."""

    id: ProviderId
    display_name: DisplayName
    wire: ProviderWire
    base_url: str = Field(
        min_length=1,
        max_length=MAX_BASE_URL,
        # \x85 written out: `\s` holds U+0085 for the daemon's validator, not for ECMA regex
        # (the document's dialect) or the generators that read it.
        pattern=r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s\x85/?#]+",
        examples=["http://127.0.0.1:11434/v1", "https://openrouter.ai/api/v1"],
        description="https:// (http:// only to this machine, or with allow_insecure); a query "
        "such as Azure's api-version is sent with every request.",
    )
    auth: EndpointAuth = EndpointAuth.API_KEY
    key_header: KeyHeader | None = Field(
        default=None,
        description="Where the key goes; null: the wire's own (authorization for the OpenAI "
        "wires, x-api-key for anthropic-messages).",
    )
    default_model: ModelId | None = Field(
        default=None, description="Used when a request names no model."
    )
    headers: Headers = Field(
        default_factory=dict,
        max_length=MAX_HEADERS,
        description="Extra headers sent with every request (not the key's: that is stored "
        "with PUT /v1/providers/{provider}/api-key).",
    )
    allow_insecure: JsonBool = Field(
        default=False,
        description="Allow plain http:// to another machine (a key sent over it can be read "
        "on the network).",
    )
    verify_tls: JsonBool = Field(
        default=True,
        description="Check the endpoint's TLS certificate. false accepts any certificate (a "
        "self-signed one on a private server): an explicit opt-in, shown on the status page.",
    )

    @field_validator("headers")
    @classmethod
    def _headers(cls, headers: dict[str, str]) -> dict[str, str]:
        seen: set[str] = set()
        for name in headers:
            lowered = name.lower()
            if not HEADER_NAME.fullmatch(name):
                raise ValueError(f"{name[:40]!r} is not a header name")
            if lowered in RESERVED_HEADERS:
                raise PydanticCustomError(
                    "reserved_header",
                    f"{name} is set by the daemon (a key goes to the key store, never in a "
                    "header here)",
                )
            if lowered in seen:
                raise PydanticCustomError("reserved_header", f"{name} is given twice")
            seen.add(lowered)
        return headers


class EndpointAdd(EndpointSpec):
    """`POST /v1/providers`: the provider, and optionally its key (stored like any other key:
    in the OS keyring or the 0600 file, and never shown again)."""

    api_key: SecretStr | None = Field(default=None, max_length=4096)


class EndpointView(Response):
    """A provider a user added, with where its URL points."""

    spec: EndpointSpec
    scope: str = Field(description="loopback, private or public: where base_url points.")
    insecure: bool = Field(description="Whether requests cross a network in plain http.")
