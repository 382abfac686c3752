"""Daemon-wide settings."""

from __future__ import annotations

from pydantic import Field

from contracts.base import JsonBool, ProviderId, Request, Response


class DaemonSettings(Response):
    """Settings that are not about one provider."""

    default_provider: ProviderId | None = Field(
        default=None, description="Used when a request names no provider; None: first usable."
    )
    openai_chatgpt_backend: bool = Field(
        default=False,
        description=(
            "Opt in to using a Codex CLI ChatGPT-plan sign-in through the Codex backend, which "
            "OpenAI has not documented for third-party applications."
        ),
    )


class DaemonSettingsUpdate(Request):
    """A partial update: omitted fields keep their value; `default_provider: null` clears it."""

    default_provider: ProviderId | None = None
    openai_chatgpt_backend: JsonBool | None = None
