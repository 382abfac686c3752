"""One `ProviderSpec` per built-in provider: the facts about it that the rest of the code reads,
declared once. A provider is an authenticated endpoint; how it is spoken is its wire
(`adapters.wire`), named here by id. Adding a built-in provider is one entry here (and its
session source, or `NO_SESSIONS`); adding a protocol is a wire folder."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from adapters.anthropic.sessions import AnthropicSessions
from adapters.openai.sessions import CodexSessions
from adapters.sessions import SessionKind, SessionSource
from contracts.base import ProviderId
from contracts.models import ModelCapabilities
from contracts.options import ReasoningEffort


@dataclass(frozen=True)
class RefusedKey:
    """A value that looks like a key but must not be stored for this provider, and why."""

    prefix: str
    message: str
    remediation: str


@dataclass(frozen=True)
class ProviderSpec:
    """What is true of a provider whatever the credential or request."""

    id: ProviderId
    display_name: str
    wire: str  # the id of the wire it speaks (`adapters.wires`)
    format: str  # which of that wire's formats it speaks
    compat_prefix: str  # where its compatible routes are served (`/anthropic`)
    key_env: str  # the API key variable its SDK reads
    base_url_env: str  # the base-URL variable its SDK reads
    default_model: str
    # The built-in model list (id, display name, what it takes), newest first as the provider
    # lists them: the fallback when no live list can be fetched or says nothing.
    catalogue: tuple[tuple[str, str | None, ModelCapabilities], ...]
    console: str  # where a person creates an API key
    sessions: SessionSource  # the token session its own tooling holds
    renew: Mapping[SessionKind, str]  # how a person renews each kind of session it rejects
    refused_keys: tuple[RefusedKey, ...] = ()


_EFFORTS = [ReasoningEffort(level) for level in ("low", "medium", "high", "xhigh", "max")]
# What the catalogue's models take (the providers' model pages, read 2026-12).
CLAUDE = ModelCapabilities(
    reasoning=True,
    efforts=_EFFORTS,
    thinking=["adaptive", "disabled"],
    images=True,
    documents=True,
    structured_output=True,
    caching=True,
)
GPT = ModelCapabilities(
    reasoning=True,
    efforts=[ReasoningEffort(level) for level in ("none", "low", "medium", "high", "xhigh")],
    images=True,
    documents=True,
    structured_output=True,
    caching=True,
)

ANTHROPIC = ProviderSpec(
    id=ProviderId.ANTHROPIC,
    display_name="Anthropic",
    wire="anthropic",
    format="anthropic-messages",
    compat_prefix="/anthropic",
    key_env="ANTHROPIC_API_KEY",
    base_url_env="ANTHROPIC_BASE_URL",
    default_model="claude-sonnet-5-5",
    catalogue=(
        ("claude-opus-5-5", "Claude Opus 5.5", CLAUDE),
        ("claude-sonnet-5-5", "Claude Sonnet 5.5", CLAUDE),
        ("claude-haiku-5-5", "Claude Haiku 5.5", CLAUDE),
    ),
    console="console.anthropic.com",
    sessions=AnthropicSessions(),
    renew={
        SessionKind.ANTHROPIC_PROFILE: "Run `ant auth login` to sign in again, or add an API key.",
        SessionKind.ANTHROPIC_ENV_TOKEN: "Set a fresh ANTHROPIC_AUTH_TOKEN and restart the daemon.",
    },
    refused_keys=(
        RefusedKey(
            "sk-ant-oat",
            "That is a Claude subscription (OAuth) token, not an API key; Anthropic does not "
            "permit its use by other applications.",
            "Create an API key at console.anthropic.com, or sign in with `ant auth login`.",
        ),
    ),
)

OPENAI = ProviderSpec(
    id=ProviderId.OPENAI,
    display_name="OpenAI",
    wire="openai",
    format="openai-responses",
    compat_prefix="/openai/v1",
    key_env="OPENAI_API_KEY",
    base_url_env="OPENAI_BASE_URL",
    default_model="gpt-5.5",
    catalogue=(("gpt-5.5", None, GPT), ("gpt-5.4", None, GPT), ("gpt-5.4-mini", None, GPT)),
    console="platform.openai.com",
    sessions=CodexSessions(),
    renew={
        SessionKind.CODEX_API_KEY: "Run `codex login --with-api-key` again, or add an API key.",
        SessionKind.CODEX_CHATGPT: "Run `codex login` to sign in again, or add an API key.",
    },
    refused_keys=(
        RefusedKey(
            "sk-ant-",
            "That is an Anthropic key, not an OpenAI key.",
            "Store it for anthropic instead.",
        ),
    ),
)

SPECS: dict[ProviderId, ProviderSpec] = {spec.id: spec for spec in (ANTHROPIC, OPENAI)}


def name_of(provider: ProviderId) -> str:
    """How messages name `provider`: a built-in one's display name, an added one's id (the name
    the user gave it in settings, routes and the CLI)."""
    spec = SPECS.get(provider)
    return spec.display_name if spec is not None else provider.value
