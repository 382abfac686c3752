"""Input a hostile local client sends, as the issue that found them listed it: each answers with a
4xx in the route's own shape (never a 500), and nothing it sends leaves the machine or is cut
silently."""

from __future__ import annotations

import base64
import json
import socket
from typing import Any

import httpx
import openai
import pytest

from service.http.strict_json import MAX_DEPTH
from tests.support import LiveServer, Upstreams, error_in_routes_shape, recorded_rows

MODEL = "claude-sonnet-5-5"
DEEP = b"[" * 100_000 + b"]" * 100_000
COMPAT_POSTS = [
    "/anthropic/v1/messages",
    "/openai/v1/chat/completions",
    "/openai/v1/responses",
]


HELLO_ANTHROPIC = [{"role": "user", "content": "hello"}]


def _shape(path: str, response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    error_in_routes_shape(path, body)
    return body  # type: ignore[no-any-return]


@pytest.mark.parametrize("path", ["/v1/executions", *COMPAT_POSTS])
def test_deep_nesting_is_refused_in_the_routes_own_shape(http: httpx.Client, path: str) -> None:
    response = http.post(path, content=DEEP, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text[:300]
    assert str(MAX_DEPTH) in response.text
    _shape(path, response)
    # One level inside the limit parses (and is then judged on its content, not its depth).
    inside = b"[" * MAX_DEPTH + b"]" * MAX_DEPTH
    response = http.post(path, content=inside, headers={"content-type": "application/json"})
    assert response.status_code in (400, 422)
    assert "nest" not in response.text


@pytest.mark.parametrize(
    "raw",
    [
        b'{"model": "m", "x": NaN}',
        b'{"model": "m", "x": Infinity}',
        b'{"model": "m", "x": 1e999}',
        b'{"model": "m", "x": "\\ud800"}',
        b'{"model": "m", "x": 9007199254740993}',
        b'{"model": "m", "x": ' + b"1" * 5000 + b"}",
        b'{"model": "m", "model": "n"}',
        b'{"model": "\xff"}',
    ],
    ids=["nan", "infinity", "overflow", "surrogate", "int53", "digits", "duplicate", "utf8"],
)
@pytest.mark.parametrize("path", ["/v1/executions", *COMPAT_POSTS])
def test_json_the_rules_refuse_never_goes_upstream(
    http: httpx.Client, fakes: Upstreams, path: str, raw: bytes
) -> None:
    before = len(fakes.anthropic.requests) + len(fakes.openai.requests)
    response = http.post(path, content=raw, headers={"content-type": "application/json"})
    assert response.status_code in (400, 422), response.text[:300]
    _shape(path, response)
    assert len(fakes.anthropic.requests) + len(fakes.openai.requests) == before


@pytest.mark.parametrize(
    "query",
    [
        "since=0001-01-01T00:00:00",
        "until=0001-01-01T00:00:00Z",
        "since=9999-12-31T23:59:59-23:59",
        "until=9999-12-31T23:59:59.999999",
        "since=0001-01-01T00:00:00%2B23:59",
    ],
)
def test_extreme_usage_windows_answer_200_or_422(http: httpx.Client, query: str) -> None:
    response = http.get(f"/v1/usage?{query}")
    assert response.status_code in (200, 422), response.text
    if response.status_code == 422:
        assert response.json()["code"] == "invalid_request"


def test_a_usage_window_that_ends_before_it_starts_is_refused_naming_both(
    http: httpx.Client,
) -> None:
    response = http.get("/v1/usage?since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z")
    assert response.status_code == 422
    body = response.json()
    named = {tuple(detail["loc"]) for detail in body["details"]}
    assert named == {("query", "since"), ("query", "until")}


def test_prices_are_bounded_on_what_is_stored(http: httpx.Client) -> None:
    from contracts.settings import MAX_PRICES

    def batch(start: int) -> dict[str, Any]:
        price = {"input_usd_per_mtok": 1, "output_usd_per_mtok": 2}
        return {f"model-{i}": price for i in range(start, start + 300)}

    assert http.put("/v1/settings", json={"prices": batch(0)}).status_code == 200
    response = http.put("/v1/settings", json={"prices": batch(300)})
    assert response.status_code == 422
    assert str(MAX_PRICES) in response.json()["message"]
    assert len(http.get("/v1/settings").json()["prices"]) == 300  # nothing lost, nothing added
    # Removing some makes room again.
    removed = {f"model-{i}": None for i in range(100)}
    assert http.put("/v1/settings", json={"prices": removed}).status_code == 200
    assert http.put("/v1/settings", json={"prices": batch(300)}).status_code == 200
    assert len(http.get("/v1/settings").json()["prices"]) == 500


def test_a_price_for_a_model_id_longer_than_any_model_id_is_refused(http: httpx.Client) -> None:
    price = {"input_usd_per_mtok": 1, "output_usd_per_mtok": 2}
    response = http.put("/v1/settings", json={"prices": {"m" * 100_000: price}})
    assert response.status_code == 422
    assert response.json()["details"][0]["loc"][:2] == ["body", "prices"]
    assert http.get("/v1/settings").json()["prices"] == {}


@pytest.mark.parametrize(
    ("request_kwargs", "status"),
    [
        ({"headers": {"authorization": "Bearer wrong", "x-api-key": "wrong"}}, 401),
        ({"content": b"x" * 11, "headers": {"content-type": "text/plain"}}, 415),
        ({"headers": {"host": "evil.example"}}, 421),
    ],
    ids=["401", "415", "421"],
)
@pytest.mark.parametrize("path", COMPAT_POSTS)
def test_the_daemons_own_refusals_come_in_the_providers_shape(
    daemon: LiveServer, path: str, request_kwargs: dict[str, Any], status: int
) -> None:
    headers = {
        "authorization": f"Bearer {daemon.config.token}",
        **request_kwargs.get("headers", {}),
    }
    content = request_kwargs.get("content", b"{}")
    with httpx.Client(base_url=daemon.url) as client:
        response = client.post(path, content=content, headers=headers)
    assert response.status_code == status
    body = _shape(path, response)
    kata = body["kata"] if path.startswith("/anthropic") else body["error"]["kata"]
    assert kata["code"]
    assert kata["remediation"]
    assert kata["request_id"]


@pytest.mark.parametrize("path", COMPAT_POSTS)
def test_an_oversized_body_is_413_in_the_providers_shape(daemon: LiveServer, path: str) -> None:
    big = b'{"x": "' + b"a" * (daemon.config.max_body_bytes + 10) + b'"}'
    with httpx.Client(base_url=daemon.url) as client:
        response = client.post(
            path,
            content=big,
            headers={
                "authorization": f"Bearer {daemon.config.token}",
                "content-type": "application/json",
            },
        )
    assert response.status_code == 413
    _shape(path, response)


@pytest.mark.parametrize("name", ["trace", "q", "token", "x"])
def test_the_daemon_token_in_a_query_never_goes_upstream(
    daemon: LiveServer, http: httpx.Client, fakes: Upstreams, name: str
) -> None:
    token = daemon.config.token
    before = len(fakes.openai.requests)
    for value in (token, f"pre{token}post"):
        response = http.post(
            "/openai/v1/responses",
            params={name: value},
            json={"model": "gpt-5.5", "input": "hi"},
        )
        assert response.status_code in (400, 401), response.text
        _shape("/openai/", response)
    assert len(fakes.openai.requests) == before
    # Nor in a header the route would forward.
    response = http.post(
        "/openai/v1/responses",
        headers={"x-trace": token},
        json={"model": "gpt-5.5", "input": "hi"},
    )
    assert response.status_code in (400, 401)
    assert len(fakes.openai.requests) == before


@pytest.mark.parametrize(
    "raw_path",
    [
        "/openai/v1/models/..",
        "/openai/v1/models/.",
        "/openai/v1/models/%2e%2e",
        "/openai/v1/models/%2E%2E",
        "/openai/v1/models/..%2f..",
        "/openai/v1/models/a%2fb",
        "/anthropic/v1/models/..",
        "/anthropic/v1/models/%2e%2e",
    ],
)
def test_a_model_id_is_one_path_segment(
    daemon: LiveServer, http: httpx.Client, fakes: Upstreams, raw_path: str
) -> None:
    before = len(fakes.anthropic.requests) + len(fakes.openai.requests)
    response = _raw_get(daemon, raw_path)
    assert response.status_code == 404, (raw_path, response.status_code)
    _shape(raw_path, response)
    assert len(fakes.anthropic.requests) + len(fakes.openai.requests) == before


def _raw_get(daemon: LiveServer, raw_path: str) -> httpx.Response:
    """A GET sent byte for byte as written (HTTP clients normalise `..` away)."""
    host, port = daemon.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(
            f"GET {raw_path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Authorization: Bearer {daemon.config.token}\r\nConnection: close\r\n\r\n".encode()
        )
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = [(name, value) for name, _, value in (line.partition(": ") for line in lines[1:])]
    return httpx.Response(int(lines[0].split()[1]), headers=headers, content=body)


def test_a_cursor_the_daemon_never_gave_out_is_refused(http: httpx.Client) -> None:
    for forged in (b"nan|x", b"inf|x", b"-1e999|x", b"1.0", b"1.0|", b"\xff|x"):
        cursor = base64.urlsafe_b64encode(forged).decode()
        response = http.get("/v1/executions", params={"cursor": cursor})
        assert response.status_code == 422, (forged, response.text)
        assert response.json()["code"] == "invalid_request"
    assert http.get("/v1/executions", params={"cursor": "@@@"}).status_code == 422


@pytest.mark.parametrize("value", ["a\u0000b", "a\u001bb", "a\u007fb"])
def test_a_control_character_in_metadata_is_refused_not_cut(http: httpx.Client, value: str) -> None:
    request = {
        "provider": "anthropic",
        "model": MODEL,
        "messages": [{"role": "user", "content": "hi"}],
        "metadata": {"agent": value},
    }
    response = http.post("/v1/executions", json=request)
    assert response.status_code == 422, response.text
    assert response.json()["details"][0]["loc"][:3] == ["body", "metadata", "agent"]
    kept = http.post("/v1/executions", json={**request, "metadata": {"agent": "a\tb ü"}})
    assert kept.status_code == 200
    rows = http.get("/v1/executions").json()["executions"]
    assert rows[0]["agent"] == "a\tb ü"


def test_a_streamed_chat_completion_without_include_usage_is_counted(
    daemon: LiveServer, http: httpx.Client, fakes: Upstreams
) -> None:
    client = openai.OpenAI(base_url=f"{daemon.url}/openai/v1", api_key=daemon.config.token)
    stream = client.chat.completions.create(
        model="gpt-5.5", messages=[{"role": "user", "content": "count me"}], stream=True
    )
    chunks = list(stream)
    # The client asked for no usage: it sees no usage-only chunk.
    assert chunks
    assert all(chunk.choices for chunk in chunks)
    sent = json.loads(fakes.openai.requests[-1].body)
    assert sent["stream_options"] == {"include_usage": True}
    rows = recorded_rows(http)
    assert rows, "the row was recorded within 2 s of the stream's end"
    row = rows[0]
    assert row["usage"]["input_tokens"] > 0
    assert row["usage"]["output_tokens"] > 0
    assert row["usage"]["cost_usd"] is not None
    # One that said no is counted too, and still sees none.
    stream = client.chat.completions.create(
        model="gpt-5.5",
        messages=[{"role": "user", "content": "count me"}],
        stream=True,
        stream_options={"include_usage": False},
    )
    assert all(chunk.choices for chunk in stream)
    assert json.loads(fakes.openai.requests[-1].body)["stream_options"] == {"include_usage": True}
    # A client that asked for it gets it, once.
    stream = client.chat.completions.create(
        model="gpt-5.5",
        messages=[{"role": "user", "content": "count me"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    usage_chunks = [chunk for chunk in stream if not chunk.choices]
    assert len(usage_chunks) == 1
    assert usage_chunks[0].usage is not None


@pytest.mark.parametrize("stream", [False, True])
def test_one_request_id_on_the_compatible_routes_the_providers(
    http: httpx.Client, stream: bool
) -> None:
    body = {"model": "gpt-5.5", "input": "hi", "stream": stream}
    with http.stream("POST", "/openai/v1/responses", json=body) as response:
        response.read()
    assert response.status_code == 200
    ids = response.headers.get_list("x-request-id")
    assert len(ids) == 1, ids
    assert response.headers["x-kata-request-id"].startswith("req_")
    assert ids[0] != response.headers["x-kata-request-id"]
    assert len(response.headers.get_list("cache-control")) == 1


def test_cancelling_a_finished_execution_is_a_conflict_not_a_missing_one(
    http: httpx.Client,
) -> None:
    request = {
        "provider": "anthropic",
        "model": MODEL,
        "messages": [{"role": "user", "content": "hi"}],
    }
    finished = http.post("/v1/executions", json=request).json()
    response = http.post(f"/v1/executions/{finished['id']}/cancel")
    assert response.status_code == 409
    assert "already finished" in response.json()["message"]
    assert http.post("/v1/executions/exe_unknown/cancel").status_code == 404


@pytest.mark.parametrize("size", [1, 7, 64, 100_000])
def test_the_usage_only_chunk_is_read_then_hidden_across_any_split(size: int) -> None:
    """Real recorded traffic, cut into chunks of every size: the usage is counted, and the
    bytes passed on are the stream without that one event."""
    from pathlib import Path

    from adapters.openai.passthrough import read_event, usage_only
    from adapters.passthrough import UsageScan

    raw = (
        Path(__file__).parent / "wire" / "openai_chat_stream_text_include_usage.sse"
    ).read_bytes()
    events = raw.split(b"\n\n")
    expected = b"\n\n".join(event for event in events if b'"choices":[]' not in event)
    scan = UsageScan(read_event, True, usage_only)
    passed = b"".join(scan.feed(raw[i : i + size]) for i in range(0, len(raw), size)) + scan.end()
    assert passed == expected
    assert scan.usage.input_tokens == 14
    assert scan.usage.output_tokens == 30


def test_a_stray_short_api_key_beside_the_token_is_no_secret(
    http: httpx.Client, fakes: Upstreams
) -> None:
    # Found by Schemathesis over HTTP (seed 8483): `x-api-key: 0` beside the bearer token was
    # taken for a credential and matched by chance in the forwarded `anthropic-version`.
    response = http.post(
        "/anthropic/v1/messages",
        headers={"x-api-key": "0", "anthropic-version": "2023-06-01"},
        json={"model": "claude-sonnet-5-5", "max_tokens": 16, "messages": HELLO_ANTHROPIC},
    )
    assert response.status_code == 200, response.text


def test_a_page_token_that_authenticated_never_goes_upstream_either(
    daemon: LiveServer, http: httpx.Client, fakes: Upstreams
) -> None:
    # The credential the edge accepted is a secret wherever else it appears, as the daemon
    # token is: here a page token, as the bearer and again in the query.
    page = http.post("/v1/page/session", json={"code": daemon.config.token}).json()["token"]
    before = len(fakes.openai.requests)
    response = http.post(
        "/openai/v1/responses",
        params={"trace": page},
        headers={"Authorization": f"Bearer {page}"},
        json={"model": "gpt-5.5", "input": "hi"},
    )
    assert response.status_code == 400, response.text
    assert "never sent to the provider" in response.json()["error"]["message"]
    assert len(fakes.openai.requests) == before


def test_a_header_the_wire_requires_is_checked_before_any_slot_or_budget(
    http: httpx.Client, fakes: Upstreams
) -> None:
    # The document states `anthropic-version` as required: the daemon says so itself, in the
    # wire's shape, before a budget could answer 429 (found by Schemathesis, ST203).
    spent = http.put("/v1/providers/anthropic/settings", json={"daily_budget_usd": 0})
    assert spent.status_code == 200, spent.text
    with_version = http.post(
        "/anthropic/v1/messages",
        headers={"anthropic-version": "2023-06-01"},
        json={"model": "claude-sonnet-5-5", "max_tokens": 16, "messages": HELLO_ANTHROPIC},
    )
    assert with_version.status_code == 429, with_version.text  # the budget, with the header
    before = len(fakes.anthropic.requests)
    response = http.post(
        "/anthropic/v1/messages",
        json={"model": "claude-sonnet-5-5", "max_tokens": 16, "messages": HELLO_ANTHROPIC},
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["message"] == "anthropic-version: header is required"
    _shape("/anthropic/", response)
    assert len(fakes.anthropic.requests) == before
