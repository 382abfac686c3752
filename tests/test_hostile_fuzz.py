"""Where Schemathesis does not go: hostile input of our own, drawn by Hypothesis and sent over a
real socket to one daemon that lives for the whole module (so what each request leaves behind
accumulates): extreme nesting, extreme dates and numbers, huge strings, control characters,
path segments, odd headers, and settings written over and over. Every answer is below 500 (or
a provider's 502/503/504), every error is the taxonomy's in the route's own shape, a daemon
422 names its field, and at the end what the daemon stores is within its documented bounds.

`make fuzz` runs it with many more examples (KATA_FUZZ_EXAMPLES, KATA_FUZZ_SEED)."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from contracts.base import MAX_MODEL_ID, MAX_TAG
from contracts.error_body import ErrorCode
from contracts.settings import MAX_PRICES
from service.executions.dispatch import RECENTLY_FINISHED
from service.http.strict_json import MAX_DEPTH
from service.process.config import DaemonConfig
from tests.support import (
    TEST_TOKEN,
    LiveServer,
    error_in_routes_shape,
    sandboxed_runtime,
    upstreams,
)

EXAMPLES = int(os.environ.get("KATA_FUZZ_EXAMPLES", "12"))
SEED = int(os.environ.get("KATA_FUZZ_SEED", "1"))
CODES = {code.value for code in ErrorCode}
PROVIDER_STATUSES = {502, 503, 504}
# The routes that read a body (a POST that takes none, like /check, never parses one).
POSTS = [
    "/v1/executions",
    "/anthropic/v1/messages",
    "/anthropic/v1/messages/count_tokens",
    "/openai/v1/chat/completions",
    "/openai/v1/responses",
]
PUTS = ["/v1/settings", "/v1/providers/openai/settings", "/v1/providers/anthropic/api-key"]
GETS = [
    "/v1/health",
    "/v1/providers",
    "/v1/models",
    "/v1/executions",
    "/v1/usage",
    "/anthropic/v1/models",
    "/openai/v1/models",
]
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    home = tmp_path_factory.mktemp("hostile")
    config = DaemonConfig(token=TEST_TOKEN, data_dir=home / "data")
    config = dataclasses.replace(
        config, first_token_timeout_s=5, idle_timeout_s=5, request_timeout_s=10, queue_wait_s=5
    )
    with upstreams() as fakes:
        runtime = sandboxed_runtime(config, home, fakes)
        with LiveServer.start(config, runtime) as server:
            yield server


@pytest.fixture(scope="module")
def client(live: LiveServer) -> Iterator[httpx.Client]:
    with live.client() as http:
        yield http


def _judge(path: str, response: httpx.Response) -> None:
    """The answer a hostile request may get: see the module's docstring."""
    status = response.status_code
    assert status < 500 or status in PROVIDER_STATUSES, (path, status, response.text[:300])
    if status < 400:
        return
    kata = error_in_routes_shape(path, response.json())
    if kata is None:  # the provider's own answer, passed on unchanged
        return
    assert kata["code"] in CODES, kata
    if status == 422 and not path.startswith(("/anthropic/", "/openai/")) and kata["details"]:
        assert all(detail["loc"] for detail in kata["details"]), kata


def nested(depth: int, kind: str) -> bytes:
    opening, closing = {"list": (b"[", b"]"), "object": (b'{"a":', b"}")}[kind]
    return opening * depth + b"1" + closing * depth


