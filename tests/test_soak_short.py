"""A short soak in CI (the long one is `make soak`): zero errors, fds and RSS steady."""

from __future__ import annotations

import pytest

from tests.bench.soak import run


@pytest.mark.timeout(300)
def test_short_soak_leaves_no_errors_or_leaks() -> None:
    report = run(concurrency=20, seconds=5, words=30)
    assert report["completed"] > 20, report
    assert report["errors"] == 0, report
    # A leak grows with the ~600 executions; the upstream pool only with the concurrency (it
    # may not have reached its working size in the warm-up).
    assert report["after"]["fds"] <= report["before"]["fds"] + report["concurrency"], report
    assert report["rss_growth_mb"] < 15, report
