"""The CLI as a newcomer meets it: it finds its daemon with no flags, says plainly when none is
running or the token is wrong, speaks JSON on every command, refuses bad arguments with a usage
line, and ends quietly in a pipe."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import Daemon, spawn_daemon

COMMANDS = [
    ["status"],
    ["models", "--provider", "openai"],
    ["run", "hello there", "--provider", "openai"],
    ["open", "--no-browser"],
    ["wait"],
]


def _cli(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KATA_PROVIDERS_")}
    return subprocess.run(
        [sys.executable, "-m", "service.process.cli", *args],
        capture_output=True,
        text=True,
        input=stdin,
        env={**clean, **env},
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli") / "data"


@pytest.fixture(scope="module")
def demo(home: Path) -> Iterator[Daemon]:
    # The demo runs in its own sandbox folder; the CLI reaches it by URL and token.
    daemon = spawn_daemon("--demo")
    try:
        yield daemon
    finally:
        daemon.stop()


def test_no_flags_no_env_finds_the_daemon_by_its_discovery_file(home: Path) -> None:
    daemon = spawn_daemon(env={"KATA_PROVIDERS_HOME": str(home)})
    try:
        answer = _cli("status", env={"KATA_PROVIDERS_HOME": str(home)})
        wrong = _cli(
            "status",
            env={"KATA_PROVIDERS_HOME": str(home), "KATA_PROVIDERS_TOKEN": "not-the-token-at-all"},
        )
        piped = subprocess.run(  # noqa: S602 (a real pipe is the point)
            f"{sys.executable} -m service.process.cli status | head -1",
            shell=True,
            capture_output=True,
            text=True,
            env={**os.environ, "KATA_PROVIDERS_HOME": str(home)},
            timeout=60,
            check=False,
        )
    finally:
        daemon.stop()
    assert answer.returncode == 0, answer.stderr
    assert "Anthropic:" in answer.stdout
    assert wrong.returncode == 1
    assert "refused the token" in wrong.stderr
    assert "not-the-token-at-all" not in wrong.stderr
    assert piped.stdout.startswith("Anthropic:")
    assert piped.stderr == "", "a closed pipe ends quietly"


def test_not_running_says_how_to_start_it(tmp_path: Path) -> None:
    answer = _cli("status", env={"KATA_PROVIDERS_HOME": str(tmp_path)})
    waited = _cli("wait", "--timeout", "0.3", env={"KATA_PROVIDERS_HOME": str(tmp_path)})
    assert answer.returncode == 3
    assert "no daemon is running" in answer.stderr
    assert "make run" in answer.stderr
    assert waited.returncode == 3


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_every_command_speaks_json(demo: Daemon, command: list[str]) -> None:
    env = {"KATA_PROVIDERS_URL": demo.url, "KATA_PROVIDERS_TOKEN": demo.token}
    answer = _cli(*command, "--json", env=env)
    assert answer.returncode == 0, answer.stderr
    try:
        lines = [json.loads(answer.stdout)]
    except ValueError:  # one JSON value per line (streamed events)
        lines = [json.loads(line) for line in answer.stdout.splitlines() if line.strip()]
    assert lines
    if command[0] == "run":
        assert lines[-1]["type"] == "done"


def test_keys_speak_json_and_read_the_key_from_stdin(demo: Daemon) -> None:
    env = {"KATA_PROVIDERS_URL": demo.url, "KATA_PROVIDERS_TOKEN": demo.token}
    stored = _cli("keys", "set", "openai", "--json", env=env, stdin="sk-proj-typed-in-key-0042\n")
    removed = _cli("keys", "remove", "openai", "--json", env=env)
    assert json.loads(stored.stdout)["api_key"]["hint"] == "…0042"
    assert "sk-proj-typed-in-key-0042" not in stored.stdout + stored.stderr
    assert json.loads(removed.stdout)["api_key"]["state"] == "missing"


def test_providers_are_added_listed_and_removed_with_the_key_from_stdin(demo: Daemon) -> None:
    env = {"KATA_PROVIDERS_URL": demo.url, "KATA_PROVIDERS_TOKEN": demo.token}
    key = "sk-or-typed-in-key-0077"
    added = _cli(
        *("providers", "add", "router", "--base-url", "http://127.0.0.1:9/v1"),
        *("--name", "Router", "--header", "X-Title=Kata", "--with-key", "--json"),
        env=env,
        stdin=f"{key}\n",
    )
    assert added.returncode == 0, added.stderr
    status = json.loads(added.stdout)
    assert status["api_key"]["hint"] == "…0077"
    assert status["endpoint"]["spec"]["headers"] == {"X-Title": "Kata"}
    assert key not in added.stdout + added.stderr
    listed = _cli("providers", "list", env=env)
    assert "router: Router (http://127.0.0.1:9/v1)" in listed.stdout
    again = _cli("providers", "add", "router", "--base-url", "http://127.0.0.1:9/v1", env=env)
    assert again.returncode == 1
    assert "added already" in again.stderr
    removed = _cli("providers", "remove", "router", env=env)
    assert removed.returncode == 0, removed.stderr
    assert "router" not in _cli("providers", "list", env=env).stdout


def test_routes_are_set_listed_planned_and_removed(demo: Daemon) -> None:
    env = {"KATA_PROVIDERS_URL": demo.url, "KATA_PROVIDERS_TOKEN": demo.token}
    made = _cli("routes", "set", "fast", "openai:gpt-5.4", "anthropic", env=env)
    assert made.returncode == 0, made.stderr
    assert made.stdout == "fast: openai (gpt-5.4), then anthropic\n"
    assert "fast: openai (gpt-5.4), then anthropic" in _cli("routes", "list", env=env).stdout
    keyed = _cli("keys", "set", "openai", env=env, stdin="sk-proj-typed-in-key-0043\n")
    assert keyed.returncode == 0, keyed.stderr
    plan = _cli("routes", "plan", "fast", env=env)
    assert plan.returncode == 0, plan.stderr
    assert plan.stdout.splitlines()[:2] == [
        "fast: next request goes to",
        "  1. openai (gpt-5.4): serves",
    ]
    assert _cli("keys", "remove", "openai", env=env).returncode == 0
    planned = json.loads(_cli("routes", "plan", "fast", "--json", env=env).stdout)
    assert (planned["serves"], planned["targets"][0]["code"]) == (1, "missing_auth")
    said = _cli("routes", "plan", "fast", env=env).stdout.splitlines()
    assert said[1].startswith("  1. openai (gpt-5.4): passed over (missing_auth): ")
    assert said[2].startswith("  2. anthropic (") and said[2].endswith("): serves")  # noqa: PT018
    bad = _cli("routes", "set", "Bad Name", "openai", env=env)
    assert bad.returncode != 0
    assert _cli("routes", "remove", "fast", env=env).returncode == 0
    gone = _cli("routes", "plan", "fast", env=env)
    assert gone.returncode == 1
    assert "fast" in gone.stderr


def test_errors_carry_an_action_the_cli_turns_into_a_command(demo: Daemon) -> None:
    env = {"KATA_PROVIDERS_URL": demo.url, "KATA_PROVIDERS_TOKEN": demo.token}
    _cli("keys", "remove", "openai", env=env)
    failed = _cli("run", "hi", "--provider", "openai", env=env)
    as_json = _cli("run", "hi", "--provider", "openai", "--json", env=env)
    _cli("keys", "set", "openai", env=env, stdin="sk-demo-openai-key-0000\n")
    assert failed.returncode == 1
    assert "run: kata-providers keys set openai" in failed.stderr
    body: dict[str, Any] = json.loads(as_json.stderr.strip().splitlines()[-1])["error"]
    assert body["action"] == "set_api_key"
    assert "/v1/" not in body["remediation"], "remediations are for people, not routes"


@pytest.mark.parametrize(
    "args",
    [
        ["serve", "--port", "99999"],
        ["serve", "--log-level", "foo"],
        ["serve", "--log-format", "yaml"],
        ["status", "--bogus"],
        ["nonsense"],
    ],
)
def test_bad_arguments_exit_2_with_a_usage_line(args: list[str]) -> None:
    answer = _cli(*args, env={})
    assert answer.returncode == 2
    assert "usage: kata-providers" in answer.stderr
    assert "Traceback" not in answer.stderr


def test_unknown_settings_are_warned_and_host_port_work(tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    daemon = spawn_daemon(
        env={
            "KATA_PROVIDERS_HOME": str(tmp_path),
            "KATA_PROVIDERS_PORT": str(port),
            "KATA_PROVIDERS_HOST": "127.0.0.1",
            "KATA_PROVIDERS_TIMEOUT_S": "5",  # a typo of REQUEST_TIMEOUT_S
        }
    )
    lines = daemon.stderr_lines()
    assert daemon.ready["port"] == port
    warned = [line for line in lines if line.get("variable") == "KATA_PROVIDERS_TIMEOUT_S"]
    assert warned
    assert "unknown setting" in warned[0]["msg"]
