"""The adapter for a provider a user added (issue 29): the built-in adapter of the wire it
speaks, given its id, base URL, headers and how its key travels. Nothing else differs: the same
wire path, error mapping and relays serve it."""

from __future__ import annotations

from adapters.base import ProviderAdapter
from contracts.endpoints import EndpointSpec, KeyHeader, ProviderWire


def adapter_for(spec: EndpointSpec, timeout_s: float = 600.0) -> ProviderAdapter:
    """A fresh adapter for `spec` (its pooled client is built on first use)."""
    if spec.wire is ProviderWire.ANTHROPIC_MESSAGES:
        from adapters.anthropic.adapter import AnthropicAdapter

        return AnthropicAdapter(
            spec.base_url,
            timeout_s=timeout_s,
            provider=spec.id,
            headers=spec.headers,
            key_header=(spec.key_header or KeyHeader.X_API_KEY).value,
            verify_tls=spec.verify_tls,
        )
    from adapters.openai.adapter import OpenAIAdapter

    return OpenAIAdapter(
        spec.base_url,
        timeout_s,
        wire_api="chat" if spec.wire is ProviderWire.OPENAI_CHAT else "responses",
        provider=spec.id,
        headers=spec.headers,
        key_header=(spec.key_header or KeyHeader.AUTHORIZATION).value,
        verify_tls=spec.verify_tls,
    )
