"""A short soak in CI (the long one is `make soak`): zero errors, fds and RSS steady."""

from __future__ import annotations

import pytest

from tests.bench.soak import run


@pytest.mark.timeout(300)
def test_short_soak_leaves_no_errors_or_leaks() -> None:
    report = run(concurrency=20, seconds=5, words=30)
    assert report["completed"] > 20, report
    assert report["errors"] == 0, report
    # A leak grows with the ~500 executions; pooled upstream connections may churn by a few.
    assert report["after"]["fds"] <= report["before"]["fds"] + 5, report
    assert report["rss_growth_mb"] < 15, report
