"""The benchmark suite's quick mode runs in CI so it cannot rot: it checks the report's shape,
never its timings (those are for `make bench` on a quiet machine)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.bench.run import main


@pytest.mark.timeout(600)
def test_quick_benchmark_produces_a_complete_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bench.json"
    main(["--quick", "--json", str(out)])
    report = json.loads(out.read_text())
    results = report["results"]
    assert report["quick"] is True
    assert report["machine"]["cores"] >= 1
    for arm in ("raw_ms", "direct_ms", "daemon_ms", "self_reported_overhead_ms"):
        assert results["latency"][arm]["n"] == report["sizes"]["requests"]
        assert results["latency"][arm]["p50"] > 0
    assert set(results["streaming"]) == {"1", "4"}
    for level in results["streaming"].values():
        assert level["deltas_per_stream"] == report["sizes"]["stream_words"] + 1
        assert level["ttft_daemon_ms"]["p50"] > 0
    assert results["throughput"]["ratio"] > 0
    assert len(results["startup"]["ready_ms"]) == report["sizes"]["startups"]
    memory = results["memory"]
    assert memory["idle_rss_mb"] > 0
    assert memory["sdks_loaded_rss_mb"] >= memory["idle_rss_mb"]
    assert memory["after_executions"] == report["sizes"]["soak"]
    table = capsys.readouterr().out
    assert "| non-streaming p50 (ms) |" in table
    assert "| non-streaming p50 / p99 over raw HTTP to the fake (ms) |" in table
    assert "| RSS idle after ready (MB) |" in table
