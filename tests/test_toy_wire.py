"""A wire is one folder and one registration: the toy wire (tests/toy_wire, no product file
edited for it) is served end to end, as the built-in wires are. A provider of it is added over
HTTP, then used through /v1/executions (whole and streamed, priced from the wire's own rows),
its compatible routes (pass-through, its key header, its error shape), the OpenAPI document,
the page's Add form and provider list, and the CLI; a daemon that does not speak it refuses it
by name, and sets aside a settings file that names it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.process.config import DaemonConfig
from tests.support import LiveServer, make_runtime, read_sse, recorded_rows
from tests.toy_wire import KEY, MODEL, WIRE
from tests.toy_wire.fake import FakeToy

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def toy() -> Iterator[FakeToy]:
    fake = FakeToy({KEY})
    with fake.in_thread():
        yield fake


@pytest.fixture
def live(config: DaemonConfig) -> Iterator[LiveServer]:
    with LiveServer.start(config, make_runtime(config, watch=False, wires=(WIRE,))) as server:
        yield server


def _add(http: httpx.Client, toy: FakeToy, provider: str = "toybox") -> dict[str, Any]:
    body = {
        "id": provider,
        "display_name": "Toy box",
        "wire": "toy-echo",
        "base_url": toy.url,
        "api_key": KEY,
        "default_model": MODEL,
    }
    answer = http.post("/v1/providers", json=body)
    assert answer.status_code == 201, answer.text
    status: dict[str, Any] = answer.json()
    return status


def test_an_execution_goes_over_the_toy_wire_whole_and_streamed(
    live: LiveServer, toy: FakeToy
) -> None:
    with live.client() as http:
        status = _add(http, toy)
        assert status["usable"]
        assert status["api_key"]["state"] == "configured"
        assert status["capabilities"]["tools"] is False  # the toy wire's own table
        body = {"provider": "toybox", "messages": [{"role": "user", "content": "one two three"}]}
        whole = http.post("/v1/executions", json=body).json()
        assert [block["text"] for block in whole["content"]] == ["one two three "]
        assert (whole["provider"], whole["model"], whole["stop_reason"]) == (
            "toybox",
            MODEL,
            "end_turn",
        )
        # Priced from the toy wire's own rows: 3 words in at $1/Mtok, 3 out at $2/Mtok.
        assert whole["usage"]["cost_usd"] == pytest.approx(9e-6)
        assert whole["usage"]["cost_source"] == "table"
        with http.stream("POST", "/v1/executions", json={**body, "stream": True}) as streamed:
            events = read_sse(streamed.iter_lines(), 10)
        kinds = [event.event for event in events]
        assert kinds[0] == "start"
        assert kinds[-1] == "done"
        assert "".join(e.json()["text"] for e in events if e.event == "text_delta") == (
            "one two three "
        )
        # The key reached the toy API in the wire's own header, and nothing else did.
        sent = [request for request in toy.requests if request.path == "/echo"]
        assert {request.headers["x-toy-key"] for request in sent} == {KEY}
        assert all("authorization" not in request.headers for request in sent)
        rows = recorded_rows(http)
        assert {row["provider"] for row in rows} == {"toybox"}
        # A tool is refused up front, naming the field, as the toy wire's table says.
        tools = [{"name": "t", "input_schema": {"type": "object"}}]
        refused = http.post("/v1/executions", json={**body, "tools": tools})
        assert refused.status_code == 422
        assert refused.json()["details"][0]["loc"] == ["body", "tools"]


def test_its_compatible_routes_pass_through_in_its_own_shape(
    live: LiveServer, toy: FakeToy
) -> None:
    with live.client() as http:
        _add(http, toy)
    # The toy SDK sends its key in `x-toy-key`: the daemon token may come that way.
    headers = {"x-toy-key": live.config.token}
    with httpx.Client(base_url=f"{live.url}/providers/toybox", headers=headers) as client:
        answer = client.post("/echo", json={"model": MODEL, "prompt": "hello there"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["text"] == "hello there"
        assert answer.headers["x-kata-request-id"].startswith("req_")
        listed = client.get("/models").json()
        assert [m["id"] for m in listed["data"]] == ["toy-1", "toy-2"]
        # What the toy wire does not serve, in the toy wire's error shape.
        missing = client.post("/nowhere", json={})
        assert missing.status_code == 404
        assert missing.json()["problem"]["kind"] == "invalid_request"
        assert missing.json()["kata"]["code"] == "invalid_request"
        # The upstream got the stored key, never the daemon token.
        echoed = [request for request in toy.requests if request.path == "/echo"]
        assert echoed
        assert echoed[-1].headers["x-toy-key"] == KEY
        assert live.config.token not in json.dumps([r.headers for r in toy.requests])
    # Without a token, refused before any route: still the toy wire's shape.
    refused = httpx.post(f"{live.url}/providers/toybox/echo", json={"model": MODEL})
    assert refused.status_code == 401
    assert refused.json()["kata"]["code"] == "unauthorized"
    # Another wire's SDK header is not a way in on the toy wire's routes.
    other = httpx.post(
        f"{live.url}/providers/toybox/echo", headers={"x-api-key": live.config.token}, json={}
    )
    assert other.status_code == 401


def test_the_document_and_the_page_list_the_toy_wire(live: LiveServer) -> None:
    with live.client() as http:
        document = http.get("/openapi.json").json()
        page = http.get("/").text
    assert "toy-echo" in document["components"]["schemas"]["ProviderWire"]["enum"]
    assert "ToyError" in document["components"]["schemas"]
    assert "/providers/{provider}/echo" in document["paths"]
    assert document["components"]["securitySchemes"]["toyApiKey"]["name"] == "x-toy-key"
    assert '<option value="toy-echo">Toy Echo</option>' in page
    assert '<option value="anthropic-messages">Anthropic Messages</option>' in page


def test_the_cli_adds_lists_and_removes_a_toy_provider(live: LiveServer, toy: FakeToy) -> None:
    env = {"KATA_PROVIDERS_URL": live.url, "KATA_PROVIDERS_TOKEN": live.config.token}

    def cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "service", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env={**env, "PATH": "/usr/bin:/bin", "HOME": str(live.config.data_dir)},
            cwd=ROOT,
            timeout=60,
            check=False,
        )

    added = cli(
        *("providers", "add", "toycli", "--wire", "toy-echo", "--base-url", toy.url),
        *("--default-model", MODEL, "--with-key"),
        stdin=f"{KEY}\n",
    )
    assert added.returncode == 0, added.stderr
    assert "toycli: added (loopback), usable" in added.stdout
    assert "toycli: toycli (" in cli("providers", "list").stdout
    ran = cli("run", "hello toy", "--provider", "toycli")
    assert ran.returncode == 0, ran.stderr
    assert "hello toy" in ran.stdout
    unknown = cli("providers", "add", "nope", "--wire", "gemini-chat", "--base-url", toy.url)
    assert unknown.returncode == 1
    assert "No wire speaks 'gemini-chat'" in unknown.stderr
    assert cli("providers", "remove", "toycli").returncode == 0


def test_a_daemon_without_the_wire_refuses_it_and_sets_aside_a_file_naming_it(
    config: DaemonConfig, toy: FakeToy
) -> None:
    toy_runtime = make_runtime(config, watch=False, wires=(WIRE,))
    with LiveServer.start(config, toy_runtime) as server, server.client() as http:
        _add(http, toy)
    with (
        LiveServer.start(config, make_runtime(config, watch=False)) as plain,
        plain.client() as http,
    ):
        problems = http.get("/v1/health").json()["problems"]
        assert any("settings" in p["message"] for p in problems), problems
        assert [p["id"] for p in http.get("/v1/providers").json()["providers"]] == [
            "anthropic",
            "openai",
        ]
        body = {"id": "toybox", "display_name": "T", "wire": "toy-echo", "base_url": toy.url}
        refused = http.post("/v1/providers", json=body)
        assert refused.status_code == 422
        detail = refused.json()["details"][0]
        assert (detail["loc"], detail["type"]) == (["body", "wire"], "unknown_wire")
        assert "openai-chat" in detail["msg"]
    assert list(config.data_dir.glob("settings.json.corrupt-*"))
