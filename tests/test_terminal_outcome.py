"""One terminal outcome, by construction: Hypothesis picks a seam, an exception and JSON or SSE,
and the daemon (the real app, over a socket) must answer with exactly one terminal outcome, a
well-formed taxonomy body, and no duplicated or invented text."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.anthropic.body import MESSAGES
from adapters.base import AdapterEvent, Credential, Finished, Signature
from adapters.errors import boundary
from contracts.base import ProviderId
from contracts.error_body import ErrorBody
from contracts.errors import InvalidAuth, ProviderUnavailable, SessionFailed
from contracts.executions import ExecutionRequest, ExecutionResult, StopReason, Usage
from contracts.models import ModelInfo
from contracts.stream import TextDeltaEvent, ThinkingDeltaEvent
from service.executions.accumulator import Accumulator
from service.executions.retry import RetryPolicy
from service.process.config import DaemonConfig
from service.providers.health import HealthTracker
from tests.support import ANTHROPIC_KEY, LiveServer, make_runtime, read_sse

SEAMS = ("build", "request", "first", "mid", "translate", "accumulate", "publish", "none")
KINDS = ("provider", "transport", "bug", "value", "session", "auth")
WORDS = ["alpha ", "beta ", "gamma ", "delta "]


@dataclass
class Plan:
    """Where the next execution fails, and how."""

    seam: str = "none"
    kind: str = "bug"
    after: int = 1  # for "mid": events before the failure
    calls: list[str] = field(default_factory=list)


def _exception(kind: str) -> Exception:
    return {
        "provider": ProviderUnavailable("upstream 503", "retry", upstream_status=503),
        "transport": httpx2.RemoteProtocolError("peer closed connection"),
        "bug": TypeError("create() got an unexpected keyword argument 'temperature'"),
        "value": ValueError("Expecting value: line 1 column 1"),
        "session": SessionFailed("refresh rejected", "sign in again"),
        "auth": InvalidAuth("rejected", "replace the key", upstream_status=401),
    }[kind]


class FaultyAdapter:
    """A provider that streams a thinking block and four words, failing where the plan says.
    SDK-side faults go through the real adapter boundary, as the real adapters' do."""

    provider = ProviderId.ANTHROPIC
    capabilities = MESSAGES

    def __init__(self, plan: Plan) -> None:
        self.plan = plan

    def _boundary(self, credential: Credential) -> Any:
        return boundary(self.provider, lambda _: None, secrets=(credential.api_key,))

    async def warm(self, credential: Credential) -> None:
        with self._boundary(credential):
            if self.plan.seam == "build":
                raise _exception(self.plan.kind)

    async def stream(
        self, request: ExecutionRequest, model: str, credential: Credential, *, whole: bool = False
    ) -> AsyncGenerator[AdapterEvent, None]:
        self.plan.calls.append(credential.mode.value)
        with self._boundary(credential):
            if self.plan.seam == "request":
                raise _exception(self.plan.kind)
            yield ThinkingDeltaEvent(index=0, thinking="hmm")
            yield Signature(index=0, signature="sig-1")
            for n, word in enumerate(WORDS):
                if self.plan.seam == "first" and n == 0:
                    raise _exception(self.plan.kind)
                if self.plan.seam == "mid" and n == self.plan.after:
                    raise _exception(self.plan.kind)
                if self.plan.seam == "translate" and n == 2:
                    raise KeyError("content_block")  # our translation code failing
                yield TextDeltaEvent(index=1, text=word)
            yield Finished(StopReason.END_TURN, Usage(input_tokens=3, output_tokens=4), model)

    async def list_models(self, credential: Credential) -> list[ModelInfo]:
        return []

    def forget(self, credential: Credential) -> None:
        pass

    async def aclose(self) -> None:
        pass


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Plan]]:
    config = DaemonConfig(data_dir=tmp_path_factory.mktemp("data"), max_retries=1)
    plan = Plan()

    async def no_sleep(_: float) -> None:
        return None

    runtime = make_runtime(
        config,
        adapters={ProviderId.ANTHROPIC: FaultyAdapter(plan)},
        watch=False,
        policy=RetryPolicy(max_retries=1, sleep=no_sleep),
    )
    with LiveServer.start(config, runtime) as live:
        yield live, plan


