"""Shared vocabulary: provider ids, auth modes and the strict/open model bases."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    Strict,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import core_schema

PROVIDER_ID_PATTERN = r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$"
_PROVIDER_ID = re.compile(PROVIDER_ID_PATTERN)


class ProviderId(str):
    """A model provider the daemon reaches: a built-in one (`anthropic`, `openai`) or one a user
    added. An open set of strings, not an enum: 2 to 32 characters, lower-case letters, digits
    and inner hyphens, starting with a letter. Whether an id names a provider the daemon knows is
    the provider book's question (`ProviderBook.known`), not the type's."""

    __slots__ = ()
    ANTHROPIC: ClassVar[ProviderId]
    OPENAI: ClassVar[ProviderId]

    def __new__(cls, value: str) -> ProviderId:
        if isinstance(value, ProviderId):
            return value
        if not isinstance(value, str) or not _PROVIDER_ID.fullmatch(value):
            raise ValueError(
                f"{str(value)[:40]!r} is not a provider id: 2 to 32 lower-case letters, digits "
                "and inner hyphens, starting with a letter"
            )
        return super().__new__(cls, value)

    @property
    def value(self) -> str:
        """The id as a plain string."""
        return str.__str__(self)

    def __repr__(self) -> str:
        return f"ProviderId({self.value!r})"

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> Any:
        return core_schema.no_info_after_validator_function(
            cls,
            core_schema.str_schema(pattern=PROVIDER_ID_PATTERN, min_length=2, max_length=32),
            serialization=core_schema.plain_serializer_function_ser_schema(str.__str__),
            ref="ProviderId",
        )

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: Any, handler: GetJsonSchemaHandler) -> Any:
        json_schema = handler(schema)
        target = handler.resolve_ref_schema(json_schema)
        target["description"] = (
            "A provider: a built-in one (anthropic, openai) or one a user added."
        )
        target["examples"] = [provider.value for provider in BUILT_IN]
        return json_schema


ProviderId.ANTHROPIC = ProviderId("anthropic")
ProviderId.OPENAI = ProviderId("openai")
# The providers that ship with the daemon, in the order they are listed.
BUILT_IN: tuple[ProviderId, ...] = (ProviderId.ANTHROPIC, ProviderId.OPENAI)


class AuthMode(StrEnum):
    """How a provider is authenticated: a stored API key, a session held by local tooling, or
    nothing (an endpoint a user added that asks for no credential, such as a local Ollama)."""

    API_KEY = "api_key"
    TOKEN_SESSION = "token_session"
    NONE = "none"


# What a user may ask for in a provider's settings (`none` follows from an added endpoint's
# `auth`, never from a setting).
RequestedAuth = Literal[AuthMode.API_KEY, AuthMode.TOKEN_SESSION]


class Request(BaseModel):
    """Base of every request body: unknown fields are an error, never silently dropped."""

    model_config = ConfigDict(extra="forbid")


def _number_not_text(value: Any) -> Any:
    if isinstance(value, str | bool):
        raise ValueError("expected a JSON number")
    return value


# JSON's own types, as JSON Schema reads them: "true" is not true and "1" is not 1, while 1.0
# is an integer.
JsonBool = Annotated[bool, Strict()]
JsonInt = Annotated[int, BeforeValidator(_number_not_text)]
JsonFloat = Annotated[float, BeforeValidator(_number_not_text)]


# Bounds on text the daemon stores (the README's security section lists them all).
MAX_MODEL_ID = 256
ModelId = Annotated[str, Field(min_length=1, max_length=MAX_MODEL_ID)]
# Tags are shown and stored as given: printable text, tabs allowed, no other control character
# (a NUL would be cut by C code on the way to the ledger).
PRINTABLE = r"^[^\x00-\x08\x0a-\x1f\x7f-\x9f]*$"
MAX_TAG = 128
MAX_TAGS = 32
_MetadataKey = Annotated[str, Field(min_length=1, max_length=64, pattern=PRINTABLE)]
_MetadataValue = Annotated[str, Field(max_length=MAX_TAG, pattern=PRINTABLE)]
# Written out: pydantic would describe a key pattern as `patternProperties`, which says
# something else (keys that match need such values; others may have any).
Metadata = Annotated[
    dict[_MetadataKey, _MetadataValue],
    Field(max_length=MAX_TAGS),
    WithJsonSchema(
        {
            "type": "object",
            "maxProperties": MAX_TAGS,
            "propertyNames": {"minLength": 1, "maxLength": 64, "pattern": PRINTABLE},
            "additionalProperties": {"type": "string", "maxLength": MAX_TAG, "pattern": PRINTABLE},
        }
    ),
]


def _type_is_required(schema: dict[str, Any]) -> None:
    required = schema.setdefault("required", [])
    if "type" not in required:
        required.insert(0, "type")


class Block(Request):
    """A content block: it always names its `type`, on the wire as in code."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_type_is_required)

    @model_validator(mode="before")
    @classmethod
    def _named(cls, data: Any) -> Any:
        if isinstance(data, dict) and "type" not in data:
            raise ValueError("a content block needs its 'type'")
        return data


class Response(BaseModel):
    """Base of every response and event body."""

    model_config = ConfigDict(extra="forbid", use_enum_values=False)