json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
)
json_values = st.recursive(
    json_leaves,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
raw_numbers = st.sampled_from(
    [b"NaN", b"-Infinity", b"1e999", b"-1e999", b"1" * 5000, b"9007199254740993", b"-0", b"1e-400"]
)
huge_text = st.sampled_from([1, 255, 256, 257, 4096, 100_000]).map(lambda n: "x" * n)
control_text = st.text(
    alphabet=st.characters(min_codepoint=0, max_codepoint=0x9F), min_size=1, max_size=10
)


@FUZZ
@seed(SEED)
@given(
    path=st.sampled_from(POSTS),
    depth=st.sampled_from([MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, 1000, 100_000]),
    kind=st.sampled_from(["list", "object"]),
)
def test_nesting_at_any_depth(client: httpx.Client, path: str, depth: int, kind: str) -> None:
    body = b'{"model": "m", "x": ' + nested(depth, kind) + b"}"
    response = client.post(path, content=body, headers={"content-type": "application/json"})
    _judge(path, response)
    if depth > MAX_DEPTH:
        assert response.status_code == 400
        assert f"{MAX_DEPTH} deep" in response.text


@FUZZ
@seed(SEED)
@given(path=st.sampled_from(POSTS + PUTS), number=raw_numbers, value=json_values)
def test_numbers_and_values_anywhere(
    client: httpx.Client, path: str, number: bytes, value: Any
) -> None:
    method = "PUT" if path in PUTS else "POST"
    body = (
        b'{"model": "claude-sonnet-5-5", "n": ' + number + b', "v": ' + json.dumps(value).encode()
    )
    response = client.request(
        method, path, content=body + b"}", headers={"content-type": "application/json"}
    )
    _judge(path, response)
    if number not in (b"-0", b"1e-400"):
        assert 400 <= response.status_code < 500


@FUZZ
@seed(SEED)
@given(
    since=st.datetimes(),
    zone=st.sampled_from(["", "Z", "+23:59", "-23:59", "+00:00"]),
    until=st.none() | st.datetimes(),
)
def test_usage_windows_at_the_ends_of_time(
    client: httpx.Client, since: Any, zone: str, until: Any
) -> None:
    params = {"since": since.isoformat(timespec="seconds") + zone}
    if until is not None:
        params["until"] = until.isoformat(timespec="seconds") + zone
    response = client.get("/v1/usage", params=params)
    _judge("/v1/usage", response)
    assert response.status_code in (200, 422), response.text


@FUZZ
@seed(SEED)
@given(model=huge_text | control_text, tag=huge_text | control_text, stream=st.booleans())
def test_huge_and_control_strings_in_every_field(
    client: httpx.Client, model: str, tag: str, stream: bool
) -> None:
    ask = {"role": "user", "content": "hi"}
    requests: list[tuple[str, dict[str, Any]]] = [
        ("/v1/executions", {"model": model, "messages": [ask], "metadata": {"agent": tag}}),
        ("/v1/executions", {"messages": [ask], "metadata": {tag: "x"}, "stream": stream}),
        ("/anthropic/v1/messages", {"model": model, "max_tokens": 5, "messages": [ask]}),
        ("/openai/v1/chat/completions", {"model": model, "messages": [ask], "user": tag}),
        ("/openai/v1/responses", {"model": "gpt-5.5", "input": "hi", "metadata": {"agent": tag}}),
    ]
    for path, body in requests:
        _judge(path, client.post(path, json={**body, "stream": stream}))
    price = {"input_usd_per_mtok": 1, "output_usd_per_mtok": 1}
    _judge("/v1/settings", client.put("/v1/settings", json={"prices": {model: price}}))


segments = st.sampled_from(
    ["..", ".", "%2e%2e", "%2E%2e", "%2f", "a%2fb", "%00", "%ff", "a b", "~", "%252e", "..%5c"]
) | st.text(alphabet="abc.%/2fe0", max_size=12)


@FUZZ
@seed(SEED)
@given(
    prefix=st.sampled_from(["/openai/v1/models/", "/anthropic/v1/models/", "/v1/providers/", "/"]),
    segment=segments,
    method=st.sampled_from(["GET", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS"]),
)
def test_path_segments_never_reach_a_path_they_do_not_name(
    live: LiveServer, prefix: str, segment: str, method: str
) -> None:
    status, head, body = _raw(live, method, prefix + segment)
    assert status < 500 or status in PROVIDER_STATUSES, (prefix + segment, status, body[:300])
    if status == 405:
        assert "allow:" in head.lower()


@FUZZ
@seed(SEED)
@given(
    name=st.sampled_from(
        ["content-type", "x-api-key", "authorization", "anthropic-version", "x-custom", "host"]
    ),
    value=st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=300),
    path=st.sampled_from(POSTS + GETS),
)
def test_odd_headers(live: LiveServer, name: str, value: str, path: str) -> None:
    headers = {
        b"authorization": f"Bearer {TEST_TOKEN}".encode(),
        b"content-type": b"application/json",
        name.encode(): value.encode("latin-1"),
    }
    with httpx.Client(base_url=live.url, timeout=30) as http:
        body = b'{"model": "m", "messages": [{"role": "user", "content": "hi"}]}'
        method = "GET" if path in GETS else "POST"
        try:
            response = http.request(method, path, content=body, headers=list(headers.items()))
        except httpx.LocalProtocolError:
            return  # not a header a client can send at all
    if name in ("authorization", "x-api-key") and response.status_code == 401:
        return
    if response.content == b"Invalid HTTP request received.":
        # Not HTTP/1.1 at all (h11 refuses the header): uvicorn answers before any route runs.
        assert response.status_code == 400
        return
    _judge(path, response)


@FUZZ
@seed(SEED)
@given(
    batches=st.lists(
        st.dictionaries(
            st.text(min_size=1, max_size=20), st.none() | st.just(1.5), min_size=1, max_size=300
        ),
        min_size=1,
        max_size=4,
    )
)
def test_settings_written_over_and_over_stay_bounded(
    client: httpx.Client, batches: list[dict[str, Any]]
) -> None:
    for batch in batches:
        prices = {
            model: None if value is None else {"input_usd_per_mtok": 1, "output_usd_per_mtok": 2}
            for model, value in batch.items()
        }
        response = client.put("/v1/settings", json={"prices": prices})
        _judge("/v1/settings", response)
        assert len(client.get("/v1/settings").json()["prices"]) <= MAX_PRICES


def test_what_the_daemon_stores_is_within_its_bounds(
    live: LiveServer, client: httpx.Client
) -> None:
    """Last in the module: after everything above, and a run of executions besides."""
    for _ in range(RECENTLY_FINISHED + 50):
        response = client.post(
            "/v1/executions",
            json={"provider": "anthropic", "messages": [{"role": "user", "content": "hi"}]},
        )
        assert response.status_code == 200
    prices = client.get("/v1/settings").json()["prices"]
    assert len(prices) <= MAX_PRICES
    assert all(len(model) <= MAX_MODEL_ID for model in prices)
    rows = client.get("/v1/executions", params={"limit": 500}).json()["executions"]
    assert all(len(row["model"]) <= MAX_MODEL_ID for row in rows)
    assert all(len(row["agent"] or "") <= MAX_TAG for row in rows)
    runtime = live.runtime
    assert len(runtime.dispatcher._finished) <= RECENTLY_FINISHED
    assert len(runtime.bus.history()) <= live.config.event_buffer
    assert runtime.dispatcher.running == 0
    stored = live.config.data_dir / "settings.json"
    assert stored.stat().st_size < 512 * 1024, stored.stat().st_size


def _raw(live: LiveServer, method: str, path: str) -> tuple[int, str, bytes]:
    """A request sent byte for byte as written (clients normalise paths)."""
    host, port = live.url.removeprefix("http://").split(":")
    request = (
        f"{method} {quote(path, safe='/%.~:@-_')} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: Bearer {TEST_TOKEN}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(request.encode())
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), head.decode("latin-1"), body
