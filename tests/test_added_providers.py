"""Providers a user adds (issue 29), end to end on a live daemon: added over HTTP against the
Ollama-like and Azure-like fakes, then used as the built-in ones are (status, models, executions
whole and streamed with tools, usage, the ledger, events), surviving a restart, and removed with
their key."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import httpx2
import openai
import pytest

from adapters.fakes.azure import AzureResource, FakeAzure
from adapters.fakes.ollama import FakeOllama, OllamaModels
from service.executions.retry import RetryPolicy
from service.process.config import DaemonConfig
from tests.fakes_keyring import MemoryKeyring
from tests.support import (
    ANTHROPIC_KEY,
    LiveServer,
    Upstreams,
    loopback,
    make_runtime,
    read_sse,
)

AZURE_KEY = "azure-key-0123456789abcdef0123456789abcd"
API_VERSION = "2024-10-21"
TOOLS = [
    {
        "name": "get_weather",
        "description": "Weather for a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
]


@pytest.fixture
def ollama() -> Iterator[FakeOllama]:
    fake = FakeOllama(OllamaModels(without_tools={"qwen2.5-coder:7b"}))
    with fake.in_thread():
        yield fake


@pytest.fixture
def azure() -> Iterator[FakeAzure]:
    fake = FakeAzure(AzureResource(keys={AZURE_KEY}))
    with fake.in_thread():
        yield fake


def _start(config: DaemonConfig, fakes: Upstreams, keyring: Any = None) -> Any:
    runtime = make_runtime(
        config,
        keyring,
        adapters=fakes.adapters(),
        watch=False,
        policy=RetryPolicy(max_retries=0),
    )
    return LiveServer.start(config, runtime)


def _ollama(fake: FakeOllama, **extra: Any) -> dict[str, Any]:
    return {
        "id": "ollama",
        "display_name": "Ollama on this machine",
        "wire": "openai-chat",
        "base_url": f"{fake.url}/v1",
        "auth": "none",
        "default_model": "llama3.2:latest",
        **extra,
    }


def _azure(fake: FakeAzure) -> dict[str, Any]:
    return {
        "id": "azure-work",
        "display_name": "Work Azure",
        "wire": "openai-chat",
        "base_url": f"{fake.url}/openai/deployments/chat?api-version={API_VERSION}",
        "key_header": "api-key",
        "api_key": AZURE_KEY,
        "headers": {"x-team": "agents"},
    }


def _ask(text: str, provider: str, **extra: Any) -> dict[str, Any]:
    return {"provider": provider, "messages": [{"role": "user", "content": text}], **extra}


def test_an_added_ollama_serves_like_a_built_in_provider(
    config: DaemonConfig, fakes: Upstreams, ollama: FakeOllama
) -> None:
    with _start(config, fakes) as daemon, daemon.client() as http:
        added = http.post("/v1/providers", json=_ollama(ollama))
        assert added.status_code == 201, added.text
        status = added.json()
        assert status["id"] == "ollama"
        assert status["display_name"] == "Ollama on this machine"
        assert status["usable"] is True
        assert status["resolved_mode"] == "none"
        assert status["requested_mode"] == "none"
        assert status["token_session"]["state"] == "unsupported"
        assert status["capabilities"]["token_sessions"] is False
        assert status["endpoint"]["scope"] == "loopback"
        ids = [p["id"] for p in http.get("/v1/providers").json()["providers"]]
        assert ids == ["anthropic", "openai", "ollama"]

        listing = http.get("/v1/models", params={"provider": "ollama"}).json()["providers"][0]
        assert listing["provenance"] == "live"
        assert [m["id"] for m in listing["models"]] == ["llama3.2:latest", "qwen2.5-coder:7b"]

        whole = http.post("/v1/executions", json=_ask("hello there", "ollama"))
        assert whole.status_code == 200, whole.text
        result = whole.json()
        assert result["provider"] == "ollama"
        assert result["model"] == "llama3.2:latest"
        assert result["content"][0]["text"]
        # Asked for whole, Ollama's answer carries its counts (its streams never do).
        assert result["usage"]["input_tokens"] > 0
        assert result["usage"]["cost_usd"] is None  # a local model is not priced
        sent = ollama.requests[-1]
        assert "stream" not in sent.json()  # whole: Chat Completions' default
        assert "authorization" not in {name.lower() for name in sent.headers}

        with http.stream(
            "POST", "/v1/executions", json=_ask("Paris", "ollama", tools=TOOLS, stream=True)
        ) as streamed:
            events = [event.data for event in read_sse(streamed.iter_lines(), 1000)]
        done = json.loads(events[-1])
        assert done["type"] == "done"
        assert done["result"]["stop_reason"] == "tool_call"
        assert done["result"]["content"][0]["name"] == "get_weather"

        # Ollama's own refusals, in the taxonomy: a model it has not pulled, a model that takes
        # no tools (its model list does not say so, so the endpoint's 400 is what tells).
        missing = http.post("/v1/executions", json=_ask("x", "ollama", model="nope:1b"))
        assert missing.status_code == 404
        assert missing.json()["code"] == "model_not_found"
        assert 'model "nope:1b" not found' in missing.json()["message"]
        coder = _ask("x", "ollama", model="qwen2.5-coder:7b", tools=TOOLS)
        no_tools = http.post("/v1/executions", json=coder)
        assert no_tools.json()["code"] == "invalid_request", no_tools.text
        assert "does not support tools" in no_tools.json()["message"]
        assert http.get("/v1/providers/ollama").json()["usable"] is True

        rows = http.get("/v1/executions", params={"provider": "ollama"}).json()["executions"]
        rows = [row for row in rows if row["outcome"] == "succeeded"]
        assert len(rows) == 2
        # The stream's counts are absent, not zero, in the ledger too (newest row first).
        assert [row["usage"] is None for row in rows] == [True, False]


def test_an_added_provider_survives_a_restart_and_is_removed_with_its_key(
    config: DaemonConfig, fakes: Upstreams, azure: FakeAzure
) -> None:
    keyring = MemoryKeyring()  # the OS keyring outlives the daemon
    with _start(config, fakes, keyring) as daemon, daemon.client() as http:
        added = http.post("/v1/providers", json=_azure(azure))
        assert added.status_code == 201, added.text
        assert added.json()["api_key"]["state"] == "configured"
        assert AZURE_KEY not in added.text
    with _start(config, fakes, keyring) as daemon, daemon.client() as http:
        status = http.get("/v1/providers/azure-work").json()
        assert status["api_key"]["state"] == "configured"
        answer = http.post("/v1/executions", json=_ask("hello", "azure-work", model="gpt-4o"))
        assert answer.status_code == 200, answer.text
        sent = azure.requests[-1]
        assert sent.path == "/openai/deployments/chat/chat/completions"
        assert sent.query["api-version"] == API_VERSION
        assert sent.headers["api-key"] == AZURE_KEY
        assert sent.headers["x-team"] == "agents"
        assert "authorization" not in {name.lower() for name in sent.headers}
        # Azure deployments have no model list: "not offered", and executions still work.
        listing = http.get("/v1/models", params={"provider": "azure-work"}).json()["providers"]
        assert listing[0]["provenance"] == "not_offered"

        # Prices set by the user price it; its budget and the governor hold as for built-ins.
        model = answer.json()["model"]
        price = {"input_usd_per_mtok": 1000.0, "output_usd_per_mtok": 2000.0}
        assert http.put("/v1/settings", json={"prices": {model: price}}).status_code == 200
        priced = http.post("/v1/executions", json=_ask("hello", "azure-work", model="gpt-4o"))
        assert priced.status_code == 200, priced.text
        assert priced.json()["usage"]["cost_usd"] > 0
        limits = {"daily_budget_usd": 0.000001, "max_concurrent": 2}
        status = http.put("/v1/providers/azure-work/settings", json=limits).json()
        assert status["governor"]["max_concurrent"] == 2
        refused = http.post("/v1/executions", json=_ask("hello", "azure-work", model="gpt-4o"))
        assert refused.json()["code"] == "budget_exceeded", refused.text
        assert http.get("/v1/providers/openai").json()["budget"]["exceeded"] is False
        removed = http.delete("/v1/providers/azure-work")
        assert removed.status_code == 204
        gone = http.get("/v1/providers/azure-work")
        assert gone.status_code == 404
        again = http.post("/v1/providers", json={**_azure(azure), "api_key": None})
        assert again.status_code == 201
        assert again.json()["api_key"]["state"] == "missing"
        assert http.delete("/v1/providers/anthropic").status_code == 409
        assert http.delete("/v1/providers/nothing-here").status_code == 404


def test_events_announce_added_and_removed_providers(
    config: DaemonConfig, fakes: Upstreams, ollama: FakeOllama
) -> None:
    kinds: list[str] = []
    subscribed = threading.Event()

    def listen(daemon: LiveServer) -> None:
        with daemon.client() as events, events.stream("GET", "/v1/events") as stream:
            lines = stream.iter_lines()
            while not kinds or kinds[-1] != "provider_removed":
                [event] = read_sse(lines, 1)
                kinds.append(json.loads(event.data)["type"])
                subscribed.set()

    with _start(config, fakes) as daemon, daemon.client() as http:
        listener = threading.Thread(target=listen, args=(daemon,))
        listener.start()
        assert subscribed.wait(5)
        http.post("/v1/providers", json=_ollama(ollama))
        http.delete("/v1/providers/ollama")
        listener.join(10)
    assert kinds[0] == "snapshot"
    assert kinds.index("provider_added") < kinds.index("provider_removed")


def test_sdks_reach_any_provider_by_id_through_the_compatible_routes(
    config: DaemonConfig, fakes: Upstreams, ollama: FakeOllama
) -> None:
    with _start(config, fakes) as daemon, daemon.client() as http:
        http.post("/v1/providers", json=_ollama(ollama))
        http.put("/v1/providers/anthropic/api-key", json={"api_key": ANTHROPIC_KEY})
        client = openai.OpenAI(
            base_url=f"{daemon.url}/providers/ollama", api_key=config.token, max_retries=0
        )
        answer = client.chat.completions.create(
            model="llama3.2:latest", messages=[{"role": "user", "content": "hello there"}]
        )
        assert answer.choices[0].message.content
        assert ollama.requests[-1].path == "/v1/chat/completions"
        assert config.token not in json.dumps(ollama.requests[-1].headers)
        streamed = client.chat.completions.create(
            model="llama3.2:latest",
            messages=[{"role": "user", "content": "hello there"}],
            stream=True,
        )
        assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
        with pytest.raises(openai.NotFoundError) as missing:
            client.chat.completions.create(
                model="no-such-model:1b", messages=[{"role": "user", "content": "x"}]
            )
        assert missing.value.status_code == 404
        claude = anthropic.Anthropic(
            base_url=f"{daemon.url}/providers/anthropic", api_key=config.token, max_retries=0
        )
        message = claude.messages.create(
            model="claude-sonnet-5-5",
            max_tokens=64,
            messages=[{"role": "user", "content": "hi"}],
        )
        assert message.content
        unknown = openai.OpenAI(
            base_url=f"{daemon.url}/providers/nobody", api_key=config.token, max_retries=0
        )
        with pytest.raises(openai.NotFoundError):
            unknown.models.list()


async def test_a_model_the_listing_says_takes_no_tools_is_refused_up_front(
    config: DaemonConfig, client: httpx.AsyncClient
) -> None:
    # OpenRouter's listing says which parameters each model takes.
    listing = {
        "data": [
            {"id": "plain/model", "supported_parameters": ["temperature"]},
            {"id": "tool/model", "supported_parameters": ["tools", "tool_choice"]},
        ]
    }
    calls: list[str] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        calls.append(request.url.path)
        return httpx2.Response(200, json=listing)

    async with loopback(answer) as url:
        body = {"id": "router", "display_name": "Router", "wire": "openai-chat"}
        added = await client.post("/v1/providers", json={**body, "base_url": url, "auth": "none"})
        assert added.status_code == 201, added.text
        models = await client.get("/v1/models", params={"provider": "router"})
        tools = {m["id"]: m["tools"] for m in models.json()["providers"][0]["models"]}
        assert tools == {"plain/model": False, "tool/model": True}
        ask = _ask("x", "router", model="plain/model", tools=TOOLS)
        refused = await client.post("/v1/executions", json=ask)
        assert refused.status_code == 422
        assert refused.json()["details"][0]["loc"] == ["body", "tools"]
        assert calls == ["/models"], "refused before anything was sent"


def test_an_added_anthropic_wire_endpoint_answers_in_anthropic_shape(
    config: DaemonConfig, fakes: Upstreams
) -> None:
    gateway = {
        "id": "gateway",
        "display_name": "Team gateway",
        "wire": "anthropic-messages",
        "base_url": fakes.anthropic.url,
        "api_key": ANTHROPIC_KEY,
        "default_model": "claude-sonnet-5-5",
    }
    with _start(config, fakes) as daemon, daemon.client() as http:
        assert http.post("/v1/providers", json=gateway).status_code == 201
        answer = http.post("/v1/executions", json=_ask("hello gateway", "gateway", tools=TOOLS))
        assert answer.status_code == 200, answer.text
        assert answer.json()["usage"]["input_tokens"] > 0
        assert fakes.anthropic.requests[-1].headers["x-api-key"] == ANTHROPIC_KEY
        # Refused before any route (no token): still the shape of the wire it speaks.
        bare = httpx.post(f"{daemon.url}/providers/gateway/v1/messages", json={})
        assert bare.status_code == 401
        assert bare.json()["type"] == "error"
        assert bare.json()["error"]["type"] == "authentication_error"
        openai_shaped = httpx.post(f"{daemon.url}/providers/nobody/chat/completions", json={})
        assert openai_shaped.json()["error"]["type"]
        # An endpoint has no token session to prefer.
        session = http.put(
            "/v1/providers/gateway/settings", json={"preferred_auth_mode": "token_session"}
        )
        assert session.status_code == 422
        assert session.json()["details"][0]["type"] == "unsupported"


def _self_signed(folder: Path) -> ssl.SSLContext:
    """A server context with a certificate for 127.0.0.1 that nobody signed."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kata test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return context


