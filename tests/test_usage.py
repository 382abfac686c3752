"""Usage, cost, the ledger, budgets and the wave governor (issue 15), against the fakes."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.base import Credential, Finished
from adapters.fakes.server import Step
from contracts.base import AuthMode, ProviderId
from contracts.executions import CostSource, ExecutionRequest, ExecutionState, Usage
from contracts.usage import ExecutionRecord, Price
from service.process.config import DaemonConfig
from service.usage.ledger import FILE_NAME, Ledger
from service.usage.ledger_rows import MIGRATIONS, TAG_LIMIT
from service.usage.prices import cost, price_for, priced, table
from tests.support import (
    ANTHROPIC_KEY,
    LiveServer,
    Upstreams,
    make_runtime,
    read_sse,
)
from tests.test_replay import KEY, _adapter, _fake
from tests.wire_recordings import Recording, read, recordings

MODEL = "claude-sonnet-5-5"
# $1 per 1k input tokens and $2 per 1k output: the fake's small answers cost cents.
DEAR = {"input_usd_per_mtok": 1000.0, "output_usd_per_mtok": 2000.0}


def _cached_variant(recording: Recording) -> Recording:
    """The same stream with cache counts in it (no recording has any): 7 tokens read from the
    cache, 3 written."""
    raw = (
        recording.raw.replace(b'"cached_tokens":0', b'"cached_tokens":7')
        .replace(b'"cache_read_input_tokens":0', b'"cache_read_input_tokens":7')
        .replace(b'"cache_creation_input_tokens":0', b'"cache_creation_input_tokens":3')
    )
    return read(Recording(recording.name + "+cache", recording.protocol, raw))


RECORDED = recordings()
CACHED = [_cached_variant(r) for r in RECORDED if r.raw != _cached_variant(r).raw]
ALL = RECORDED + CACHED


def test_the_cached_variants_exist_for_both_providers() -> None:
    assert {r.protocol for r in CACHED} == {"anthropic", "responses", "chat"}
    assert all(r.usage["cache_read_tokens"] == 7 for r in CACHED)


@pytest.mark.parametrize("recording", ALL, ids=[r.name for r in ALL])
async def test_usage_is_normalized_from_every_recorded_stream(recording: Recording) -> None:
    fake = _fake(recording)
    url = await fake.start()
    fake.push(Step(replay=recording.raw))
    adapter, model = _adapter(recording, url)
    request = ExecutionRequest.model_validate({"messages": [{"role": "user", "content": "x"}]})
    finished: list[Finished] = []
    try:
        async for event in adapter.stream(
            request, model, Credential(AuthMode.API_KEY, api_key=KEY)
        ):
            if isinstance(event, Finished):
                finished.append(event)
    finally:
        await adapter.aclose()
        await fake.stop()
    assert finished[0].usage is not None
    usage = finished[0].usage.model_dump(exclude={"cost_usd", "cost_source"})
    assert usage == recording.usage
    assert usage["total_tokens"] == (
        usage["input_tokens"]
        + usage["cache_read_tokens"]
        + usage["cache_write_tokens"]
        + usage["output_tokens"]
    )


# Prices and cost.


def test_every_shipped_price_names_its_source_and_date() -> None:
    rows = table()
    assert len(rows) >= 10
    for model, row in rows.items():
        assert row.source.startswith("https://"), model
        dt.date.fromisoformat(row.as_of)
        assert row.price.input_usd_per_mtok > 0
        assert row.price.output_usd_per_mtok > 0


def test_a_dated_snapshot_is_priced_as_its_alias_and_settings_win() -> None:
    found = price_for("claude-sonnet-4-20250514", {})
    assert found is not None
    assert found[1] is CostSource.TABLE
    assert found[0].input_usd_per_mtok == 3.0
    assert price_for("gpt-5.4-2026-03-05", {}) == (table()["gpt-5.4"].price, CostSource.TABLE)
    mine = Price(input_usd_per_mtok=1, output_usd_per_mtok=2)
    assert price_for("claude-sonnet-4-20250514", {"claude-sonnet-4": mine}) == (
        mine,
        CostSource.SETTINGS,
    )
    assert price_for("a-model-nobody-prices", {}) is None


def test_cost_arithmetic() -> None:
    price = Price(
        input_usd_per_mtok=3,
        output_usd_per_mtok=15,
        cache_read_usd_per_mtok=0.3,
        cache_write_usd_per_mtok=3.75,
    )
    usage = Usage(
        input_tokens=1_000_000,
        output_tokens=2_000_000,
        cache_read_tokens=10_000_000,
        cache_write_tokens=400_000,
        reasoning_tokens=500_000,  # part of the output: never billed twice
    )
    assert cost(usage, price) == pytest.approx(3 + 30 + 3 + 1.5)
    # Without cache prices, cached tokens cost what input costs.
    plain = Price(input_usd_per_mtok=2, output_usd_per_mtok=4)
    assert cost(Usage(input_tokens=10, cache_read_tokens=20, cache_write_tokens=30), plain) == (
        pytest.approx(60 * 2 / 1_000_000)
    )
    assert cost(Usage(input_tokens=1), plain) == pytest.approx(0.000002)
    unknown = priced(Usage(input_tokens=5), "nobody-prices-this", {})
    assert unknown.cost_usd is None
    assert unknown.cost_source is None
    assert unknown.total_tokens == 5


# The ledger on its own.


def record_of(number: int, **extra: Any) -> ExecutionRecord:
    now = dt.datetime.now(dt.UTC)
    fields: dict[str, Any] = {
        "id": f"exe_{number:04d}",
        "started_at": now,
        "ended_at": now + dt.timedelta(milliseconds=number),
        "provider": ProviderId.ANTHROPIC,
        "model": MODEL,
        "auth_mode": AuthMode.API_KEY,
        "fallback_applied": False,
        "outcome": ExecutionState.SUCCEEDED,
        "usage": Usage(input_tokens=10, output_tokens=5, cost_usd=0.001),
        **extra,
    }
    return ExecutionRecord(**fields)


async def test_the_ledger_migrates_pages_and_keeps_tags_bounded(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path, lambda: 90)
    await ledger.open()
    for number in range(7):
        ledger.record(record_of(number, agent="x" * 500 if number == 6 else "review"))
    first = await ledger.page(3)
    second = await ledger.page(3, first.next_cursor)
    third = await ledger.page(3, second.next_cursor)
    ids = [e.id for page in (first, second, third) for e in page.executions]
    assert ids == [f"exe_{n:04d}" for n in reversed(range(7))]
    assert third.next_cursor is None
    assert len(first.executions[0].agent or "") == TAG_LIMIT
    await ledger.close()
    db = sqlite3.connect(tmp_path / FILE_NAME)
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) == 4
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert (tmp_path / FILE_NAME).stat().st_mode & 0o777 == 0o600


async def test_usage_a_provider_never_reported_stays_absent_in_the_ledger(
    tmp_path: Path,
) -> None:
    ledger = Ledger(tmp_path, lambda: 90)
    await ledger.open()
    ledger.record(record_of(1, usage=None))
    ledger.record(record_of(2))
    page = await ledger.page(10)
    by_id = {e.id: e.usage for e in page.executions}
    assert by_id["exe_0001"] is None
    assert by_id["exe_0002"] is not None
    assert by_id["exe_0002"].output_tokens == 5
    await ledger.close()


async def test_expired_rows_are_purged_at_open(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path, lambda: 90)
    await ledger.open()
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=40)
    ledger.record(record_of(1, started_at=old, ended_at=old))
    ledger.record(record_of(2))
    await ledger.close()
    shorter = Ledger(tmp_path, lambda: 30)
    await shorter.open()
    assert [e.id for e in (await shorter.page(10)).executions] == ["exe_0002"]
    await shorter.close()


@pytest.mark.parametrize("damage", ["garbage", "newer schema"])
async def test_an_unusable_ledger_is_kept_aside_and_a_new_one_started(
    tmp_path: Path, damage: str
) -> None:
    path = tmp_path / FILE_NAME
    if damage == "garbage":
        path.write_bytes(b"this is not a database" * 100)
    else:
        db = sqlite3.connect(path)
        db.execute("PRAGMA user_version = 99")
        db.close()
    ledger = Ledger(tmp_path, lambda: 90)
    await ledger.open()
    assert ledger.problem
    assert "kept as" in ledger.problem
    assert any(p.name.startswith(f"{FILE_NAME}.corrupt-") for p in os.scandir(tmp_path))
    ledger.record(record_of(1))
    assert len((await ledger.page(10)).executions) == 1
    await ledger.close()


# Through the daemon.


def _ask(text: str = "hello there", **extra: Any) -> dict[str, Any]:
    return {"provider": "anthropic", "messages": [{"role": "user", "content": text}], **extra}


def _stream(http: httpx.Client, body: dict[str, Any]) -> list[dict[str, Any]]:
    with http.stream("POST", "/v1/executions", json={**body, "stream": True}) as response:
        assert response.status_code == 200, response.read()
        return [{"event": e.event, **e.json()} for e in read_sse(response.iter_lines(), 10_000)]


def _messages(fake: Any) -> int:
    return sum(1 for r in fake.requests if r.method == "POST")


def test_results_carry_usage_and_cost_and_the_ledger_keeps_them(http: httpx.Client) -> None:
    http.put("/v1/settings", json={"prices": {MODEL: DEAR}})
    whole = http.post("/v1/executions", json=_ask(metadata={"agent": "review", "run": "r1"}))
    usage = whole.json()["usage"]
    assert usage["cost_source"] == "settings"
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"] > 0
    assert usage["cost_usd"] == pytest.approx(
        (usage["input_tokens"] * 1000 + usage["output_tokens"] * 2000) / 1_000_000
    )
    events = _stream(http, _ask(metadata={"agent": "verify"}))
    done = events[-1]
    assert done["event"] == "done"
    assert done["result"]["usage"]["cost_usd"] > 0
    openai = http.post("/v1/executions", json={**_ask(), "provider": "openai"}).json()
    assert openai["usage"]["cost_source"] == "table"  # gpt-5.5 is in the shipped table

    rows = http.get("/v1/executions").json()["executions"]
    assert [r["provider"] for r in rows] == ["openai", "anthropic", "anthropic"]
    assert rows[1]["agent"] == "verify"
    assert rows[2]["agent"] == "review"
    assert rows[2]["run"] == "r1"
    assert rows[2]["usage"] == usage
    assert rows[1]["first_token_at"] is not None
    assert all(r["outcome"] == "succeeded" for r in rows)
    only = http.get("/v1/executions", params={"agent": "review"}).json()["executions"]
    assert [r["id"] for r in only] == [whole.json()["id"]]

    report = http.get("/v1/usage", params={"group_by": "provider"}).json()
    assert report["totals"]["executions"] == 3
    assert report["totals"]["cost_usd"] == pytest.approx(
        sum(r["usage"]["cost_usd"] for r in rows), abs=1e-7
    )
    assert report["totals"]["total_tokens"] == sum(r["usage"]["total_tokens"] for r in rows)
    by_group = {g["key"]: g for g in report["groups"]}
    assert by_group["anthropic"]["executions"] == 2
    assert sum(g["cost_usd"] for g in report["groups"]) == pytest.approx(
        report["totals"]["cost_usd"], abs=1e-7
    )
    day = http.get("/v1/usage", params={"group_by": "day"}).json()["groups"]
    assert [g["key"] for g in day] == [dt.datetime.now().astimezone().date().isoformat()]
    model = http.get("/v1/usage", params={"group_by": "model"}).json()["groups"]
    assert {g["key"] for g in model} == {MODEL, "gpt-5.5"}


def test_no_prompt_or_answer_text_is_kept(http: httpx.Client, config: DaemonConfig) -> None:
    http.post("/v1/executions", json=_ask("the secret plan is pineapple"))
    http.get("/v1/executions")  # a read writes what is queued
    stored = b"".join(p.read_bytes() for p in config.data_dir.glob(f"{FILE_NAME}*"))
    assert stored
    assert b"pineapple" not in stored


def test_bad_queries_are_refused_with_the_taxonomy(http: httpx.Client) -> None:
    cursor = http.get("/v1/executions", params={"cursor": "not-ours"})
    assert cursor.status_code == 422
    assert cursor.json()["code"] == "invalid_request"
    assert cursor.json()["remediation"]
    since = http.get("/v1/usage", params={"since": "0.5"})
    assert since.status_code == 422
    assert http.get("/v1/usage", params={"group_by": "week"}).status_code == 422
    assert http.get("/v1/executions", params={"limit": 0}).status_code == 422


def test_a_failed_execution_records_what_it_used(http: httpx.Client, fakes: Upstreams) -> None:
    # The stream breaks after message_start (which carries the input count) and one block.
    fakes.anthropic.push(Step(reset_after_events=3))
    events = _stream(http, _ask("one two three four five six"))
    error = events[-1]
    assert error["event"] == "error"
    assert error["usage"]["input_tokens"] > 0
    row = http.get("/v1/executions").json()["executions"][0]
    assert row["outcome"] == "failed"
    assert row["error_code"] == error["error"]["code"]
    assert row["usage"]["input_tokens"] == error["usage"]["input_tokens"]


def test_the_ledger_survives_a_restart_after_concurrent_executions(
    config: DaemonConfig, fakes: Upstreams
) -> None:
    first = make_runtime(config, adapters=fakes.adapters(), watch=False)
    with LiveServer.start(config, first) as live, live.client() as client:
        client.put("/v1/providers/anthropic/api-key", json={"api_key": ANTHROPIC_KEY})
        client.put("/v1/providers/anthropic/settings", json={"max_concurrent": 16})
        with ThreadPoolExecutor(12) as pool:
            answers = list(
                pool.map(
                    lambda n: client.post(
                        "/v1/executions", json=_ask(f"number {n}", metadata={"agent": f"a{n % 3}"})
                    ),
                    range(12),
                )
            )
        assert all(a.status_code == 200 for a in answers)
        ids = {a.json()["id"] for a in answers}
    second = make_runtime(config, adapters=fakes.adapters(), watch=False)
    with LiveServer.start(config, second) as live, live.client() as client:
        rows = client.get("/v1/executions", params={"limit": 500}).json()["executions"]
        report = client.get("/v1/usage", params={"group_by": "agent"}).json()
    assert {r["id"] for r in rows} == ids
    assert report["totals"]["executions"] == 12
    assert sorted(g["key"] for g in report["groups"]) == ["a0", "a1", "a2"]
    assert all(g["executions"] == 4 for g in report["groups"])


def test_a_budget_crossed_mid_wave_refuses_the_rest_before_any_upstream_call(
    http: httpx.Client, fakes: Upstreams, daemon: LiveServer
) -> None:
    http.put("/v1/settings", json={"prices": {MODEL: DEAR}})
    one = http.post("/v1/executions", json=_ask()).json()["usage"]["cost_usd"]
    assert one > 0
    # Room for two more (2.5 of what one costs, one already spent): the third is refused.
    http.put(
        "/v1/providers/anthropic/settings",
        json={"daily_budget_usd": round(one * 3.5, 8), "max_concurrent": 1},
    )
    before = _messages(fakes.anthropic)
    with ThreadPoolExecutor(6) as pool:
        waves = list(pool.map(lambda _: _stream(http, _ask()), range(6)))
    terminal = [events[-1] for events in waves]
    done = [e for e in terminal if e["event"] == "done"]
    refused = [e for e in terminal if e["event"] == "error"]
    assert len(done) == 3
    assert len(refused) == 3
    assert _messages(fakes.anthropic) - before == 3
    for event in refused:
        error = event["error"]
        assert error["code"] == "budget_exceeded"
        assert error["action"] == "raise_budget"
        assert "midnight" in error["remediation"]
        assert "daily_budget_usd" in error["remediation"]
        assert error["retry_after_s"] > 0
    whole = http.post("/v1/executions", json=_ask())
    assert whole.status_code == 429
    assert whole.json()["code"] == "budget_exceeded"
    status = http.get("/v1/providers/anthropic").json()
    assert status["budget"]["exceeded"] is True
    assert status["budget"]["spent_today_usd"] == pytest.approx(4 * one, rel=1e-6)
    # Raising the budget lets the next one through at once.
    http.put("/v1/providers/anthropic/settings", json={"daily_budget_usd": 100})
    assert http.post("/v1/executions", json=_ask()).status_code == 200


def test_eighty_percent_of_a_budget_publishes_one_warning(
    http: httpx.Client, daemon: LiveServer
) -> None:
    http.put("/v1/settings", json={"prices": {MODEL: DEAR}})
    one = http.post("/v1/executions", json=_ask()).json()["usage"]["cost_usd"]
    http.put("/v1/providers/anthropic/settings", json={"daily_budget_usd": round(one * 2.2, 8)})
    warnings: list[dict[str, Any]] = []
    usage_events: list[dict[str, Any]] = []
    subscribed = threading.Event()

    def listen() -> None:
        with daemon.client() as listener, listener.stream("GET", "/v1/events") as response:
            subscribed.set()
            for event in read_sse(response.iter_lines(), 6):
                body = event.json()
                if body.get("type") == "provider_error":
                    warnings.append(body)
                if body.get("type") == "usage":
                    usage_events.append(body)
                if len(usage_events) >= 2 and warnings:
                    return

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    subscribed.wait(5)
    time.sleep(0.2)
    http.post("/v1/executions", json=_ask())  # 2 of 2.2: 91 %
    http.post("/v1/executions", json=_ask())  # spent: refused, no second warning
    thread.join(5)
    assert [w["error"]["code"] for w in warnings] == ["budget_exceeded"]
    assert "%" in warnings[0]["error"]["message"]
    assert usage_events[0]["execution"]["usage"]["cost_usd"] == pytest.approx(one)
    assert usage_events[0]["budget"]["daily_budget_usd"] == pytest.approx(one * 2.2)


def test_the_governor_keeps_a_wave_under_the_providers_limit(
    http: httpx.Client, fakes: Upstreams
) -> None:
    fakes.anthropic.concurrency_limit = 2
    fakes.anthropic.push(Step(delay_s=0.15, repeat=8))
    http.put("/v1/providers/anthropic/settings", json={"max_concurrent": 2})
    with ThreadPoolExecutor(8) as pool:
        waves = list(pool.map(lambda n: _stream(http, _ask(f"wave {n}")), range(8)))
    assert all(events[-1]["event"] == "done" for events in waves)
    assert fakes.anthropic.limited == 0
    assert fakes.anthropic.peak_in_progress == 2
    queued = [e for events in waves for e in events if e["event"] == "queued"]
    assert len(queued) >= 5  # 8 at once, 2 run: the rest wait their turn
    assert {e["position"] for e in queued} >= {1, 2}
    for events in waves:
        kinds = [e["event"] for e in events]
        if "queued" in kinds:
            assert kinds.index("queued") < kinds.index("start")
            assert events[0]["id"] == events[kinds.index("start")]["id"]


def test_a_429_halves_the_limit_and_the_wave_still_completes(
    config: DaemonConfig, fakes: Upstreams
) -> None:
    runtime = make_runtime(config, adapters=fakes.adapters(), watch=False)
    fakes.anthropic.concurrency_limit = 2
    fakes.anthropic.push(Step(delay_s=0.2, repeat=40))
    with LiveServer.start(config, runtime) as live, live.client() as client:
        client.put("/v1/providers/anthropic/api-key", json={"api_key": ANTHROPIC_KEY})
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda n: client.post("/v1/executions", json=_ask()), range(8)))
        governor = client.get("/v1/providers/anthropic").json()["governor"]
    assert fakes.anthropic.limited >= 1
    assert governor["max_concurrent"] == 8
    # Cut by the 429s, then grown back one per round of successes: not yet back to 8.
    assert 1 <= governor["effective_limit"] < 8
    succeeded = [a for a in answers if a.status_code == 200]
    assert len(succeeded) >= 6, [a.json().get("code") for a in answers if a.status_code != 200]


def test_a_client_that_leaves_the_queue_is_gone_from_it(
    http: httpx.Client, fakes: Upstreams, daemon: LiveServer
) -> None:
    http.put("/v1/providers/anthropic/settings", json={"max_concurrent": 1})
    fakes.anthropic.push(Step(delay_s=0.8))
    with ThreadPoolExecutor(1) as pool:
        holder = pool.submit(http.post, "/v1/executions", json=_ask("holder"))
        time.sleep(0.2)
        with (
            daemon.client() as leaver,
            leaver.stream(
                "POST", "/v1/executions", json={**_ask("leaver"), "stream": True}
            ) as response,
        ):
            first = read_sse(response.iter_lines(), 1)[0]
            assert first.event == "queued"
            assert first.json()["position"] == 1
        deadline = time.monotonic() + 3
        while http.get("/v1/providers/anthropic").json()["governor"]["queued"]:
            assert time.monotonic() < deadline, "the leaver is still queued"
            time.sleep(0.05)
        assert holder.result().status_code == 200
    sent = [r.json() for r in fakes.anthropic.requests if r.method == "POST"]
    assert "leaver" not in json.dumps(sent)
    rows = http.get("/v1/executions").json()["executions"]
    assert sorted(r["outcome"] for r in rows) == ["cancelled", "succeeded"]


def test_time_in_the_queue_counts_against_the_deadline(
    http: httpx.Client, fakes: Upstreams
) -> None:
    http.put("/v1/providers/anthropic/settings", json={"max_concurrent": 1})
    fakes.anthropic.push(Step(delay_s=1.0))
    before = _messages(fakes.anthropic)
    with ThreadPoolExecutor(1) as pool:
        holder = pool.submit(http.post, "/v1/executions", json=_ask("holder"))
        time.sleep(0.2)
        started = time.monotonic()
        late = http.post("/v1/executions", json=_ask("late", timeout_s=0.3))
        waited = time.monotonic() - started
        assert holder.result().status_code == 200
    assert late.status_code == 504
    assert late.json()["code"] == "timeout"
    assert "waited" in late.json()["message"]
    assert 0.25 <= waited < 0.9
    assert _messages(fakes.anthropic) - before == 1


def test_without_a_ledger_nothing_is_kept_but_budgets_still_count(
    config: DaemonConfig, fakes: Upstreams
) -> None:
    config = dataclasses.replace(config, ledger=False)
    runtime = make_runtime(config, adapters=fakes.adapters(), watch=False)
    with LiveServer.start(config, runtime) as live, live.client() as client:
        client.put("/v1/providers/anthropic/api-key", json={"api_key": ANTHROPIC_KEY})
        client.put("/v1/settings", json={"prices": {MODEL: DEAR}})
        client.put("/v1/providers/anthropic/settings", json={"daily_budget_usd": 0.001})
        assert client.post("/v1/executions", json=_ask()).status_code == 200
        assert client.get("/v1/executions").json()["executions"] == []
        assert client.get("/v1/usage").json()["totals"]["executions"] == 0
        refused = client.post("/v1/executions", json=_ask())
        assert refused.status_code == 429
    assert not list(config.data_dir.glob(f"{FILE_NAME}*"))
