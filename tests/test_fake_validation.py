"""The fakes validate a request as the real APIs do before they look at the model (a required
field missing, a field of the wrong type, a message with no role or one the API lacks), and the
compatible routes' document states the same rules and gives an example each route answers.

Found by Schemathesis over HTTP (seed 8483): a body with `model: {}` made the Anthropic fake
drop the connection (an unhashable model looked up in its catalogue), which the daemon rightly
read as the provider failing: a 503, and after a few, the provider paused for every caller. The
real API answers such a body with a 400; so does the fake now, and nothing pauses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import ANTHROPIC_KEY, OPENAI_KEY, LiveServer, Upstreams

ROOT = Path(__file__).resolve().parents[1]
HELLO = [{"role": "user", "content": "Hello"}]
ANTHROPIC = {"model": "claude-sonnet-5-5", "max_tokens": 16, "messages": HELLO}
VERSION = {"anthropic-version": "2023-06-01"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"model": {}}, "model: Input should be a valid string"),
        ({"model": None}, "model: Input should be a valid string"),
        ({"max_tokens": "16"}, "max_tokens: Input should be a valid integer"),
        ({"max_tokens": True}, "max_tokens: Input should be a valid integer"),
        ({"max_tokens": 0}, "max_tokens: Input should be greater than or equal to 1"),
        ({"stream": "yes"}, "stream: Input should be a valid boolean"),
        ({"messages": {}}, "messages: Input should be a valid list"),
        ({"messages": []}, "messages: at least one message is required"),
        ({"messages": ["hi"]}, "messages.0: Input should be a valid dictionary"),
        ({"messages": [{"role": "system", "content": "x"}]}, "messages.0.role: Input should be"),
        ({"messages": [{"role": "user"}]}, "messages.0.content: Field required"),
        ({"messages": [{"role": "user", "content": 7}]}, "messages.0.content: Input should be"),
        ({"messages": [{"role": "user", "content": [{}]}]}, "messages.0.content.0: Input tag"),
    ],
)
def test_the_anthropic_fake_refuses_a_malformed_body_with_a_400(
    fakes: Upstreams, change: dict[str, Any], message: str
) -> None:
    for path in ("/v1/messages", "/v1/messages/count_tokens"):
        if path.endswith("count_tokens") and ("max_tokens" in change or "stream" in change):
            continue
        body = {**ANTHROPIC, **change}
        if path.endswith("count_tokens"):
            body.pop("max_tokens")
        answer = httpx.post(
            fakes.anthropic.url + path, json=body, headers={"x-api-key": ANTHROPIC_KEY, **VERSION}
        )
        assert answer.status_code == 400, (path, answer.text)
        error = answer.json()["error"]
        assert error["type"] == "invalid_request_error"
        assert error["message"].startswith(message), error


@pytest.mark.parametrize(
    ("path", "change", "code", "param"),
    [
        ("/v1/chat/completions", {"model": {}}, "invalid_type", "model"),
        ("/v1/responses", {"model": 5}, "invalid_type", "model"),
        ("/v1/responses", {"input": {}}, "invalid_type", "input"),
        ("/v1/chat/completions", {"stream": "yes"}, "invalid_type", "stream"),
        ("/v1/chat/completions", {"messages": []}, "empty_array", "messages"),
        ("/v1/chat/completions", {"messages": "hi"}, "invalid_type", "messages"),
        ("/v1/chat/completions", {"messages": [{}]}, "missing_required_parameter", None),
        ("/v1/chat/completions", {"messages": [{"role": "robot"}]}, "invalid_value", None),
    ],
)
def test_the_openai_fake_refuses_a_malformed_body_with_the_apis_code_and_param(
    fakes: Upstreams, path: str, change: dict[str, Any], code: str, param: str | None
) -> None:
    body: dict[str, Any] = {"model": "gpt-5.5", **({"messages": HELLO} if "chat" in path else {})}
    answer = httpx.post(
        fakes.openai.url + path,
        json={**body, **change},
        headers={"authorization": f"Bearer {OPENAI_KEY}"},
    )
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert (error["type"], error["code"]) == ("invalid_request_error", code)
    assert error["param"] == (param or "messages[0].role")


def test_a_malformed_body_through_the_daemon_is_the_providers_400_and_pauses_nothing(
    daemon: LiveServer, http: httpx.Client
) -> None:
    headers = {"x-api-key": daemon.config.token, **VERSION}
    for _ in range(6):  # more than the breaker's threshold of failures
        answer = httpx.post(
            f"{daemon.url}/anthropic/v1/messages", json={**ANTHROPIC, "model": {}}, headers=headers
        )
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["type"] == "invalid_request_error"
    served = httpx.post(f"{daemon.url}/anthropic/v1/messages", json=ANTHROPIC, headers=headers)
    assert served.status_code == 200, served.text
    health = http.get("/v1/providers/anthropic").json()["health"]
    assert (health["state"], health["breaker"], health["consecutive_failures"]) == (
        "healthy",
        "closed",
        0,
    ), health


def _compatible_posts() -> list[tuple[str, dict[str, Any]]]:
    document = json.loads((ROOT / "openapi" / "openapi.json").read_text())
    return [
        (path, operation)
        for path, item in document["paths"].items()
        if (operation := item.get("post")) and "compatible" in operation.get("tags", [])
    ]


def test_every_compatible_post_documents_an_example_of_the_rules_it_states() -> None:
    posts = _compatible_posts()
    assert len(posts) >= 8
    for path, operation in posts:
        media = operation["requestBody"]["content"]["application/json"]
        example, schema = media["example"], media["schema"]
        assert set(schema["required"]) <= set(example), path
        for name, rule in schema["properties"].items():
            if name in example and "enum" in rule.get("items", {}).get("properties", {}).get(
                "role", {}
            ):
                roles = rule["items"]["properties"]["role"]["enum"]
                assert all(m["role"] in roles for m in example[name]), path


def test_each_compatible_example_is_answered_as_the_document_gives_it(
    daemon: LiveServer, http: httpx.Client
) -> None:
    for path, operation in _compatible_posts():
        params = {p["name"]: p for p in operation.get("parameters", [])}
        provider = str(params.get("provider", {}).get("example"))
        url = daemon.url + path.replace("{provider}", provider)
        headers = {"Authorization": f"Bearer {daemon.config.token}"}
        for name, param in params.items():
            if param["in"] == "header":
                headers[name] = param["schema"]["enum"][0]
        example = operation["requestBody"]["content"]["application/json"]["example"]
        answer = httpx.post(url, json=example, headers=headers, timeout=30)
        assert answer.status_code == 200, (path, answer.text[:300])
