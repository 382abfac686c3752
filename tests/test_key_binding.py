"""A stored key reaches only the origin it was stored for (issue 29): with the built-in providers
and three added ones (an Ollama-like endpoint that takes a key, an Azure-like one, one without
auth) and one whose endpoint redirects elsewhere, every route that goes upstream is called for
every provider; then every request every fake server received is searched for every key. Each
server saw its own key only, the daemon's token never, and the redirect was not followed."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest

from adapters.fakes.azure import AzureResource, FakeAzure
from adapters.fakes.http11 import FakeRequest
from adapters.fakes.ollama import FakeOllama
from service.executions.retry import RetryPolicy
from service.process.config import DaemonConfig
from tests.support import ANTHROPIC_KEY, OPENAI_KEY, LiveServer, Upstreams, make_runtime

OLLAMA_KEY = "ollama-proxy-key-7f3a9c2e5b1d"
AZURE_KEY = "azure-key-0123456789abcdef0123456789abcd"
MOVED_KEY = "moved-endpoint-key-4e8b2a6c"


@pytest.fixture
def servers() -> Iterator[dict[str, Any]]:
    keyed, azure, open_, moved = (
        FakeOllama(),
        FakeAzure(AzureResource(keys={AZURE_KEY})),
        FakeOllama(),
        FakeOllama(),
    )
    with keyed.in_thread(), azure.in_thread(), open_.in_thread(), moved.in_thread():
        yield {"keyed": keyed, "azure": azure, "open": open_, "moved": moved}


def _providers(servers: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "id": "keyed",
            "display_name": "Ollama behind a proxy",
            "wire": "openai-chat",
            "base_url": f"{servers['keyed'].url}/v1",
            "api_key": OLLAMA_KEY,
            "default_model": "llama3.2:latest",
        },
        {
            "id": "azure",
            "display_name": "Azure",
            "wire": "openai-chat",
            "base_url": f"{servers['azure'].url}/openai/deployments/chat?api-version=2024-10-21",
            "key_header": "api-key",
            "api_key": AZURE_KEY,
            "default_model": "gpt-4o",
        },
        {
            "id": "open",
            "display_name": "Ollama",
            "wire": "openai-chat",
            "base_url": f"{servers['open'].url}/v1",
            "auth": "none",
            "default_model": "llama3.2:latest",
        },
        {
            # Its server answers every request with a redirect to the keyed one.
            "id": "moved",
            "display_name": "Moved",
            "wire": "openai-chat",
            "base_url": f"{servers['moved'].url}/v1",
            "api_key": MOVED_KEY,
            "default_model": "llama3.2:latest",
        },
    ]


def _seen(request: FakeRequest) -> str:
    """Everything a server could read of a request."""
    return json.dumps([request.path, request.query, request.headers]) + request.body.decode(
        "utf-8", "replace"
    )


def _every_route(daemon: LiveServer, provider: str, token: str) -> None:
    """Every route that reaches a provider, once each (their answers do not matter here)."""
    ask = {"provider": provider, "messages": [{"role": "user", "content": "hello"}]}
    with daemon.client() as http:
        http.post("/v1/executions", json=ask)
        with http.stream("POST", "/v1/executions", json={**ask, "stream": True}) as streamed:
            streamed.read()
        http.get("/v1/models", params={"provider": provider, "refresh": "true"})
        http.post(f"/v1/providers/{provider}/check")
    base = f"{daemon.url}/providers/{provider}"
    if provider == "anthropic":
        client = anthropic.Anthropic(base_url=base, api_key=token, max_retries=0)
        for call in (
            lambda: client.messages.create(
                model="claude-sonnet-5-5", max_tokens=8, messages=[{"role": "user", "content": "x"}]
            ),
            lambda: client.models.list(),
        ):
            with contextlib.suppress(anthropic.APIError):
                call()
        return
    sdk = openai.OpenAI(base_url=base, api_key=token, max_retries=0)
    for request in (
        lambda: sdk.chat.completions.create(
            model="llama3.2:latest", messages=[{"role": "user", "content": "x"}]
        ),
        lambda: sdk.models.list(),
    ):
        with contextlib.suppress(openai.APIError):
            request()


def test_a_stored_key_goes_only_to_the_origin_it_was_stored_for(
    config: DaemonConfig, fakes: Upstreams, servers: dict[str, Any]
) -> None:
    servers["moved"].redirect_to = f"{servers['keyed'].url}/v1/chat/completions"
    runtime = make_runtime(
        config, adapters=fakes.adapters(), watch=False, policy=RetryPolicy(max_retries=0)
    )
    with LiveServer.start(config, runtime) as daemon, daemon.client() as http:
        http.put("/v1/providers/anthropic/api-key", json={"api_key": ANTHROPIC_KEY})
        http.put("/v1/providers/openai/api-key", json={"api_key": OPENAI_KEY})
        for body in _providers(servers):
            added = http.post("/v1/providers", json=body)
            assert added.status_code == 201, added.text
        moved = http.post(
            "/v1/executions",
            json={"provider": "moved", "messages": [{"role": "user", "content": "x"}]},
        )
        assert moved.json()["code"] == "invalid_request", moved.text
        assert "does not follow redirects" in moved.json()["message"]
        for provider in ("anthropic", "openai", "keyed", "azure", "open", "moved"):
            _every_route(daemon, provider, config.token)

    own = {
        "anthropic": (fakes.anthropic, ANTHROPIC_KEY),
        "openai": (fakes.openai, OPENAI_KEY),
        "keyed": (servers["keyed"], OLLAMA_KEY),
        "azure": (servers["azure"], AZURE_KEY),
        "open": (servers["open"], None),
        "moved": (servers["moved"], MOVED_KEY),
    }
    keys = {ANTHROPIC_KEY, OPENAI_KEY, OLLAMA_KEY, AZURE_KEY, MOVED_KEY}
    for name, (server, key) in own.items():
        assert server.requests, f"{name} was never reached"
        for request in server.requests:
            seen = _seen(request)
            assert config.token not in seen, (name, request.path)
            for other in keys - {key}:
                assert other not in seen, (name, request.path, "holds another provider's key")
        if key is not None:
            unkeyed = [
                _seen(r)[:300]
                for r in server.requests
                if r.method == "POST" and key not in _seen(r)
            ]
            assert not unkeyed, (name, unkeyed)
