"""Routes (issue 37): an agent names a route, not a provider; the daemon falls through to the
next target before any output, and says so. Against the fakes, with their answers scripted
(an overloaded 529, a 429 with a 30 s retry-after, a stream cut after output)."""

from __future__ import annotations

import base64
import copy
import time
from typing import Any

import httpx
import pytest

from adapters.fakes.server import Step
from contracts.executions import Usage
from contracts.usage import Price
from service.executions.ports import WHOLE_MAX_TOKENS
from service.process import route_commands
from service.process.config import DaemonConfig
from service.usage.prices import priced
from tests.support import LiveServer, Upstreams, read_sse

CLAUDE_ELSE_GPT = {
    "description": "Claude, else GPT",
    "targets": [{"provider": "anthropic"}, {"provider": "openai", "model": "gpt-5.4"}],
}
HELLO = [{"role": "user", "content": "hello"}]
OVERLOADED = Step(status=529, body="Overloaded", path="/v1/messages")


def _route(http: httpx.Client, name: str = "claude-else-gpt", spec: Any = None) -> None:
    answer = http.put(f"/v1/routes/{name}", json=spec or CLAUDE_ELSE_GPT)
    assert answer.status_code == 200, answer.text


def _run(http: httpx.Client, **body: Any) -> httpx.Response:
    return http.post("/v1/executions", json={"messages": HELLO, **body})


def _posts(fake: Any) -> int:
    return sum(1 for r in fake.requests if r.method == "POST")


def test_routes_are_a_resource_kept_with_the_settings(
    http: httpx.Client, config: DaemonConfig, daemon: LiveServer
) -> None:
    _route(http)
    _route(http, "gpt-only", {"targets": [{"provider": "openai"}]})
    listed = http.get("/v1/routes").json()["routes"]
    assert [r["name"] for r in listed] == ["claude-else-gpt", "gpt-only"]
    assert http.get("/v1/routes/gpt-only").json()["targets"] == [
        {"provider": "openai", "model": None}
    ]
    unknown = http.put("/v1/routes/bad", json={"targets": [{"provider": "nobody"}]})
    assert unknown.status_code == 422
    assert unknown.json()["details"][0]["loc"] == ["body", "targets", 0, "provider"]
    assert http.get("/v1/routes/missing").status_code == 404
    assert http.delete("/v1/routes/gpt-only").status_code == 204
    assert http.delete("/v1/routes/gpt-only").status_code == 404
    saved = (config.data_dir / "settings.json").read_text()
    assert '"claude-else-gpt"' in saved and '"gpt-only"' not in saved  # noqa: PT018


def test_a_route_is_instead_of_a_provider_and_a_model(http: httpx.Client) -> None:
    _route(http)
    both = _run(http, route="claude-else-gpt", provider="openai")
    assert both.status_code == 422
    assert "instead of provider" in both.json()["message"]
    missing = _run(http, route="no-such-route")
    assert missing.status_code == 422
    assert missing.json()["details"][0]["type"] == "unknown_route"


def test_a_failing_target_falls_through_and_says_so(http: httpx.Client, fakes: Upstreams) -> None:
    _route(http)
    fakes.anthropic.push(OVERLOADED)
    answer = _run(http, route="claude-else-gpt")
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert (result["provider"], result["model"], result["route"]) == (
        "openai",
        "gpt-5.4",
        "claude-else-gpt",
    )
    assert [(f["provider"], f["code"]) for f in result["fallbacks"]] == [
        ("anthropic", "provider_unavailable")
    ]
    rows = http.get("/v1/executions").json()["executions"]
    assert (rows[0]["route"], rows[0]["provider"]) == ("claude-else-gpt", "openai")
    report = http.get("/v1/usage", params={"group_by": "route"}).json()
    assert [g["key"] for g in report["groups"]] == ["claude-else-gpt"]


def test_streamed_the_fall_through_is_an_event_before_any_output(
    http: httpx.Client, fakes: Upstreams
) -> None:
    _route(http)
    fakes.anthropic.push(OVERLOADED)
    body = {"messages": HELLO, "route": "claude-else-gpt", "stream": True}
    with http.stream("POST", "/v1/executions", json=body) as streamed:
        events = read_sse(streamed.iter_lines(), 100)
    kinds = [e.event for e in events]
    assert kinds[0] == "start" and events[0].json()["provider"] == "anthropic"  # noqa: PT018
    fallback = events[kinds.index("fallback")].json()
    assert (fallback["provider"], fallback["passed_over"]["provider"]) == ("openai", "anthropic")
    assert kinds.index("fallback") < kinds.index("text_delta")
    assert kinds[-1] == "done"
    assert events[-1].json()["result"]["fallbacks"][0]["code"] == "provider_unavailable"