def _fresh_health(live: LiveServer) -> None:
    # Never open the breaker here: every example must reach the seam it chose.
    live.runtime.book._health[ProviderId.ANTHROPIC] = HealthTracker(
        consecutive_threshold=10**9, min_requests=10**9
    )


def _check_text(content: list[dict[str, Any]], complete: bool) -> None:
    text = "".join(block["text"] for block in content if block["type"] == "text")
    whole = "".join(WORDS)
    assert whole.startswith(text), text  # nothing duplicated, nothing invented
    if complete:
        assert text == whole
    for block in content:
        if block["type"] == "thinking":
            assert block["thinking"] == "hmm"
            assert block["signature"] == "sig-1"  # kept even when the stream was cut


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    seam=st.sampled_from(SEAMS),
    kind=st.sampled_from(KINDS),
    after=st.integers(min_value=1, max_value=3),
    stream=st.booleans(),
)
def test_every_failure_ends_in_exactly_one_terminal_outcome(
    rig: tuple[LiveServer, Plan],
    monkeypatch: pytest.MonkeyPatch,
    seam: str,
    kind: str,
    after: int,
    stream: bool,
) -> None:
    live, plan = rig
    plan.seam, plan.kind, plan.after = seam, kind, after
    _fresh_health(live)
    with live.client() as client:  # storing the key again clears an earlier 401's verdict
        assert client.put("/v1/providers/anthropic/api-key", json={"api_key": ANTHROPIC_KEY})
    with monkeypatch.context() as patch:
        if seam == "accumulate":
            original = Accumulator.add

            def add(self: Accumulator, event: Any) -> None:
                if isinstance(event, TextDeltaEvent) and event.text == WORDS[1]:
                    raise RuntimeError("accumulator bug")
                original(self, event)

            patch.setattr(Accumulator, "add", add)
        if seam == "publish":
            patch.setattr(live.runtime.bus, "publish", _raise_runtime_error)
            _fresh_health(live)  # the first success changes the status: it is published
        body = {
            "provider": "anthropic",
            "stream": stream,
            "messages": [{"role": "user", "content": "hi"}],
        }
        with live.client() as client:
            if stream:
                with client.stream("POST", "/v1/executions", json=body) as response:
                    status = response.status_code
                    if status == 200:
                        events = [e.json() for e in read_sse(response.iter_lines(), 10_000)]
                    else:
                        error = json.loads(response.read())
            else:
                response = client.post("/v1/executions", json=body)
                status = response.status_code
    if stream and status == 200:
        kinds = [event["type"] for event in events]
        assert kinds.count("done") + kinds.count("error") == 1, kinds
        assert kinds[0] == "start"
        assert kinds[-1] in ("done", "error")
        streamed = "".join(e["text"] for e in events if e["type"] == "text_delta")
        assert "".join(WORDS).startswith(streamed)
        last = events[-1]
        if last["type"] == "done":
            assert seam in ("none", "publish")
            ExecutionResult.model_validate(last["result"])
            _check_text(last["result"]["content"], complete=True)
        else:
            ErrorBody.model_validate(last["error"])
            _check_text(last["partial_content"], complete=False)
            partial = "".join(b["text"] for b in last["partial_content"] if b["type"] == "text")
            assert partial == streamed
        return
    if not stream:
        payload = response.json()
        if status == 200:
            _check_text(ExecutionResult.model_validate(payload).model_dump()["content"], True)
            return
        error = payload
    ErrorBody.model_validate(error)
    assert status >= 400
    assert ANTHROPIC_KEY not in json.dumps(error)


def _raise_runtime_error(*_: object) -> int:
    raise RuntimeError("subscriber bug")
