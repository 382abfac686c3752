"""Every curl and HTTPie example in the README, run against a live demo daemon."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.process.demo import ANTHROPIC_KEY, OPENAI_KEY
from tests.support import Daemon, spawn_daemon

README = Path(__file__).resolve().parents[1] / "README.md"


def examples() -> list[str]:
    """Shell commands from the README's sh blocks that call curl or HTTPie."""
    commands: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", README.read_text(), re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        pending = ""
        for line in joined.splitlines():
            if pending:  # inside a single-quoted argument that spans lines
                pending += "\n" + line
                if pending.count("'") % 2 == 0:
                    commands.append(pending)
                    pending = ""
                continue
            line = re.sub(r"\s+#.*$", "", line).strip()
            if not line.startswith(("curl ", "http ")):
                continue
            if line.count("'") % 2:
                pending = line
            else:
                commands.append(line)
    return commands


EXAMPLES = examples()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    home = tmp_path_factory.mktemp("readme")
    daemon = spawn_daemon("--demo", env={"KATA_PROVIDERS_HOME": str(home)})
    try:
        yield daemon
    finally:
        daemon.stop()


def test_the_readme_has_examples_of_both_kinds() -> None:
    assert sum(c.startswith("curl ") for c in EXAMPLES) >= 10
    assert sum(c.startswith("http ") for c in EXAMPLES) >= 5


@pytest.mark.parametrize("command", EXAMPLES)
def test_readme_example_runs(demo: Daemon, command: str) -> None:
    if command.startswith("http "):
        assert shutil.which("http") or Path(sys.executable).with_name("http").exists()
        assert command.startswith("http --ignore-stdin "), "as pasted, HTTPie needs it"
    streaming = "/v1/events" in command or '"stream": true' in command
    if streaming:
        command = f"timeout 3 {command}"
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "KP": demo.url,
        "AUTH": f"Authorization: Bearer {demo.token}",
        "KATA_PROVIDERS_TOKEN": demo.token,
        "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
        "OPENAI_API_KEY": OPENAI_KEY,
    }
    result = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    if streaming:
        assert result.returncode in (0, 28, 124), result.stderr  # 28: curl's --max-time
        assert "event:" in result.stdout or '"type"' in result.stdout
    else:
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip()
    assert not _is_error(result.stdout), result.stdout[:500]


def _is_error(output: str) -> bool:
    """Whether the daemon answered with its error body."""
    try:
        body = json.loads(output)
    except ValueError:
        return False
    return isinstance(body, dict) and {"code", "message", "remediation"} <= set(body)
