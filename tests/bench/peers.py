"""The peers for `make bench-peers`: the Portkey gateway (npm) and the LiteLLM proxy (pip),
installed into a scratch folder (artifacts/peers, reused between runs), started against the same
fake upstreams as the daemon, and measured as extra arms of the same run.

Both are asked what the daemon is asked, in each provider's own wire format: Anthropic Messages
(`/v1/messages`) and OpenAI Responses (`/v1/responses`), non-streaming.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
SCRATCH = ROOT / "artifacts" / "peers"
PORTKEY = "@portkey-ai/gateway"
LITELLM = "litellm[proxy]"
MASTER_KEY = "sk-litellm-bench-master-key-0123456789"


@dataclass
class Peer:
    """A running peer: where it listens, what each provider's request carries, its process."""

    name: str
    url: str
    headers: dict[str, dict[str, str]]
    process: subprocess.Popen[bytes]
    started_s: float = 0.0

    @property
    def pid(self) -> int:
        return self.process.pid


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait(url: str, process: subprocess.Popen[bytes], timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the peer exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up in {timeout_s} s")


@dataclass
class Peers:
    """Installs, starts and stops both peers."""

    urls: dict[str, str]
    anthropic_key: str
    openai_key: str
    folder: Path = SCRATCH
    running: list[Peer] = field(default_factory=list)

    def install(self) -> None:
        portkey = self.folder / "portkey"
        if not (portkey / "node_modules" / PORTKEY / "package.json").exists():
            portkey.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(portkey), PORTKEY],
                check=True,
            )
        venv = self.folder / "litellm"
        if not (venv / "bin" / "litellm").exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", LITELLM], check=True)

    def start(self) -> list[Peer]:
        self.install()
        self.running = [self._portkey(), self._litellm()]
        return self.running

    def _portkey(self) -> Peer:
        port = _free_port()
        script = self.folder / "portkey" / "node_modules" / PORTKEY / "build" / "start-server.js"
        started = time.perf_counter()
        process = subprocess.Popen(
            ["node", str(script), f"--port={port}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        _wait(url, process)
        headers = {
            "anthropic": {
                "x-portkey-provider": "anthropic",
                "x-portkey-custom-host": f"{self.urls['anthropic']}/v1",
                "x-api-key": self.anthropic_key,
                "anthropic-version": "2023-06-01",
            },
            "openai": {
                "x-portkey-provider": "openai",
                "x-portkey-custom-host": self.urls["openai"],
                "authorization": f"Bearer {self.openai_key}",
            },
        }
        return Peer("portkey", url, headers, process, time.perf_counter() - started)

    def _litellm(self) -> Peer:
        port = _free_port()
        config = self.folder / "litellm.yaml"
        config.write_text(
            "model_list:\n"
            "  - model_name: claude-sonnet-5-5\n"
            "    litellm_params:\n"
            "      model: anthropic/claude-sonnet-5-5\n"
            f"      api_base: {self.urls['anthropic']}\n"
            f"      api_key: {self.anthropic_key}\n"
            "  - model_name: gpt-5.5\n"
            "    litellm_params:\n"
            "      model: openai/gpt-5.5\n"
            f"      api_base: {self.urls['openai']}\n"
            f"      api_key: {self.openai_key}\n"
        )
        litellm = str(self.folder / "litellm" / "bin" / "litellm")
        started = time.perf_counter()
        process = subprocess.Popen(
            [litellm, "--config", str(config), "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={"LITELLM_MASTER_KEY": MASTER_KEY, "PATH": "/usr/bin:/bin", "HOME": "/tmp"},
        )
        url = f"http://127.0.0.1:{port}"
        _wait(f"{url}/health/liveliness", process)
        auth = {"authorization": f"Bearer {MASTER_KEY}"}
        return Peer(
            "litellm",
            url,
            {"anthropic": auth, "openai": auth},
            process,
            time.perf_counter() - started,
        )

    def stop(self) -> None:
        for peer in self.running:
            peer.process.terminate()
            try:
                peer.process.wait(10)
            except subprocess.TimeoutExpired:
                peer.process.kill()
        self.running = []
