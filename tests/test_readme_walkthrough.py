"""The README's walk-through, run exactly as a newcomer pastes it: the first block starts the
demo in one terminal, the second (which waits for the daemon by itself) in another."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def _blocks() -> tuple[str, str]:
    text = README.read_text()
    section = text[text.index("## Talking to it") :]
    first = re.search(r"```sh\n(.*?)```", section, re.S)
    assert first is not None
    marker = section.index("<!-- walkthrough:")
    second = re.search(r"```sh\n(.*?)```", section[marker:], re.S)
    assert second is not None
    return first.group(1), second.group(1)


def test_the_walkthrough_works_when_pasted(tmp_path: Path) -> None:
    start, paste = _blocks()
    assert "make demo" in start
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("KATA_PROVIDERS_", "ANTHROPIC_", "OPENAI_"))
    }
    env["KATA_PROVIDERS_HOME"] = str(tmp_path / "data")
    server = subprocess.Popen(
        ["bash", "-c", start],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: the whole of it stops at the end
    )
    try:
        # Pasted at once, before the daemon is up: `kata-providers wait` covers the race.
        result = subprocess.run(
            ["bash", "-c", paste],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server_output = server.communicate(timeout=30)[0]
    out = result.stdout
    assert "ready at http://127.0.0.1:8765" in out, result.stderr
    assert '"status":"ok"' in out
    assert '"stop_reason":"end_turn"' in out  # the execution ran
    assert '"type":"thinking"' in out  # reasoning came back as thinking
    assert '"parsed":{"verdict":"Echo: Review the spec"}' in out  # the structured answer
    assert "event: snapshot" in out
    assert "the API description is at" in out
    assert "Anthropic: usable" in out  # `kata-providers status`
    assert "Echo: Hello from the CLI" in out  # `kata-providers run`
    for failure in ('"code":"unauthorized"', '"code":"not_running"'):
        assert failure not in out + result.stderr
    assert not re.search(r"^error:", out + result.stderr, re.M), "a CLI command failed"
    # Not at a terminal here, so the daemon logged JSON lines, the page link among them.
    assert '"login_url": "http://127.0.0.1:8765/#token=' in server_output
