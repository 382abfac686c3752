"""Schemathesis as a user runs it: its own command line (`st run`), every check, over HTTP
against a running daemon (in front of the fakes, a key for each provider), on the document the
daemon serves at `/openapi.json`, from the repository folder, so it reads schemathesis.toml's
declarations and nothing else (no checks of the suite's own). It must find nothing.

A fixed seed and budget here, not the one tests/test_fuzz.py uses; `make fuzz` runs it over
more seeds (KATA_FUZZ_SEED, KATA_FUZZ_EXAMPLES)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import ANTHROPIC_KEY, OPENAI_KEY, Daemon, spawn_daemon, upstreams

ROOT = Path(__file__).resolve().parents[1]
# Offset from the seed tests/test_fuzz.py takes, so the two never run the same one.
SEED = int(os.environ.get("KATA_FUZZ_SEED", "1")) + 8482
EXAMPLES = os.environ.get("KATA_FUZZ_EXAMPLES", "8")


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    home = tmp_path_factory.mktemp("fuzz-http")
    with upstreams() as fakes:
        env = {
            **fakes.env(),
            "HOME": str(home),
            "KATA_PROVIDERS_HOME": str(home / "data"),
            "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
            "OPENAI_API_KEY": OPENAI_KEY,
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
            "KATA_PROVIDERS_LOG_LEVEL": "WARNING",
        }
        daemon = spawn_daemon(env=env)
        try:
            yield daemon
        finally:
            daemon.stop()


@pytest.mark.timeout(900)
def test_schemathesis_cli_finds_nothing_over_http_on_the_served_document(
    daemon: Daemon, tmp_path: Path
) -> None:
    served = httpx.get(
        f"{daemon.url}/openapi.json", headers={"Authorization": f"Bearer {daemon.token}"}
    )
    assert served.status_code == 200
    committed = (ROOT / "openapi" / "openapi.json").read_text()
    assert served.json() == httpx.Response(200, text=committed).json(), "serve what is committed"
    st = shutil.which("st", path=str(Path(sys.executable).parent)) or "st"
    run = subprocess.run(
        [
            st,
            "run",
            f"{daemon.url}/openapi.json",
            *("--checks", "all"),
            *("--seed", str(SEED)),
            *("--max-examples", EXAMPLES),
            *("--header", f"Authorization: Bearer {daemon.token}"),
            *("--report", "junit", "--report-dir", str(tmp_path)),
            "--no-color",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=840,
        check=False,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-20000:]
    cases = re.search(r"(\d+) generated, (\d+) passed", output)
    assert cases is not None, output[-3000:]
    assert int(cases[1]) == int(cases[2]) > 500, cases[0]  # every case ran, and passed
