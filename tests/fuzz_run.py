"""`make fuzz`: Schemathesis (each generation mode of a seed in turn) and the hostile-input
fuzzing, seed after seed from --seed, until --seconds are up. Any failure stops the run (the
seed reproduces it), except Schemathesis failing to build its own generator: 4.32.5 sometimes
cannot, for `POST /v1/executions`'s negative cases ("Cannot generate an array with 1 demanded
elements": an element strategy with no values). That is reported and the next seed runs."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time

GENERATOR_BUG = "schemathesis.core.errors.InvalidSchema: Cannot generate an array with"


def _run(target: str, env: dict[str, str]) -> tuple[int, str]:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", target, "-q", "-p", "no:cacheprovider"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


def _only_the_generator_bug(output: str) -> bool:
    failed = re.findall(r"^(?:FAILED|ERROR) ", output, re.MULTILINE)
    return len(failed) == output.count(GENERATOR_BUG) > 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--examples", type=int, default=200)
    args = parser.parse_args()
    end = time.monotonic() + args.seconds
    seed = args.seed
    while time.monotonic() < end:
        runs = [("tests/test_fuzz.py", mode) for mode in ("positive", "negative")]
        runs.append(("tests/test_fuzz_http.py", "all"))  # the `st` command line, over HTTP
        runs.append(("tests/test_hostile_fuzz.py", "all"))
        for target, mode in runs:
            env = {
                "KATA_FUZZ_SEED": str(seed),
                "KATA_FUZZ_MODE": mode,
                "KATA_FUZZ_EXAMPLES": str(args.examples),
            }
            code, output = _run(target, env)
            summary = output.strip().splitlines()[-1] if output.strip() else ""
            print(f"seed {seed} {target} ({mode}): {summary}", flush=True)
            if code != 0 and _only_the_generator_bug(output):
                print(f"  Schemathesis could not build its generator (seed {seed}); next run")
            elif code != 0:
                print(output[-20000:])
                return 1
        seed += 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
