"""Local safety and durable state (issue 12): one daemon per data folder, state that survives
damage, a data folder that cannot be used, disk work off the event loop, connection hygiene and
per-request limits. Spawned daemons are the real CLI; in-process ones the real app."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.process.config import DaemonConfig
from service.process.instance import DISCOVERY_NAME, prepare_data_dir
from tests.support import ANTHROPIC_KEY, make_runtime, spawn_daemon


def _serve_cli(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `serve` to completion (for start-up failures)."""
    return subprocess.run(
        [sys.executable, "-m", "service.process.cli", "serve", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "KATA_PROVIDERS_HOME": str(home), **env},
        check=False,
    )


def test_one_daemon_per_data_folder_with_a_discovery_file(tmp_path: Path) -> None:
    home = tmp_path / "data"
    first = spawn_daemon(env={"KATA_PROVIDERS_HOME": str(home)})
    try:
        discovery = home / DISCOVERY_NAME
        info = json.loads(discovery.read_text())
        mode = stat.S_IMODE(discovery.stat().st_mode)
        second = _serve_cli(home)
    finally:
        assert first.stop() == 0
    assert mode == 0o600
    assert {"url", "port", "pid", "token", "version", "started_at"} <= set(info)
    assert info["url"] == first.url
    assert info["token"] == first.token
    assert second.returncode == 4
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1
    assert str(info["pid"]) in lines[0]
    assert first.url in lines[0]
    assert not second.stdout
    assert not discovery.exists(), "removed on exit"


def test_a_stale_discovery_file_is_ignored_and_replaced(tmp_path: Path) -> None:
    home = tmp_path / "data"
    home.mkdir(mode=0o700)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (home / DISCOVERY_NAME).write_text(json.dumps({"pid": gone.pid, "url": "http://x:1"}))
    daemon = spawn_daemon(env={"KATA_PROVIDERS_HOME": str(home)})
    try:
        info = json.loads((home / DISCOVERY_NAME).read_text())
        opened = subprocess.run(
            [sys.executable, "-m", "service.process.cli", "open", "--no-browser"],
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ, "KATA_PROVIDERS_HOME": str(home)},
            check=False,
        )
    finally:
        daemon.stop()
    assert info["pid"] == daemon.process.pid
    assert opened.returncode == 0, opened.stderr
    assert opened.stdout.startswith(f"{daemon.url}/#token=")


def test_a_data_folder_that_cannot_be_created_is_one_line_and_exit_3(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    answer = _serve_cli(blocker / "data")
    assert answer.returncode == 3
    lines = answer.stderr.strip().splitlines()
    assert len(lines) == 1, answer.stderr
    assert str(blocker / "data") in lines[0]
    assert "Traceback" not in answer.stderr
    assert not answer.stdout


def test_the_data_folder_is_made_private_and_leftovers_removed(tmp_path: Path) -> None:
    home = tmp_path / "data"
    home.mkdir(mode=0o755)
    home.chmod(0o755)
    leftover = home / ".credentials.json.k2j3.tmp"
    leftover.write_text('{"keys": {"anthropic": "sk-ant-left-behind-key"}}')
    removed = prepare_data_dir(home)
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert removed == [leftover]
    assert not leftover.exists()


async def _started(config: DaemonConfig) -> Any:
    from tests.support import app_client

    return app_client(config, make_runtime(config, watch=False))


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("settings.json", '{"schema_version": "2"}'),
        ("settings.json", '{"schema_version": 7, "daemon": {}}'),
        ("settings.json", "{not json"),
        ("credentials.json", '{"version": 1, "keys": "nope"}'),
        ("credentials.json", '{"version": 9, "keys": {}}'),
        (
            "models.json",
            '{"anthropic": {"fetched_at": "2026-01-01T00:00:00", "auth_mode": '
            '"api_key", "models": []}}',
        ),
        ("models.json", None),  # a folder where the file should be
    ],
)
async def test_damaged_state_is_kept_aside_and_reported(
    config: DaemonConfig, name: str, content: str | None
) -> None:
    from tests.support import app_client

    config.data_dir.mkdir(parents=True, exist_ok=True)
    target = config.data_dir / name
    if content is None:
        target.mkdir()
    else:
        target.write_text(content)
        target.chmod(0o600)
    runtime = make_runtime(config, watch=False)
    async with app_client(config, runtime) as http:
        auth = {"Authorization": f"Bearer {config.token}"}
        models = await http.get("/v1/models", headers=auth)
        health = (await http.get("/v1/health", headers=auth)).json()
        events = [e.event for e in runtime.bus.history() if e.event.type == "daemon_error"]
    assert models.status_code == 200
    assert any(str(target) in problem["message"] for problem in health["problems"])
    assert any(str(target) in event.error.message for event in events)
    kept = list(config.data_dir.glob(f"{name}.corrupt-*"))
    assert len(kept) == 1
    if kept[0].is_file():
        assert stat.S_IMODE(kept[0].stat().st_mode) == 0o600
        assert kept[0].read_text() == content


