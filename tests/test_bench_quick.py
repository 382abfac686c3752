"""The benchmark suite's quick mode runs in CI so it cannot rot: it checks the report's shape
and that every arm ran, never its timings (those are for `make bench` on a quiet machine)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.bench.run import PROVIDERS, main


@pytest.mark.timeout(600)
def test_quick_benchmark_produces_a_complete_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bench.json"
    main(["--quick", "--json", str(out)])
    report = json.loads(out.read_text())
    results, sizes = report["results"], report["sizes"]
    assert report["quick"] is True
    assert report["machine"]["cores"] >= 1
    assert report["date"].startswith("20")
    for provider in PROVIDERS:
        latency = results[f"latency_{provider}"]
        for arm in ("raw", "hop", "sdk", "naive", "forwarder", "daemon", "compat"):
            assert latency["ms"][arm]["n"] == sizes["requests"]
            assert latency["ms"][arm]["p50"] > 0
        assert set(latency["added_ms"]) == {"hop", "sdk", "naive", "forwarder", "daemon", "compat"}
        cpu = latency["cpu_ms_per_request"]
        assert set(cpu) == {"hop", "naive", "forwarder", "daemon", "compat"}
        # One process serves both route families: each gets the mean over what it served.
        assert cpu["daemon"] == cpu["compat"] > 0
        assert latency["self_reported_overhead_ms"]["n"] == sizes["requests"]
        assert latency["self_report_gap_ms"] >= 0
        throughput = results[f"throughput_{provider}"]
        for arm in ("raw", "hop", "sdk", "naive", "forwarder", "daemon", "compat"):
            assert throughput[f"{arm}_per_s"] > 0
        streaming = results[f"streaming_{provider}"]
        assert set(streaming) == {str(level) for level in sizes["streams"]}
        for level in streaming.values():
            assert level["deltas_per_stream"] >= sizes["stream_words"]
            assert level["ttft_daemon_ms"]["p50"] > 0
    assert len(results["startup"]["ready_ms"]) == sizes["startups"]
    memory = results["memory"]
    assert memory["idle_rss_mb"] > 0
    assert memory["after_executions"] == sizes["soak"]
    assert memory["fds_after"] > 0
    assert set(results["baselines_rss_mb"]) == {"hop", "naive", "forwarder"}
    table = capsys.readouterr().out
    assert "| non-streaming added p50, anthropic (ms; raw: absolute) |" in table
    assert "| requests/s at 16 concurrent, openai |" in table
    assert "| RSS idle, warm (MB) |" in table
    assert "**Kata Providers**" in table


def test_the_cache_loop_reads_the_spec_from_the_cache_only_when_cached() -> None:
    # Token counts, not timings: the fakes count and cache deterministically.
    from tests.bench.cache_loop import run

    results = run(turns=3, spec_tokens=2000)
    on, off = results["anthropic executions, cache on"], results["anthropic executions, cache off"]
    assert on["cache_read"] > 4000  # turns 2 and 3 read the spec (and more) from the cache
    assert (off["cache_read"], off["cache_write"]) == (0, 0)
    assert on["cost_usd"] < off["cost_usd"]
    marked = results["anthropic compatible route, marked"]
    assert marked["cache_read"] == on["cache_read"]  # the same cache, marked by the caller
    assert results["anthropic compatible route, unmarked"]["cache_read"] == 0


def test_the_overhead_check_fails_only_past_its_allowance() -> None:
    from tests.bench.overhead_check import GROWTH_ALLOWED, grown

    recorded = {"anthropic": {"ratio_to_naive": {"daemon": 0.5, "compat": 0.4}}}
    within = {"anthropic": {"ratio_to_naive": {"daemon": 0.5 * GROWTH_ALLOWED, "compat": 0.1}}}
    past = {"anthropic": {"ratio_to_naive": {"daemon": 0.5 * GROWTH_ALLOWED + 0.01, "compat": 0.4}}}
    assert grown(within, recorded) == []
    assert grown(past, recorded) == [
        f"anthropic daemon: {0.5 * GROWTH_ALLOWED + 0.01} > 0.5 x 1.15"
    ]


def test_the_startup_check_fails_only_when_both_runs_are_past_the_allowance() -> None:
    from tests.bench.startup import GROWTH_ALLOWED, check, fastest_of

    recorded = {"arms": {"source": {"demo": {"best_first_ratio": 20.0}}}}
    limit = 20.0 * GROWTH_ALLOWED

    def run(ratio: float) -> dict[str, object]:
        return {"arms": {"source": {"demo": {"best_first_ratio": ratio, "first_ms": 1.0}}}}

    assert check(run(limit), recorded) == []
    assert len(check(run(limit + 1), recorded)) == 1
    # a slow first run that the second does not repeat passes; both slow fails
    assert check(fastest_of(run(limit + 5), run(limit - 1)), recorded) == []
    assert len(check(fastest_of(run(limit + 5), run(limit + 2)), recorded)) == 1
    assert fastest_of(run(limit + 5), run(limit + 2))["arms"]["source"]["demo"]["first_ms"] == 1.0
