"""The process contract, driven through the real CLI as a subprocess."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import Daemon, spawn_daemon

TOKEN = "process-test-token-abcdefghijklmnop"


@pytest.fixture
def daemon() -> Iterator[Daemon]:
    running = spawn_daemon(env={"KATA_PROVIDERS_TOKEN": TOKEN})
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def shared_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """One daemon for the read-only security matrix (its own isolated data folder)."""
    home = tmp_path_factory.mktemp("matrix")
    running = spawn_daemon(env={"KATA_PROVIDERS_TOKEN": TOKEN, "KATA_PROVIDERS_HOME": str(home)})
    try:
        yield running
    finally:
        running.stop()


def _raw(
    daemon: Daemon, method: str, path: str, headers: dict[str, str], body: bytes = b""
) -> tuple[int, dict[str, str], bytes]:
    """One request with exactly these headers (no client adds Host or Content-Type for us)."""
    connection = http.client.HTTPConnection("127.0.0.1", daemon.ready["port"], timeout=10)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        if body:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body or None)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def test_ready_line_is_the_only_stdout_and_matches_the_contract(daemon: Daemon) -> None:
    ready = daemon.ready
    assert set(ready) == {"event", "url", "port", "token", "pid", "version"}
    assert ready["event"] == "ready"
    assert ready["token"] == TOKEN
    assert ready["pid"] == daemon.process.pid
    assert isinstance(ready["port"], int)
    assert ready["port"] > 0
    assert ready["url"] == f"http://127.0.0.1:{ready['port']}"
    assert daemon.stop() == 0


def test_stdout_holds_exactly_one_line_and_stderr_is_json() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "service.process.cli", "serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "KATA_PROVIDERS_TOKEN": TOKEN, "KATA_PROVIDERS_LOG_LEVEL": "DEBUG"},
    )
    assert process.stdout is not None
    ready = json.loads(process.stdout.readline())
    httpx.get(f"{ready['url']}/v1/health", headers={"Authorization": f"Bearer {TOKEN}"})
    httpx.get(f"{ready['url']}/v1/health?token={TOKEN}")
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=10)
    assert process.returncode == 0
    assert out == ""
    records = [json.loads(line) for line in err.splitlines()]
    assert records, "no log lines"
    assert all({"ts", "level", "logger", "msg"} <= set(r) for r in records)
    assert any(r["msg"] == "request" and r["path"] == "/v1/health" for r in records)
    assert TOKEN not in err


def test_random_token_is_256_bits_url_safe_and_differs_per_start(tmp_path: Path) -> None:
    # One daemon per data folder: each gets its own.
    first = spawn_daemon(env={"KATA_PROVIDERS_HOME": str(tmp_path / "one")})
    second = spawn_daemon(env={"KATA_PROVIDERS_HOME": str(tmp_path / "two")})
    try:
        tokens = [first.token, second.token]
    finally:
        first.stop()
        second.stop()
    assert tokens[0] != tokens[1]
    for token in tokens:
        assert len(token) >= 43
        assert all(c.isalnum() or c in "-_" for c in token)


def test_port_zero_picks_distinct_free_ports(tmp_path: Path) -> None:
    daemons = [
        spawn_daemon("--port", "0", env={"KATA_PROVIDERS_HOME": str(tmp_path / str(n))})
        for n in range(2)
    ]
    try:
        ports = {d.ready["port"] for d in daemons}
        for d in daemons:
            status = httpx.get(f"{d.url}/v1/health", headers={"Authorization": f"Bearer {d.token}"})
            assert status.status_code == 200
    finally:
        for d in daemons:
            d.stop()
    assert len(ports) == 2


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "status"),
    [
        ("GET", "/v1/health", {}, b"", 401),
        ("GET", "/v1/health", {"Authorization": "Bearer wrong-token-wrong-token"}, b"", 401),
        ("GET", f"/v1/health?token={TOKEN}", {}, b"", 401),
        ("GET", "/openapi.json", {}, b"", 401),
        ("GET", "/docs", {"Host": "evil.com"}, b"", 421),
        ("GET", "/v1/health", {"Host": "evil.com"}, b"", 421),
        ("GET", "/v1/health", {"Host": "127.0.0.1:1"}, b"", 421),
        ("GET", "/v1/health", {"Origin": "https://evil.com"}, b"", 403),
        ("GET", "/v1/health", {"Origin": "null"}, b"", 403),
        ("POST", "/v1/executions", {"Content-Type": "text/plain"}, b'{"messages": []}', 415),
        (
            "POST",
            "/v1/executions",
            {"Content-Type": "application/json"},
            b"x" * (4 * 1024 * 1024 + 1),
            413,
        ),
        ("POST", "/v1/executions", {"Content-Type": "application/json"}, b'{"messages": [', 400),
        ("POST", "/v1/executions", {"Content-Type": "application/json"}, b'{"messages": 1}', 422),
        ("GET", "/v1/health", {}, b"", 200),
    ],
)
def test_security_matrix_over_a_real_socket(
    shared_daemon: Daemon, method: str, path: str, headers: dict[str, str], body: bytes, status: int
) -> None:
    port = shared_daemon.ready["port"]
    sent = {"Host": f"127.0.0.1:{port}", **headers}
    if status != 401 and "Authorization" not in headers:
        sent["Authorization"] = f"Bearer {TOKEN}"
    code, response_headers, payload = _raw(shared_daemon, method, path, sent, body)
    assert code == status, payload
    assert not [h for h in response_headers if h.startswith("access-control-")]
    if status != 200:
        error = json.loads(payload)
        assert error["code"] == ("unauthorized" if status == 401 else "invalid_request")
        assert error["remediation"]
    assert TOKEN.encode() not in payload


def test_allowed_origin_gets_cors_over_a_real_socket() -> None:
    running = spawn_daemon(
        "--allow-origin", "app://kata-cloud", env={"KATA_PROVIDERS_TOKEN": TOKEN}
    )
    try:
        port = running.ready["port"]
        code, headers, _ = _raw(
            running,
            "GET",
            "/v1/health",
            {
                "Host": f"127.0.0.1:{port}",
                "Origin": "app://kata-cloud",
                "Authorization": f"Bearer {TOKEN}",
            },
        )
    finally:
        running.stop()
    assert code == 200
    assert headers["access-control-allow-origin"] == "app://kata-cloud"


@pytest.mark.parametrize("origin", ["null", "*", "http://localhost:*", "https://a.example/path"])
def test_unsafe_allow_origin_values_are_refused_at_start(origin: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "service.process.cli", "serve", "--allow-origin", origin],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert "--allow-origin" in result.stderr


def test_sigterm_drains_an_open_event_stream_and_exits_zero(daemon: Daemon) -> None:
    with httpx.stream(
        "GET", f"{daemon.url}/v1/events", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    ) as stream:
        first = next(stream.iter_lines())
        assert first.startswith("id:")
        started = time.monotonic()
        daemon.process.send_signal(signal.SIGTERM)
        code = daemon.process.wait(timeout=5)
    assert code == 0
    assert time.monotonic() - started < 5


def test_exits_when_the_parent_process_is_gone() -> None:
    parent = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    running = spawn_daemon("--parent-pid", str(parent.pid))
    try:
        assert running.process.poll() is None
        parent.kill()
        parent.wait()
        code = running.process.wait(timeout=5)
        logs = running.stderr_lines()
    finally:
        running.stop()
    assert code == 0
    assert any(str(r["msg"]).startswith("parent process exited") for r in logs)


def test_refuses_to_start_for_a_parent_that_is_already_gone() -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    result = subprocess.run(
        [sys.executable, "-m", "service.process.cli", "serve", "--parent-pid", str(gone.pid)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout == ""


def test_a_non_loopback_bind_logs_a_warning() -> None:
    running = spawn_daemon("--host", "0.0.0.0", env={"KATA_PROVIDERS_TOKEN": TOKEN})
    try:
        status = httpx.get(
            f"http://127.0.0.1:{running.ready['port']}/v1/health",
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
    finally:
        running.stop()
    logs = running.stderr_lines()
    assert status.status_code == 200
    assert any(r["level"] == "warning" and "non-loopback" in str(r["msg"]) for r in logs)


def test_data_folder_comes_from_the_environment_and_is_private(tmp_path: Path) -> None:
    env_home = tmp_path / "kata-home"
    running = spawn_daemon(
        env={"KATA_PROVIDERS_HOME": str(env_home), "KATA_PROVIDERS_LOG_LEVEL": "debug"}
    )
    logs = running.stderr_lines()
    assert any(r.get("data_dir") == str(env_home) for r in logs)
    assert env_home.is_dir()
    assert env_home.stat().st_mode & 0o777 == 0o700


def test_importing_the_app_does_not_load_the_provider_sdks() -> None:
    code = (
        "import sys, service.process.cli, service.http.app, service.process.server;"
        "from service.http.app import create_app; from service.process.config import DaemonConfig;"
        "create_app(DaemonConfig());"
        "print(sorted(m for m in ('anthropic', 'openai') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("after_s", [0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.45, 0.6, 1.2])
def test_sigterm_at_any_moment_of_startup_exits_0(after_s: float, tmp_path: Path) -> None:
    """The ready line comes while the app is still loading: a SIGTERM before, during or after
    that loading is a clean exit 0 (one landing inside pydantic-core as it built a validator
    once gave exit 1), the discovery file goes with it, and a request already waiting is
    answered or refused, never left hanging."""
    daemon = spawn_daemon(env={"KATA_PROVIDERS_TOKEN": "t" * 24})
    time.sleep(after_s)
    daemon.process.send_signal(signal.SIGTERM)
    assert daemon.process.wait(20) == 0, "".join(daemon.stderr)[-2000:]
    assert not (tmp_path / "data" / "daemon.json").exists()


def test_a_request_sent_on_the_ready_line_is_served() -> None:
    daemon = spawn_daemon(env={"KATA_PROVIDERS_TOKEN": "t" * 24})
    try:
        # Straight away: the connection waits in the backlog while the app loads.
        answer = httpx.get(
            f"{daemon.ready['url']}/v1/health",
            headers={"Authorization": f"Bearer {daemon.ready['token']}"},
            timeout=20,
        )
        assert answer.status_code == 200
        assert answer.json()["pid"] == daemon.process.pid
    finally:
        assert daemon.stop() == 0
