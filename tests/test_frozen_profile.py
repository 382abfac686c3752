"""The frozen start-up profile (`python -m tests.bench.frozen`) sums `-X importtime` lines by
package and phase: the bootstrap's and runtime hooks' until our first module, then before and
after the ready line. Its parsing is checked here on lines as the interpreter writes them (the
profiling build itself is for a quiet machine, not the suite)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench.frozen import SPEC, report, timeline

LINES = [
    "import time: self [us] | cumulative | imported package\n",
    "import time:       178 |        178 |   _io\n",
    "import time:       900 |      19400 |   inspect\n",
    "import time:       300 |        300 |     ast\n",
    "import time:      2000 |      82500 |   pydantic\n",
    "import time:       100 |      27800 |   service.process.config\n",
    "import time:       100 |     350000 |   service.http.app\n",
    "import time:      5000 |     136900 |   aiohttp\n",
    "not an import line\n",
]


def test_imports_are_summed_by_package_and_phase() -> None:
    # _io and inspect come before our first module (the hooks); pydantic before `service` is
    # still the bootstrap's; then our config before the ready line, the app and aiohttp after.
    stamps = [0.001, 0.002, 0.003, 0.004, 0.005, 0.006, 0.300, 0.400, 0.401]
    lines = list(zip(stamps, LINES, strict=True))
    result = timeline(lines, started=0.0, ready_at=0.2, first_at=0.7)
    assert result["first_import_ms"] == 2.0
    assert result["ready_ms"] == 200.0
    assert result["first_answer_ms"] == 700.0
    phases = result["phases"]
    assert isinstance(phases, dict)
    assert phases["hooks"] == {"pydantic": 82.5, "inspect": 19.4}
    assert phases["before"] == {"service": 27.8}
    assert phases["after"] == {"service": 350.0, "aiohttp": 136.9}
    text = report("api_key", result)
    assert "ready line 200.0 ms" in text
    assert "imports after it, serving and the preload thread at once: 486.9 ms" in text


def test_a_build_without_the_profile_is_an_error_not_an_empty_profile() -> None:
    lines = [(0.01, "kata-providers: started\n")]
    with pytest.raises(RuntimeError, match="no import times"):
        timeline(lines, started=0.0, ready_at=0.2, first_at=0.7)


def test_the_shipped_build_never_carries_the_profiling_option() -> None:
    # The option is added only under KATA_PROFILE_IMPORTS; `make dist` never sets it.
    spec = Path(SPEC).read_text()
    assert 'if os.environ.get("KATA_PROFILE_IMPORTS") else []' in spec
    makefile = (Path(SPEC).parents[1] / "Makefile").read_text()
    assert "KATA_PROFILE_IMPORTS" not in makefile
