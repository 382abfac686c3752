"""Where the built executable's start-up time goes, measured as built: a profiling build of the
same spec (`KATA_PROFILE_IMPORTS=1` adds `-X importtime` to the frozen interpreter's options)
is spawned as the shell spawns it, each line it writes is stamped as it arrives, and the
imports are summed by package on a timeline: the bootloader (spawn to the interpreter's first
import: unpacking nothing, opening the archive, loading libpython), the runtime hooks, what is
imported before the ready line, and what after it until the first answer.

    python -m tests.bench.frozen [--mode api_key|session_anthropic|session_openai|demo]

The profiling build goes to artifacts/frozen-profile (about 30 s the first time; rebuilt when
the spec changes). Its figures run slower than the shipped build's by the cost of writing the
profile itself; the shares are what matters.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from tests.bench.startup import MODES, ROOT, _daemon, first_execution
from tests.support import upstreams

SPEC = ROOT / "packaging" / "kata-providers.spec"
OUT = ROOT / "artifacts" / "frozen-profile"
EXECUTABLE = OUT / "dist" / "kata-providers" / "kata-providers"
LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( +)(\S+)")


def build() -> Path:
    """The profiling build, rebuilt when the spec is newer than it."""
    if EXECUTABLE.exists() and EXECUTABLE.stat().st_mtime > SPEC.stat().st_mtime:
        return EXECUTABLE
    subprocess.run(
        [
            str(Path(sys.executable).with_name("pyinstaller")),
            "--noconfirm",
            "--log-level",
            "ERROR",
            "--distpath",
            str(OUT / "dist"),
            "--workpath",
            str(OUT / "build"),
            str(SPEC),
        ],
        env={**os.environ, "KATA_PROFILE_IMPORTS": "1"},
        check=True,
        cwd=ROOT,
    )
    return EXECUTABLE


def _stamped(stream: object, lines: list[tuple[float, str]]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        lines.append((time.perf_counter(), line))


def profile(mode: str) -> dict[str, object]:
    """Spawn the profiling build in `mode`, ask for one execution; the timeline in ms."""
    executable = build()
    lines: list[tuple[float, str]] = []
    readers: list[threading.Thread] = []

    def read_stderr(process: subprocess.Popen[str]) -> None:
        reader = threading.Thread(target=_stamped, args=(process.stderr, lines), daemon=True)
        reader.start()
        readers.append(reader)

    with (
        upstreams() as fakes,
        _daemon("dist", mode, fakes, command=[str(executable), "serve"], on_spawn=read_stderr) as (
            _,
            ready,
            started,
        ),
    ):
        ready_at = time.perf_counter()
        answer = first_execution(ready, mode)
        first_at = time.perf_counter()
        assert answer.status_code == 200, answer.text[:300]
        time.sleep(0.2)
    for reader in readers:
        reader.join(5)
    return timeline(lines, started, ready_at, first_at)


def timeline(
    lines: list[tuple[float, str]], started: float, ready_at: float, first_at: float
) -> dict[str, object]:
    """Import time summed by top-level package, before and after the ready line."""
    imports = [(at, m) for at, line in lines if (m := LINE.match(line))]
    if not imports:
        raise RuntimeError("the profiling build wrote no import times")
    top = min(len(m.group(3)) for _, m in imports)
    phases: dict[str, Counter[str]] = {p: Counter() for p in ("hooks", "before", "after")}
    summed: dict[str, dict[str, float]] = {phase: {} for phase in phases}
    ours = False
    for at, m in imports:
        if len(m.group(3)) != top:
            continue
        name = m.group(4).split(".")[0]
        # Until the entry script imports our first module, the imports are the bootstrap's
        # and the runtime hooks' (pyi_rth_inspect, _multiprocessing, _pkgutil).
        ours = ours or name == "service"
        phase = "hooks" if not ours else "after" if at > ready_at else "before"
        phases[phase][name] += int(m.group(2))  # microseconds

    def ms(at: float) -> float:
        return round((at - started) * 1000, 1)

    for phase, counts in phases.items():
        for name, micros in counts.most_common():
            if micros >= 1000:
                summed[phase][name] = round(micros / 1000, 1)
    return {
        "first_import_ms": ms(imports[0][0]),
        "ready_ms": ms(ready_at),
        "first_answer_ms": ms(first_at),
        "phases": summed,
    }


def report(mode: str, result: dict[str, object]) -> str:
    phases = result["phases"]
    assert isinstance(phases, dict)
    out = [
        f"mode {mode}: spawn → first import {result['first_import_ms']} ms (bootloader, "
        f"libpython, the archive), ready line {result['ready_ms']} ms, first answer "
        f"{result['first_answer_ms']} ms (all slower than shipped: the profile is written too)"
    ]
    titles = {
        "hooks": "the bootstrap and PyInstaller's runtime hooks, before our first import",
        "before": "imports before the ready line (ms, cumulative per top-level package)",
        "after": "imports after it, serving and the preload thread at once",
    }
    for phase, title in titles.items():
        counts = phases[phase]
        total = round(sum(counts.values()), 1)
        listed = ", ".join(f"{name} {value}" for name, value in list(counts.items())[:12])
        out.append(f"{title}: {total} ms: {listed}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mode", choices=list(MODES), default="api_key")
    args = parser.parse_args(argv)
    print(report(args.mode, profile(args.mode)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
