"""The start-up regression check (`make startup-check`, part of `make test`) fails when a
first-answer ratio to a bare `python -c pass` grows by more than half over the recorded one."""

from __future__ import annotations

import json
from pathlib import Path

from tests.bench.startup import GROWTH_ALLOWED, MODES, RECORDED, check


def _results(ratio: float) -> dict[str, object]:
    return {"arms": {"dist": {"demo": {"best_first_ratio": ratio}}}}


def test_a_ratio_grown_by_more_than_half_fails_and_noise_does_not() -> None:
    recorded = _results(20.0)
    assert check(_results(20.0 * GROWTH_ALLOWED), recorded) == []
    problems = check(_results(20.0 * GROWTH_ALLOWED + 0.1), recorded)
    assert len(problems) == 1
    assert "dist demo" in problems[0]


def test_the_recorded_figures_cover_every_arm_and_mode() -> None:
    recorded = json.loads(Path(RECORDED).read_text())
    assert set(recorded["arms"]) == {"source", "dist"}
    for modes in recorded["arms"].values():
        assert set(modes) == set(MODES)
        assert all(mode["best_first_ratio"] > 1 for mode in modes.values())