def test_a_paused_target_is_skipped_at_once_not_waited_on(
    http: httpx.Client, fakes: Upstreams
) -> None:
    _route(http)
    fakes.anthropic.push(Step(status=429, headers=[("retry-after", "30")], path="/v1/messages"))
    first = _run(http, route="claude-else-gpt").json()
    assert [(f["provider"], f["code"]) for f in first["fallbacks"]] == [
        ("anthropic", "rate_limited")
    ]
    before = _posts(fakes.anthropic)
    started = time.monotonic()
    second = _run(http, route="claude-else-gpt").json()
    assert time.monotonic() - started < 2.0  # not the 30 s pause
    assert _posts(fakes.anthropic) == before  # skipped: nothing was sent to it
    assert second["provider"] == "openai"
    assert "paused" in second["fallbacks"][0]["message"]


def test_the_plan_shows_where_the_next_request_would_go_and_why(
    http: httpx.Client, fakes: Upstreams
) -> None:
    _route(http)
    fresh = http.get("/v1/routes/claude-else-gpt/plan").json()
    assert fresh["serves"] == 0
    assert [t["serves_now"] for t in fresh["targets"]] == [True, True]
    assert fresh["targets"][1]["model"] == "gpt-5.4"
    fakes.anthropic.push(Step(status=429, headers=[("retry-after", "30")], path="/v1/messages"))
    assert _run(http, route="claude-else-gpt").json()["provider"] == "openai"
    before = _posts(fakes.anthropic) + _posts(fakes.openai)
    plan = http.get("/v1/routes/claude-else-gpt/plan").json()
    assert _posts(fakes.anthropic) + _posts(fakes.openai) == before  # judged, nothing sent
    paused, serving = plan["targets"]
    assert (paused["serves_now"], paused["code"]) == (False, "rate_limited")
    assert 25 < paused["retry_after_s"] <= 30
    assert (serving["serves_now"], serving["code"], plan["serves"]) == (True, None, 1)
    said = route_commands.plan_text(plan).splitlines()
    assert said[1].startswith("  1. anthropic: passed over (rate_limited, for 30 s): ")
    assert said[2] == "  2. openai (gpt-5.4): serves"
    # The plan is what the next request does.
    assert _run(http, route="claude-else-gpt").json()["provider"] == "openai"
    assert http.get("/v1/routes/no-such-route/plan").status_code == 404


def test_never_after_output_and_never_on_a_bad_request(
    http: httpx.Client, fakes: Upstreams
) -> None:
    _route(http)
    fakes.anthropic.push(Step(error_after_events=6, path="/v1/messages"))
    body = {"messages": HELLO, "route": "claude-else-gpt", "stream": True}
    with http.stream("POST", "/v1/executions", json=body) as streamed:
        events = read_sse(streamed.iter_lines(), 100)
    assert "text_delta" in [e.event for e in events]
    assert events[-1].event == "error"
    assert "fallback" not in [e.event for e in events]
    assert _posts(fakes.openai) == 0  # the output is never duplicated by another target
    fakes.anthropic.push(Step(status=400, body="messages: bad", path="/v1/messages"))
    refused = _run(http, route="claude-else-gpt")
    assert refused.status_code == 400
    assert _posts(fakes.openai) == 0


def test_when_every_target_fails_one_error_lists_each(http: httpx.Client, fakes: Upstreams) -> None:
    _route(http)
    fakes.anthropic.push(OVERLOADED)
    fakes.openai.push(Step(status=503, body="Unavailable", path="/v1/responses"))
    answer = _run(http, route="claude-else-gpt")
    assert answer.status_code == 503
    body = answer.json()
    assert [(p["provider"], p["code"]) for p in body["passed_over"]] == [
        ("anthropic", "provider_unavailable"),
        ("openai", "provider_unavailable"),
    ]


def test_a_target_that_cannot_take_a_capability_is_skipped_saying_why(
    http: httpx.Client, fakes: Upstreams
) -> None:
    text_only = copy.deepcopy(fakes.anthropic.models[0])
    text_only["id"] = "claude-text-only"
    text_only["capabilities"]["image_input"] = {"supported": False}
    fakes.anthropic.models.append(text_only)
    http.get("/v1/models", params={"refresh": "true"})
    spec = {
        "targets": [{"provider": "anthropic", "model": "claude-text-only"}, {"provider": "openai"}]
    }
    _route(http, "vision", spec)
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode()
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": png}}
    answer = _run(http, route="vision", messages=[{"role": "user", "content": [image]}])
    assert answer.status_code == 200, answer.text
    passed = answer.json()["fallbacks"][0]
    assert (passed["provider"], passed["code"]) == ("anthropic", "invalid_request")
    assert "does not take image blocks" in passed["message"]
    assert _posts(fakes.anthropic) == 0


