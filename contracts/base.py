"""Shared vocabulary: provider ids, auth modes and the strict/open model bases."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


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


class Response(BaseModel):
    """Base of every response and event body."""

    model_config = ConfigDict(extra="forbid", use_enum_values=False)