async def test_a_deleted_key_leaves_no_copy_the_daemon_wrote(config: DaemonConfig) -> None:
    from tests.fakes_keyring import NoBackendKeyring
    from tests.support import app_client

    config.data_dir.mkdir(parents=True, exist_ok=True)
    (config.data_dir / "credentials.json").write_text("{damaged")
    (config.data_dir / "credentials.json").chmod(0o600)
    runtime = make_runtime(config, NoBackendKeyring(), watch=False)
    async with app_client(config, runtime) as http:
        auth = {"Authorization": f"Bearer {config.token}"}
        await http.get("/v1/health", headers=auth)
        await runtime.ready()
        stored = await http.put(
            "/v1/providers/anthropic/api-key", json={"api_key": ANTHROPIC_KEY}, headers=auth
        )
        assert stored.json()["api_key"]["source"] == "file"
        await http.delete("/v1/providers/anthropic/api-key", headers=auth)
    for path in config.data_dir.rglob("*"):
        if path.is_file():
            assert ANTHROPIC_KEY not in path.read_text(errors="replace"), path


async def test_a_folder_that_becomes_unwritable_is_a_taxonomy_error(config: DaemonConfig) -> None:
    from tests.support import app_client

    runtime = make_runtime(config, watch=False)
    async with app_client(config, runtime) as http:
        auth = {"Authorization": f"Bearer {config.token}"}
        await http.get("/v1/health", headers=auth)
        shutil.rmtree(config.data_dir)
        config.data_dir.write_text("now a file")  # even root cannot write into this
        answer = await http.put("/v1/settings", json={"default_provider": "openai"}, headers=auth)
        config.data_dir.unlink()
    assert answer.status_code == 507
    body = answer.json()
    assert body["code"] == "unexpected_error"
    assert str(config.data_dir) in body["message"]
    assert "writable" in body["remediation"]


