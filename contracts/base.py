"""Shared vocabulary: provider ids, auth modes and the strict/open model bases."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    WithJsonSchema,
    model_validator,
)


class ProviderId(StrEnum):
    """A model provider the daemon reaches."""

    ANTHROPIC = "anthropic"
    OPENAI = "openai"


class AuthMode(StrEnum):
    """How a provider is authenticated: a stored API key or a session held by local tooling."""

    API_KEY = "api_key"
    TOKEN_SESSION = "token_session"


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