def test_an_agent_tag_takes_its_route(http: httpx.Client, fakes: Upstreams) -> None:
    _route(http)
    unknown = http.put("/v1/settings", json={"agent_routes": {"critic": "nope"}})
    assert unknown.status_code == 422
    assert unknown.json()["details"][0]["loc"] == ["body", "agent_routes", "critic"]
    assert http.put("/v1/settings", json={"agent_routes": {"critic": "claude-else-gpt"}}).is_success
    fakes.anthropic.push(OVERLOADED)
    result = _run(http, metadata={"agent": "critic"}).json()
    assert (result["route"], result["provider"]) == ("claude-else-gpt", "openai")
    named = _run(http, provider="anthropic", metadata={"agent": "critic"}).json()
    assert named["route"] is None  # a request that names its provider is not routed
    http.put("/v1/settings", json={"agent_routes": {"critic": None}})
    assert http.get("/v1/settings").json()["agent_routes"] == {}


@pytest.mark.parametrize("first", ["anthropic", "openai"])
def test_a_conversation_moves_between_providers_safely(
    http: httpx.Client, fakes: Upstreams, first: str
) -> None:
    other = "openai" if first == "anthropic" else "anthropic"
    tools = [
        {
            "name": "get_weather",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
        }
    ]
    think = {"reasoning": {"effort": "high"}, "tools": tools}
    turn = http.post("/v1/executions", json={"provider": first, "messages": HELLO, **think}).json()
    call = next(b for b in turn["content"] if b["type"] == "tool_call")
    messages = [
        *HELLO,
        {"role": "assistant", "content": turn["content"]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_call_id": call["id"], "content": "sunny"}],
        },
    ]
    _route(http, "moving", {"targets": [{"provider": first}, {"provider": other}]})
    (fakes.anthropic if first == "anthropic" else fakes.openai).push(
        Step(status=529 if first == "anthropic" else 503, body="down")
    )
    moved = _run(http, route="moving", messages=messages, **think)
    assert moved.status_code == 200, moved.text  # the other fake checked every proof and pair
    assert moved.json()["provider"] == other


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("after", [1, 4])
def test_a_stream_that_breaks_before_output_reached_the_caller_falls_through(
    http: httpx.Client, fakes: Upstreams, stream: bool, after: int
) -> None:
    # Found by the chaos run (seed 3): the provider's stream breaks after some events.
    _route(http)
    fakes.anthropic.push(Step(error_after_events=after, path="/v1/messages"))
    body = {"messages": HELLO, "route": "claude-else-gpt", "stream": stream}
    if not stream:
        answer = http.post("/v1/executions", json=body)
        assert answer.status_code == 200, answer.text
        result = answer.json()
        assert result["provider"] == "openai"
        assert [b["text"] for b in result["content"]] == ["Echo: hello"]  # nothing of the first
        return
    with http.stream("POST", "/v1/executions", json=body) as streamed:
        events = read_sse(streamed.iter_lines(), 100)
    kinds = [e.event for e in events]
    if "text_delta" in kinds[: kinds.index("fallback") if "fallback" in kinds else len(kinds)]:
        assert kinds[-1] == "error"  # output reached the caller first: it ends there
    else:
        assert kinds[-1] == "done", [e.data for e in events[-2:]]


def test_what_a_target_passed_over_used_is_counted_at_its_own_price(
    http: httpx.Client, fakes: Upstreams
) -> None:
    # A whole request long enough to stream upstream (past WHOLE_MAX_TOKENS): the first target
    # streamed some output to the daemon, then broke. The tokens it used are the execution's
    # too, each priced at its own target's model.
    sonnet = Price(input_usd_per_mtok=3.0, output_usd_per_mtok=15.0)
    prices = {"claude-sonnet-5-5": sonnet.model_dump(exclude_none=True)}
    assert http.put("/v1/settings", json={"prices": prices}).status_code == 200
    long = WHOLE_MAX_TOKENS + 1
    direct = _run(http, provider="openai", model="gpt-5.4", max_tokens=long).json()["usage"]
    _route(http)
    fakes.anthropic.push(Step(error_after_events=4, path="/v1/messages"))
    result = _run(http, route="claude-else-gpt", max_tokens=long).json()
    assert result["provider"] == "openai"
    [passed] = result["fallbacks"]
    assert passed["provider"] == "anthropic"
    got = result["usage"]
    earlier = Usage(
        input_tokens=got["input_tokens"] - direct["input_tokens"],
        output_tokens=got["output_tokens"] - direct["output_tokens"],
    )
    assert earlier.input_tokens > 0, (got, direct)  # the first target's message_start counted
    expected = priced(earlier, "claude-sonnet-5-5", {"claude-sonnet-5-5": sonnet}).cost_usd
    assert expected
    assert got["cost_usd"] == pytest.approx(direct["cost_usd"] + expected, abs=1e-8)