def _median_health_ms(client: httpx.Client, samples: int = 40) -> float:
    timings = []
    for _ in range(samples):
        started = time.perf_counter()
        assert client.get("/v1/health").status_code == 200
        timings.append((time.perf_counter() - started) * 1000)
    return sorted(timings)[len(timings) // 2]


def test_saving_never_stalls_other_clients(tmp_path: Path) -> None:
    daemon = spawn_daemon(
        env={"KATA_PROVIDERS_HOME": str(tmp_path / "data"), "KATA_PROVIDERS_LOG_LEVEL": "INFO"}
    )
    headers = {"Authorization": f"Bearer {daemon.token}"}
    stop = threading.Event()

    def writer(n: int) -> None:
        with httpx.Client(base_url=daemon.url, headers=headers, timeout=10) as client:
            flip = False
            while not stop.is_set():
                flip = not flip
                provider = "openai" if flip else "anthropic"
                client.put("/v1/settings", json={"default_provider": provider})

    try:
        with httpx.Client(base_url=daemon.url, headers=headers, timeout=10) as client:
            _median_health_ms(client, 10)  # warm up
            quiet = _median_health_ms(client)
            writers = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
            for thread in writers:
                thread.start()
            time.sleep(0.2)
            busy = _median_health_ms(client)
            stop.set()
            for thread in writers:
                thread.join(10)
    finally:
        daemon.stop()
    print(f"health median: {quiet:.2f} ms alone, {busy:.2f} ms with 4 writers")
    assert busy <= 3 * max(quiet, 1.0)


def test_a_large_valid_request_does_not_block_other_clients(tmp_path: Path) -> None:
    daemon = spawn_daemon(
        env={"KATA_PROVIDERS_HOME": str(tmp_path / "data"), "KATA_PROVIDERS_LOG_LEVEL": "INFO"}
    )
    headers = {"Authorization": f"Bearer {daemon.token}"}
    messages = [
        {"role": "user" if n % 2 == 0 else "assistant", "content": f"turn {n} " * 20}
        for n in range(9_999)
    ]
    body = json.dumps({"provider": "anthropic", "messages": messages}).encode()
    assert len(body) < 4 * 1024 * 1024
    worst = [0.0]
    done = threading.Event()

    def ping() -> None:
        with httpx.Client(base_url=daemon.url, headers=headers, timeout=10) as client:
            while not done.is_set():
                started = time.perf_counter()
                client.get("/v1/health")
                worst[0] = max(worst[0], (time.perf_counter() - started) * 1000)
                time.sleep(0.005)

    try:
        with httpx.Client(base_url=daemon.url, headers=headers, timeout=10) as client:
            deadline = time.monotonic() + 20
            while not client.get("/v1/health").json()["warm"]:  # the SDKs' import is not ours
                assert time.monotonic() < deadline
                time.sleep(0.05)
        pinger = threading.Thread(target=ping)
        pinger.start()
        time.sleep(0.1)
        with httpx.Client(base_url=daemon.url, headers=headers, timeout=30) as client:
            for _ in range(3):
                answer = client.post(
                    "/v1/executions", content=body, headers={"content-type": "application/json"}
                )
                assert answer.status_code == 424  # valid, and refused only for want of a key
        done.set()
        pinger.join(10)
    finally:
        daemon.stop()
    print(f"worst health latency during {len(body) / 1e6:.1f} MB requests: {worst[0]:.1f} ms")
    assert worst[0] < 100


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("messages", [{"role": "user", "content": "x"}] * 10_001),
        ("messages", [{"role": "user", "content": [{"type": "text", "text": "x"}] * 20_001}]),
        ("tools", [{"name": f"t{n}"} for n in range(129)]),
    ],
)
async def test_per_request_limits_are_refused_with_422(
    config: DaemonConfig, field: str, value: Any
) -> None:
    from tests.support import app_client

    body = {"messages": [{"role": "user", "content": "x"}], field: value}
    async with app_client(config, make_runtime(config, watch=False)) as http:
        answer = await http.post(
            "/v1/executions", json=body, headers={"Authorization": f"Bearer {config.token}"}
        )
    assert answer.status_code == 422
    assert answer.json()["code"] == "invalid_request"


def test_connection_hygiene(tmp_path: Path) -> None:
    daemon = spawn_daemon(
        env={
            "KATA_PROVIDERS_HOME": str(tmp_path / "data"),
            "KATA_PROVIDERS_HEAD_TIMEOUT_S": "0.5",
            "KATA_PROVIDERS_MAX_CONNECTIONS": "20",
            "KATA_PROVIDERS_LOG_LEVEL": "INFO",
        }
    )
    port = int(daemon.ready["port"])
    sockets: list[socket.socket] = []
    try:
        slow = socket.create_connection(("127.0.0.1", port))
        slow.sendall(b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1")  # never finished
        silent = socket.create_connection(("127.0.0.1", port))
        sockets += [slow, silent]
        sockets += [socket.create_connection(("127.0.0.1", port)) for _ in range(25)]
        time.sleep(1.0)
        closed = 0
        for sock in sockets:
            sock.settimeout(1)
            try:
                closed += sock.recv(1) == b""
            except OSError:
                closed += 1
        # Once the half-open ones are gone, the daemon serves again.
        answer = httpx.get(
            f"{daemon.url}/v1/health", headers={"Authorization": f"Bearer {daemon.token}"}
        )
    finally:
        for sock in sockets:
            sock.close()
        logs = daemon.stderr_lines()
    assert closed == len(sockets)
    assert answer.status_code == 200
    assert any("connection limit reached" in line["msg"] for line in logs)
    assert any("request head never completed" in line["msg"] for line in logs)