async def test_a_self_signed_endpoint_is_reached_only_with_the_explicit_opt_in(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    from aiohttp import web

    async def models(_: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "local-model"}]})

    app = web.Application()
    app.router.add_get("/v1/models", models)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=_self_signed(tmp_path))
    await site.start()
    url = f"https://127.0.0.1:{runner.addresses[0][1]}/v1"
    body = {"display_name": "Private box", "wire": "openai-chat", "base_url": url, "auth": "none"}
    try:
        await client.post("/v1/providers", json={**body, "id": "checked"})
        await client.post("/v1/providers", json={**body, "id": "trusted", "verify_tls": False})
        checked = await client.get("/v1/models", params={"provider": "checked"})
        refused = checked.json()["providers"][0]
        assert refused["models"] == []
        assert "certificate of 127.0.0.1" in refused["error"]["message"]
        assert "verify_tls: false" in refused["error"]["remediation"]
        assert refused["error"]["retryable"] is False
        trusted = await client.get("/v1/models", params={"provider": "trusted"})
        listing = trusted.json()["providers"][0]
        assert listing["provenance"] == "live"
        assert [m["id"] for m in listing["models"]] == ["local-model"]
        status = (await client.get("/v1/providers/trusted")).json()
        assert status["endpoint"]["spec"]["verify_tls"] is False
        # Nothing listening: the user's network or the URL they gave, and they are told which.
        closed = socket.socket()
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        closed.close()
        down = {**body, "id": "down", "base_url": f"http://127.0.0.1:{port}/v1"}
        await client.post("/v1/providers", json=down)
        unreachable = await client.post("/v1/executions", json=_ask("x", "down", model="m"))
        assert unreachable.json()["action"] == "check_network", unreachable.text
        assert "kata-providers providers list" in unreachable.json()["remediation"]
    finally:
        await runner.cleanup()


async def test_a_provider_added_without_a_default_model_needs_one_named(
    client: httpx.AsyncClient,
) -> None:
    # Found by `make fuzz` (seed 77, and 42 before it): the refusal is the provider's state,
    # not the request's shape, so it says so in its own detail type.
    body = {"id": "bare", "display_name": "Bare", "wire": "openai-chat", "auth": "none"}
    added = await client.post("/v1/providers", json={**body, "base_url": "http://127.0.0.1:9/v1"})
    assert added.status_code == 201, added.text
    refused = await client.post("/v1/executions", json=_ask("x", "bare"))
    assert refused.status_code == 422
    detail = refused.json()["details"][0]
    assert (detail["loc"], detail["type"]) == (["body", "model"], "no_default_model")
    assert "bare has no default model" in refused.json()["message"]
