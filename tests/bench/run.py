"""The benchmark suite: the daemon's cost on the hot path, side by side with its baselines in one
run, against the fake upstreams on loopback (no artificial latency), for both providers.

    python -m tests.bench.run [--quick] [--peers] [--json artifacts/bench.json]

Arms, interleaved request by request so drift hits every arm alike:
  raw     plain HTTP to the fake (the floor: what "added" is measured over)
  sdk     the official SDK, in-process, calling the fake
  naive   a naive FastAPI wrapper around the SDK (tests/bench/naive.py), over HTTP
  forwarder  FastAPI + uvicorn + aiohttp relaying to the fake and nothing else
          (tests/bench/forwarder.py): the floor for a daemon on the design card's libraries
  daemon  Kata Providers, over HTTP
  peers   with --peers (`make bench-peers`): the Portkey gateway and the LiteLLM proxy, installed
          into a scratch folder by tests/bench/peers.py
The HTTP arms share one client library (aiohttp) and one fake process.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx

from tests.bench.peers import Peer, Peers

KEY = "sk-ant-api03-bench-key"
OPENAI_KEY = "sk-proj-bench-key"
TOKEN = "bench-token-0123456789abcdefghij"
MODEL = "claude-sonnet-5-5"
MODELS = {"anthropic": MODEL, "openai": "gpt-5.5"}
PROVIDERS = ("anthropic", "openai")
ROOT = Path(__file__).resolve().parents[2]
TEXT = "ping pong"


@dataclass
class Sizes:
    requests: int
    throughput_requests: int
    concurrency: int
    streams: tuple[int, ...]
    stream_words: int
    startups: int
    soak: int


FULL = Sizes(
    requests=500,
    throughput_requests=3000,
    concurrency=64,
    streams=(1, 16),
    stream_words=200,
    startups=10,
    soak=10_000,
)
QUICK = Sizes(
    requests=30,
    throughput_requests=128,
    concurrency=16,
    streams=(1, 4),
    stream_words=50,
    startups=2,
    soak=100,
)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict[str, float]:
    return {"p50": round(pct(values, 50), 3), "p99": round(pct(values, 99), 3), "n": len(values)}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def cpu_s(pid: int) -> float:
    """User + system CPU seconds the process has used (children excluded)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Processes:
    """The fake upstreams, the daemon and the naive wrapper, each its own process."""

    def __init__(self) -> None:
        self.fakes = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "adapters.fakes",
                "--anthropic-key",
                KEY,
                "--openai-key",
                OPENAI_KEY,
            ],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert self.fakes.stdout is not None
        self.urls = json.loads(self.fakes.stdout.readline())
        self.home = Path(os.environ.get("TMPDIR", "/tmp")) / f"kata-bench-{os.getpid()}"
        self.daemon: subprocess.Popen[str] | None = None
        self.naive: subprocess.Popen[str] | None = None
        self.ready: dict[str, Any] = {}
        self.naive_url = ""
        self.hop: subprocess.Popen[str] | None = None
        self.hop_url = ""
        self.forwarder: subprocess.Popen[str] | None = None
        self.forwarder_url = ""
        self.dist: subprocess.Popen[str] | None = None
        self.dist_url = ""

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "KATA_PROVIDERS_TOKEN": TOKEN,
            "KATA_PROVIDERS_HOME": str(self.home / "data"),
            "HOME": str(self.home),
            "ANTHROPIC_API_KEY": KEY,
            "OPENAI_API_KEY": OPENAI_KEY,
            "ANTHROPIC_BASE_URL": self.urls["anthropic"],
            "OPENAI_BASE_URL": self.urls["openai"],
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
            # The default log level (INFO: one access line per request), as users run it.
        }

    def start_daemon(self) -> float:
        """Spawn the daemon; seconds until its ready line."""
        started = time.perf_counter()
        self.daemon = subprocess.Popen(
            [sys.executable, "-m", "service.process.cli", "serve"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=self.env(),
            cwd=ROOT,
        )
        assert self.daemon.stdout is not None
        self.ready = json.loads(self.daemon.stdout.readline())
        return time.perf_counter() - started

    def start_dist(self) -> None:
        """The built executable (`make dist`) as an arm of its own, on its own data folder."""
        executable = ROOT / "dist" / "kata-providers" / "kata-providers"
        env = {**self.env(), "KATA_PROVIDERS_HOME": str(self.home / "dist-data")}
        self.dist = subprocess.Popen(
            [str(executable), "serve"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
            cwd=ROOT,
        )
        assert self.dist.stdout is not None
        self.dist_url = json.loads(self.dist.stdout.readline())["url"]

    def _baseline(self, module: str) -> tuple[subprocess.Popen[str], str]:
        """A baseline server (`tests.bench.<module>`), spawned on the bench's environment; its
        process and the URL it printed once listening."""
        process = subprocess.Popen(
            [sys.executable, "-m", f"tests.bench.{module}"],
            stdout=subprocess.PIPE,
            text=True,
            env=self.env(),
            cwd=ROOT,
        )
        assert process.stdout is not None
        return process, json.loads(process.stdout.readline())["url"]

    def start_naive(self) -> None:
        self.naive, self.naive_url = self._baseline("naive")

    def start_hop(self) -> None:
        self.hop, self.hop_url = self._baseline("hop")

    def start_forwarder(self) -> None:
        self.forwarder, self.forwarder_url = self._baseline("forwarder")

    def stop_daemon(self) -> None:
        if self.daemon is not None:
            self.daemon.terminate()
            self.daemon.wait(10)
            self.daemon = None

    def close(self) -> None:
        self.stop_daemon()
        for process in (self.naive, self.hop, self.forwarder, self.dist, self.fakes):
            if process is not None:
                process.terminate()
                process.wait(10)


# --- arms --------------------------------------------------------------------------------

# provider -> the daemon's self-report (x-kata-overhead-ms, the body), read once timed
Call = Callable[[str], Awaitable[tuple[float, bytes] | None]]


@dataclass
class Arm:
    """One way of making the same request; `pid` is the process whose CPU it costs."""

    name: str
    call: Call
    pid: int | None = None


@dataclass
class Clients:
    """Everything the arms call through, opened inside the running loop."""

    procs: Processes
    limit: int = 100
    session: aiohttp.ClientSession = field(init=False)
    sdk: dict[str, Any] = field(init=False)

    async def __aenter__(self) -> Clients:
        from anthropic import AsyncAnthropic
        from openai import AsyncOpenAI

        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self.limit),
            timeout=aiohttp.ClientTimeout(total=300),
        )
        self.sdk = {
            "anthropic": AsyncAnthropic(
                api_key=KEY, base_url=self.procs.urls["anthropic"], max_retries=0
            ),
            "openai": AsyncOpenAI(
                api_key=OPENAI_KEY, base_url=self.procs.urls["openai"], max_retries=0
            ),
        }
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.session.close()
        for client in self.sdk.values():
            await client.close()

    async def post(self, url: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
        async with self.session.post(url, json=body, headers=headers) as response:
            raw = await response.read()
            if response.status != 200:
                raise RuntimeError(f"{url} answered {response.status}: {raw[:300]!r}")
            return response.headers, raw

    async def raw(self, provider: str) -> None:
        if provider == "anthropic":
            await self.post(
                f"{self.procs.urls['anthropic']}/v1/messages",
                {"model": MODEL, "max_tokens": 1024, "messages": [_user(TEXT)]},
                {"x-api-key": KEY, "anthropic-version": "2023-06-01"},
            )
        else:
            await self.post(
                f"{self.procs.urls['openai']}/responses",
                {"model": MODELS["openai"], "max_output_tokens": 1024, "input": [_user(TEXT)]},
                {"authorization": f"Bearer {OPENAI_KEY}"},
            )

    async def sdk_call(self, provider: str) -> None:
        if provider == "anthropic":
            await self.sdk[provider].messages.create(
                model=MODEL, max_tokens=1024, messages=[_user(TEXT)]
            )
        else:
            await self.sdk[provider].responses.create(
                model=MODELS["openai"], max_output_tokens=1024, input=[_user(TEXT)]
            )

    async def naive(self, provider: str) -> None:
        await self.post(
            f"{self.procs.naive_url}/v1/executions",
            {"provider": provider, "messages": [_user(TEXT)]},
            {},
        )

    async def hop(self, provider: str) -> None:
        await self.post(
            f"{self.procs.hop_url}/v1/executions",
            {"provider": provider, "messages": [_user(TEXT)]},
            {"Authorization": f"Bearer {TOKEN}"},
        )

    async def forwarder(self, provider: str) -> None:
        await self.post(
            f"{self.procs.forwarder_url}/v1/executions",
            {"provider": provider, "messages": [_user(TEXT)]},
            {},
        )

    async def daemon(self, provider: str) -> tuple[float, bytes]:
        headers, raw = await self.post(
            f"{self.procs.ready['url']}/v1/executions",
            {"provider": provider, "messages": [_user(TEXT)]},
            {"Authorization": f"Bearer {TOKEN}"},
        )
        return float(headers["x-kata-overhead-ms"]), raw

    async def dist(self, provider: str) -> tuple[float, bytes]:
        headers, raw = await self.post(
            f"{self.procs.dist_url}/v1/executions",
            {"provider": provider, "messages": [_user(TEXT)]},
            {"Authorization": f"Bearer {TOKEN}"},
        )
        return float(headers["x-kata-overhead-ms"]), raw

    async def compat(self, provider: str) -> None:
        # The same request as `raw`, through the daemon's compatible route (pass-through).
        url = self.procs.ready["url"]
        if provider == "anthropic":
            await self.post(
                f"{url}/anthropic/v1/messages",
                {"model": MODEL, "max_tokens": 1024, "messages": [_user(TEXT)]},
                {"x-api-key": TOKEN, "anthropic-version": "2023-06-01"},
            )
        else:
            await self.post(
                f"{url}/openai/v1/responses",
                {"model": MODELS["openai"], "max_output_tokens": 1024, "input": [_user(TEXT)]},
                {"authorization": f"Bearer {TOKEN}"},
            )

    def peer_call(self, peer: Peer) -> Call:
        async def call(provider: str) -> None:
            if provider == "anthropic":
                path = "/v1/messages"
                body: dict[str, Any] = {"model": MODEL, "max_tokens": 1024}
                body["messages"] = [_user(TEXT)]
            else:
                path = "/v1/responses"
                body = {"model": MODELS["openai"], "max_output_tokens": 1024}
                body["input"] = [_user(TEXT)]
            await self.post(peer.url + path, body, peer.headers[provider])

        return call

    def arms(self, peers: list[Peer]) -> list[Arm]:
        naive = self.procs.naive.pid if self.procs.naive else None
        daemon = self.procs.daemon.pid if self.procs.daemon else None
        return [
            Arm("raw", self.raw),
            Arm("hop", self.hop, self.procs.hop.pid if self.procs.hop else None),
            Arm("sdk", self.sdk_call),
            Arm("naive", self.naive, naive),
            *(
                [Arm("forwarder", self.forwarder, self.procs.forwarder.pid)]
                if self.procs.forwarder
                else []
            ),
            Arm("daemon", self.daemon, daemon),
            Arm("compat", self.compat, daemon),
            *([Arm("dist", self.dist, self.procs.dist.pid)] if self.procs.dist else []),
            *(Arm(peer.name, self.peer_call(peer), peer.pid) for peer in peers),
        ]


def prompt(words: int) -> str:
    return " ".join(f"w{n}" for n in range(words))


def _user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


# --- figures -----------------------------------------------------------------------------


async def latency(
    procs: Processes, sizes: Sizes, provider: str, peers: list[Peer]
) -> dict[str, Any]:
    """Non-streaming, one request at a time: each arm's latency, its cost over raw HTTP, the
    CPU each server process spends per request, and the daemon's self-report beside it."""
    async with Clients(procs) as clients:
        arms = clients.arms(peers)
        for _ in range(20):  # warm every path (connections, imports, caches)
            for arm in arms:
                await arm.call(provider)
        times: dict[str, list[float]] = {arm.name: [] for arm in arms}
        overheads: list[float] = []
        totals: list[float] = []
        before = {pid: cpu_s(pid) for pid in {arm.pid for arm in arms if arm.pid}}
        for _ in range(sizes.requests):
            for arm in arms:
                started = time.perf_counter()
                reported = await arm.call(provider)
                times[arm.name].append((time.perf_counter() - started) * 1000)
                if arm.name == "daemon" and reported is not None:
                    # The header's overhead also counts recording the execution and serialising
                    # the answer; the body's total does not. (Parsed here, after the clock.)
                    overhead, body = reported
                    timings = json.loads(body)["timings"]
                    overheads.append(overhead)
                    totals.append(timings["total_ms"] + overhead - timings["overhead_ms"])
        # Arms served by one process (the daemon's two route families) share its CPU: each is
        # given the mean over the requests that process served.
        served = collections.Counter(arm.pid for arm in arms if arm.pid)
        # One reading a process: two would split its background work between its arms.
        after = {pid: cpu_s(pid) for pid in served}
        cpu = {
            name: round(
                (after[arm.pid] - before[arm.pid]) * 1000 / (sizes.requests * served[arm.pid]), 3
            )
            for arm in arms
            if arm.pid and (name := arm.name)
        }
    raw = times["raw"]
    out: dict[str, Any] = {
        "ms": {name: summary(values) for name, values in times.items()},
        "added_ms": {
            name: {
                "p50": round(pct(values, 50) - pct(raw, 50), 3),
                "p99": round(pct(values, 99) - pct(raw, 99), 3),
            }
            for name, values in times.items()
            if name != "raw"
        },
        "cpu_ms_per_request": cpu,
        "self_reported_overhead_ms": summary(overheads),
    }
    # The added latency holds one more loopback round trip (the client's side of it and the
    # kernel's), which the daemon cannot see from inside: a bare ASGI app on the same server
    # settings measures it. What the client measures less that round trip is what the daemon
    # should report as its total (its overhead plus its upstream wait).
    out["added_vs_self_report_gap_ms"] = round(
        abs(out["added_ms"]["daemon"]["p50"] - out["self_reported_overhead_ms"]["p50"]), 3
    )
    seen = pct(times["daemon"], 50) - pct(times["hop"], 50)
    out["client_total_less_hop_ms"] = round(seen, 3)
    out["self_reported_total_ms"] = summary(totals)
    out["self_report_gap_ms"] = round(abs(pct(totals, 50) - seen), 3)
    return out


# Throughput rounds: this VM's speed drifts over minutes (the same arm has measured 630 and 468
# requests/s ten minutes apart), so arm after arm would credit whichever ran in a fast spell.
# Each arm runs its share in every round, the order rotating; its figure is the median round.
THROUGHPUT_ROUNDS = 5


async def throughput(
    procs: Processes, sizes: Sizes, provider: str, peers: list[Peer]
) -> dict[str, Any]:
    """Non-streaming requests per second at `concurrency` in flight: every arm in each of
    THROUGHPUT_ROUNDS rounds (its order rotating), the median round's rate and the CPU over
    all of an arm's requests."""
    out: dict[str, Any] = {"concurrency": sizes.concurrency, "requests": sizes.throughput_requests}
    share = max(sizes.concurrency, sizes.throughput_requests // THROUGHPUT_ROUNDS)
    async with Clients(procs, limit=sizes.concurrency) as clients:
        arms = clients.arms(peers)
        rates: dict[str, list[float]] = {arm.name: [] for arm in arms}
        cpu: dict[str, float] = {arm.name: 0.0 for arm in arms}

        async def burst(arm: Arm, count: int) -> float:
            gate = asyncio.Semaphore(sizes.concurrency)

            async def one() -> None:
                async with gate:
                    await arm.call(provider)

            started = time.perf_counter()
            await asyncio.gather(*(one() for _ in range(count)))
            return time.perf_counter() - started

        for arm in arms:
            await burst(arm, sizes.concurrency)  # warm the pool
        for round_number in range(THROUGHPUT_ROUNDS):
            turn = round_number % len(arms)
            for arm in arms[turn:] + arms[:turn]:
                before = cpu_s(arm.pid) if arm.pid else 0.0
                elapsed = await burst(arm, share)
                rates[arm.name].append(share / elapsed)
                if arm.pid:
                    cpu[arm.name] += cpu_s(arm.pid) - before
        for arm in arms:
            out[f"{arm.name}_per_s"] = round(statistics.median(rates[arm.name]), 1)
            if arm.pid:
                total = share * THROUGHPUT_ROUNDS
                out[f"{arm.name}_cpu_ms_per_request"] = round(cpu[arm.name] * 1000 / total, 3)
    return out


async def _sdk_stream(client: Any, provider: str, text: str) -> tuple[float, list[float]]:
    started = time.perf_counter()
    stamps: list[float] = []
    if provider == "anthropic":
        stream = await client.messages.create(
            model=MODEL, max_tokens=4096, stream=True, messages=[_user(text)]
        )
        delta = "content_block_delta"
    else:
        stream = await client.responses.create(
            model=MODELS["openai"], max_output_tokens=4096, stream=True, input=[_user(text)]
        )
        delta = "response.output_text.delta"
    async for event in stream:
        if event.type == delta:
            stamps.append(time.perf_counter())
    return _ttft_gaps(started, stamps)


async def _daemon_stream(
    session: aiohttp.ClientSession, url: str, provider: str, text: str
) -> tuple[float, list[float]]:
    started = time.perf_counter()
    stamps: list[float] = []
    body = {"provider": provider, "stream": True, "max_tokens": 4096, "messages": [_user(text)]}
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with session.post(f"{url}/v1/executions", json=body, headers=headers) as response:
        async for line in response.content:
            if line.startswith(b"event: text_delta"):
                stamps.append(time.perf_counter())
    return _ttft_gaps(started, stamps)


def _ttft_gaps(started: float, stamps: list[float]) -> tuple[float, list[float]]:
    if not stamps:
        return 0.0, []
    gaps = [(b - a) * 1000 for a, b in itertools.pairwise(stamps)]
    return (stamps[0] - started) * 1000, gaps


async def streaming(procs: Processes, sizes: Sizes, provider: str) -> dict[str, Any]:
    """Time to the first text delta and the gaps between deltas, SDK direct vs the daemon, at
    each concurrency."""
    text = prompt(sizes.stream_words)
    results: dict[str, Any] = {}
    for concurrency in sizes.streams:
        async with Clients(procs, limit=concurrency + 8) as clients:
            sdk = clients.sdk[provider]
            url = procs.ready["url"]
            for _ in range(2):  # the first round warms
                d = await asyncio.gather(
                    *(_sdk_stream(sdk, provider, text) for _ in range(concurrency))
                )
                k = await asyncio.gather(
                    *(
                        _daemon_stream(clients.session, url, provider, text)
                        for _ in range(concurrency)
                    )
                )
        d_first, k_first = [r[0] for r in d], [r[0] for r in k]
        d_gaps, k_gaps = [g for r in d for g in r[1]], [g for r in k for g in r[1]]
        results[str(concurrency)] = {
            "ttft_sdk_ms": summary(d_first),
            "ttft_daemon_ms": summary(k_first),
            "ttft_added_ms_p50": round(pct(k_first, 50) - pct(d_first, 50), 3),
            "gap_sdk_ms": summary(d_gaps),
            "gap_daemon_ms": summary(k_gaps),
            "deltas_per_stream": len(k[0][1]) + 1,
        }
    return results


async def streamed_self_report(procs: Processes, sizes: Sizes, provider: str) -> dict[str, Any]:
    """The self-report of a streamed execution (its `done` event's timings; a stream has no
    header to carry it) against what the client measures: the daemon streamed less the
    provider streamed to the client directly (`raw`), one at a time, interleaved."""
    raw_url = {
        "anthropic": f"{procs.urls['anthropic']}/v1/messages",
        "openai": f"{procs.urls['openai']}/responses",
    }[provider]
    raw_body: dict[str, Any] = (
        {"model": MODEL, "max_tokens": 1024, "messages": [_user(TEXT)], "stream": True}
        if provider == "anthropic"
        else {
            "model": MODELS["openai"],
            "max_output_tokens": 1024,
            "input": [_user(TEXT)],
            "stream": True,
        }
    )
    raw_headers = (
        {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
        if provider == "anthropic"
        else {"authorization": f"Bearer {OPENAI_KEY}"}
    )
    daemon_body = {"provider": provider, "stream": True, "messages": [_user(TEXT)]}
    daemon_headers = {"Authorization": f"Bearer {TOKEN}"}
    url = f"{procs.ready['url']}/v1/executions"
    times: dict[str, list[float]] = {"raw": [], "daemon": [], "hop": []}
    overheads: list[float] = []
    totals: list[float] = []
    async with Clients(procs) as clients:
        for n in range(20 + sizes.requests):
            started = time.perf_counter()
            await clients.post(raw_url, raw_body, raw_headers)
            raw_ms = (time.perf_counter() - started) * 1000
            started = time.perf_counter()
            _, body = await clients.post(url, daemon_body, daemon_headers)
            daemon_ms = (time.perf_counter() - started) * 1000
            started = time.perf_counter()
            await clients.hop(provider)
            hop_ms = (time.perf_counter() - started) * 1000
            if n < 20:  # warming
                continue
            last = [line for line in body.split(b"\n") if line.startswith(b"data:")][-1]
            timings = json.loads(last[5:])["result"]["timings"]
            times["raw"].append(raw_ms)
            times["daemon"].append(daemon_ms)
            times["hop"].append(hop_ms)
            overheads.append(timings["overhead_ms"])
            totals.append(timings["total_ms"])
    added = round(pct(times["daemon"], 50) - pct(times["raw"], 50), 3)
    seen = round(pct(times["daemon"], 50) - pct(times["hop"], 50), 3)
    return {
        "ms": {name: summary(values) for name, values in times.items()},
        "added_ms_p50": added,
        "self_reported_overhead_ms": summary(overheads),
        "added_vs_self_report_gap_ms": round(abs(added - pct(overheads, 50)), 3),
        "self_reported_total_ms": summary(totals),
        "client_total_less_hop_ms": seen,
        "self_report_gap_ms": round(abs(pct(totals, 50) - seen), 3),
    }


def ledger_cost(procs: Processes, sizes: Sizes) -> dict[str, Any]:
    """The ledger's cost to an execution: the daemon as it runs, beside a second daemon with
    the ledger off (`KATA_PROVIDERS_LEDGER=false`), requests interleaved one by one, then 16 at
    a time. The first daemon's ledger is then read back, to show it was written."""
    home = procs.home / "no-ledger"
    off = subprocess.Popen(
        [sys.executable, "-m", "service.process.cli", "serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**procs.env(), "KATA_PROVIDERS_HOME": str(home), "KATA_PROVIDERS_LEDGER": "false"},
        cwd=ROOT,
    )
    assert off.stdout is not None
    urls = {"on": procs.ready["url"], "off": json.loads(off.stdout.readline())["url"]}
    assert procs.daemon is not None
    pids = {"on": procs.daemon.pid, "off": off.pid}
    try:
        return asyncio.run(_ledger_runs(procs, sizes, urls, pids))
    finally:
        off.terminate()
        off.wait(10)


async def _ledger_runs(
    procs: Processes, sizes: Sizes, urls: dict[str, str], pids: dict[str, int]
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    body = {"provider": "anthropic", "messages": [_user(TEXT)]}
    async with Clients(procs, limit=32) as clients:
        for _ in range(20):
            for url in urls.values():
                await clients.post(f"{url}/v1/executions", body, headers)
        times: dict[str, list[float]] = {"on": [], "off": []}
        for _ in range(sizes.requests):
            for name, url in urls.items():
                started = time.perf_counter()
                await clients.post(f"{url}/v1/executions", body, headers)
                times[name].append((time.perf_counter() - started) * 1000)
        rates: dict[str, float] = {}
        cpu: dict[str, float] = {}
        for name, url in urls.items():
            gate = asyncio.Semaphore(16)

            async def one(url: str = url, gate: asyncio.Semaphore = gate) -> None:
                async with gate:
                    await clients.post(f"{url}/v1/executions", body, headers)

            count = sizes.throughput_requests // 2
            started, before = time.perf_counter(), cpu_s(pids[name])
            await asyncio.gather(*(one() for _ in range(count)))
            rates[name] = round(count / (time.perf_counter() - started), 1)
            cpu[name] = round((cpu_s(pids[name]) - before) * 1000 / count, 3)
    async with httpx.AsyncClient(headers=headers) as http:
        rows = (await http.get(f"{urls['on']}/v1/usage")).json()["totals"]["executions"]
    return {
        "p50_ms": {name: round(pct(v, 50), 3) for name, v in times.items()},
        "p99_ms": {name: round(pct(v, 99), 3) for name, v in times.items()},
        "added_p50_ms": round(pct(times["on"], 50) - pct(times["off"], 50), 3),
        "per_s_at_16": rates,
        "cpu_ms_per_request_at_16": cpu,
        "rows_written": rows,
    }


def startup(procs: Processes, sizes: Sizes) -> dict[str, Any]:
    ready = []
    first = []
    for n in range(sizes.startups):
        procs.stop_daemon()
        started = time.perf_counter()
        ready.append(procs.start_daemon() * 1000)
        response = httpx.post(
            f"{procs.ready['url']}/v1/executions",
            headers={"Authorization": f"Bearer {TOKEN}"},
            json={"provider": PROVIDERS[n % 2], "messages": [_user("hi")]},
            timeout=60,
        )
        response.raise_for_status()
        first.append((time.perf_counter() - started) * 1000)
    return {
        "ready_ms_median": round(statistics.median(ready), 1),
        "ready_ms": [round(r, 1) for r in ready],
        "first_execution_ms_median": round(statistics.median(first), 1),
        "first_execution_ms": [round(f, 1) for f in first],
    }


def memory(procs: Processes, sizes: Sizes) -> dict[str, Any]:
    """RSS once started and warm, then after `soak` executions (both providers), sampled at the
    half and the end to show it is flat; fds before and after."""
    procs.stop_daemon()
    procs.start_daemon()
    assert procs.daemon is not None
    pid, url = procs.daemon.pid, procs.ready["url"]
    headers = {"Authorization": f"Bearer {TOKEN}"}
    for _ in range(100):  # until what requests need is loaded
        if httpx.get(f"{url}/v1/health", headers=headers).json().get("warm"):
            break
        time.sleep(0.05)
    time.sleep(0.3)
    out: dict[str, Any] = {"idle_rss_mb": rss_mb(pid), "idle_fds": fds(pid)}

    async def soak(count: int) -> None:
        async with Clients(procs, limit=8) as clients:
            gate = asyncio.Semaphore(8)

            async def one(n: int) -> None:
                async with gate:
                    await clients.daemon(PROVIDERS[n % 2])

            await asyncio.gather(*(one(n) for n in range(count)))

    asyncio.run(soak(sizes.soak // 2))
    out["half_rss_mb"] = rss_mb(pid)
    asyncio.run(soak(sizes.soak - sizes.soak // 2))
    time.sleep(11)  # idle pooled connections close after 5 s, checked every 5 s
    out["after_executions"] = sizes.soak
    out["after_rss_mb"] = rss_mb(pid)
    out["growth_second_half_mb"] = round(out["after_rss_mb"] - out["half_rss_mb"], 1)
    out["fds_after"] = fds(pid)
    return out


def machine() -> dict[str, Any]:
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


# --- the table ---------------------------------------------------------------------------

NAMES = {
    "raw": "raw HTTP",
    "hop": "bare loopback hop",
    "sdk": "SDK in-process",
    "naive": "naive FastAPI + SDK",
    "forwarder": "FastAPI + aiohttp forwarder",
    "daemon": "**Kata Providers**",
    "compat": "Kata Providers, compatible route (pass-through)",
    "dist": "Kata Providers, as built (`dist/`)",
    "portkey": "Portkey gateway",
    "litellm": "LiteLLM proxy",
}


def table(report: dict[str, Any]) -> str:
    """The report as a Markdown table: one column per arm, the target last."""
    r, m = report["results"], report["machine"]
    arms = [a for a in NAMES if a in r[f"latency_{PROVIDERS[0]}"]["ms"]]
    lines = [
        f"machine: {m['cpu']} ({m['cores']} cores), Python {m['python']}, {report['date']}",
        "",
        "| figure | " + " | ".join(NAMES[a] for a in arms) + " | target |",
        "|---|" + "---|" * (len(arms) + 1),
    ]

    def row(figure: str, cells: dict[str, object], target: str) -> None:
        values = [str(cells.get(a, "—")) for a in arms]
        lines.append(f"| {figure} | " + " | ".join(values) + f" | {target} |")

    for provider in PROVIDERS:
        lat = r[f"latency_{provider}"]
        floor = lat["ms"]["raw"]
        for q, target in (("p50", "<= 1.0"), ("p99", "<= 3")):
            cells: dict[str, object] = {"raw": f"({floor[q]})"}
            cells.update({a: v[q] for a, v in lat["added_ms"].items()})
            row(f"non-streaming added {q}, {provider} (ms; raw: absolute)", cells, target)
        row(f"server CPU per request, {provider} (ms)", lat["cpu_ms_per_request"], "<= 1")
        own = lat["self_reported_overhead_ms"]
        row(
            f"self-reported overhead p50, {provider} (ms; gap to the added p50)",
            {"daemon": f"{own['p50']} (gap {lat['added_vs_self_report_gap_ms']})"},
            "",
        )
        row(
            f"self-reported total p50 vs client-measured less one bare hop, {provider} (ms)",
            {
                "daemon": f"{lat['self_reported_total_ms']['p50']} vs "
                f"{lat['client_total_less_hop_ms']} (gap {lat['self_report_gap_ms']})"
            },
            "gap <= 0.3",
        )
        streamed = r.get(f"streamed_self_report_{provider}")
        if streamed is not None:
            row(
                f"streamed: self-reported overhead p50 vs added p50, {provider} (ms)",
                {
                    "daemon": f"{streamed['self_reported_overhead_ms']['p50']} vs "
                    f"{streamed['added_ms_p50']} (gap {streamed['added_vs_self_report_gap_ms']})"
                },
                "",
            )
            row(
                f"streamed: self-reported total p50 vs client-measured less one bare hop, "
                f"{provider} (ms)",
                {
                    "daemon": f"{streamed['self_reported_total_ms']['p50']} vs "
                    f"{streamed['client_total_less_hop_ms']} (gap {streamed['self_report_gap_ms']})"
                },
                "gap <= 0.3",
            )
        t = r[f"throughput_{provider}"]
        row(
            f"requests/s at {t['concurrency']} concurrent, {provider}",
            {a: t.get(f"{a}_per_s", "—") for a in arms},
            ">= 600",
        )
        row(
            f"server CPU per request at {t['concurrency']} concurrent, {provider} (ms)",
            {a: t[f"{a}_cpu_ms_per_request"] for a in arms if f"{a}_cpu_ms_per_request" in t},
            "<= 1",
        )
        for level, s in r[f"streaming_{provider}"].items():
            row(
                f"first text delta p50 at {level} streams, {provider} (ms; added)",
                {
                    "sdk": s["ttft_sdk_ms"]["p50"],
                    "daemon": f"{s['ttft_daemon_ms']['p50']} (+{s['ttft_added_ms_p50']})",
                },
                "added <= 10",
            )
            row(
                f"gap between deltas p50 / p99 at {level}, {provider} (ms)",
                {
                    "sdk": f"{s['gap_sdk_ms']['p50']} / {s['gap_sdk_ms']['p99']}",
                    "daemon": f"{s['gap_daemon_ms']['p50']} / {s['gap_daemon_ms']['p99']}",
                },
                "unchanged",
            )
    if "ledger" in r:
        led = r["ledger"]
        row(
            "ledger on / off: p50, p99 (ms); requests/s and CPU ms/request at 16 (anthropic)",
            {
                "daemon": f"{led['p50_ms']['on']} / {led['p50_ms']['off']}, "
                f"{led['p99_ms']['on']} / {led['p99_ms']['off']}; "
                f"{led['per_s_at_16']['on']} / {led['per_s_at_16']['off']}, "
                f"{led['cpu_ms_per_request_at_16']['on']} / "
                f"{led['cpu_ms_per_request_at_16']['off']} "
                f"({led['rows_written']} rows written)"
            },
            "no measurable difference",
        )
    st, mem = r["startup"], r["memory"]
    peers = r.get("peers", {})
    row(
        "spawn → ready line, median (ms; peers: until they answer)",
        {"daemon": st["ready_ms_median"], **{p: v["ready_ms"] for p, v in peers.items()}},
        "<= 500",
    )
    row(
        "spawn → first completed execution, median (ms)",
        {"daemon": st["first_execution_ms_median"]},
        "<= 800",
    )
    row("RSS idle, warm (MB)", {"daemon": mem["idle_rss_mb"]}, "<= 60")
    row(
        "RSS after the runs (MB)",
        {
            **r.get("baselines_rss_mb", {}),
            **{p: v["rss_mb"] for p, v in peers.items()},
        },
        "",
    )
    row(
        f"RSS after {mem['after_executions']} executions (MB; growth over the second half)",
        {"daemon": f"{mem['after_rss_mb']} ({mem['growth_second_half_mb']:+})"},
        "<= 100, flat",
    )
    row("open fds warm / after", {"daemon": f"{mem['idle_fds']} / {mem['fds_after']}"}, "equal")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.run")
    parser.add_argument(
        "--quick", action="store_true", help="small sizes, for CI: checks the suite runs"
    )
    parser.add_argument(
        "--peers", action="store_true", help="add Portkey and LiteLLM (installs them first)"
    )
    parser.add_argument(
        "--json", default=str(ROOT / "artifacts" / "bench.json"), help="report path"
    )
    parser.add_argument(
        "--dist", action="store_true", help="add the built executable (make dist) as an arm"
    )
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    procs = Processes()
    peer_set: Peers | None = None
    try:
        procs.start_daemon()
        procs.start_naive()
        procs.start_hop()
        procs.start_forwarder()
        if args.dist:
            procs.start_dist()
        peers: list[Peer] = []
        if args.peers:
            peer_set = Peers(procs.urls, KEY, OPENAI_KEY)
            peers = peer_set.start()
        results: dict[str, Any] = {}
        for provider in PROVIDERS:
            results[f"latency_{provider}"] = asyncio.run(latency(procs, sizes, provider, peers))
            results[f"throughput_{provider}"] = asyncio.run(
                throughput(procs, sizes, provider, peers)
            )
            results[f"streaming_{provider}"] = asyncio.run(streaming(procs, sizes, provider))
            results[f"streamed_self_report_{provider}"] = asyncio.run(
                streamed_self_report(procs, sizes, provider)
            )
        results["ledger"] = ledger_cost(procs, sizes)
        results["startup"] = startup(procs, sizes)
        results["memory"] = memory(procs, sizes)
        results["peers"] = {
            peer.name: {"ready_ms": round(peer.started_s * 1000, 1), "rss_mb": rss_mb(peer.pid)}
            for peer in peers
        }
        results["baselines_rss_mb"] = {
            name: rss_mb(process.pid)
            for name, process in (
                ("hop", procs.hop),
                ("naive", procs.naive),
                ("forwarder", procs.forwarder),
            )
            if process is not None
        }
    finally:
        procs.close()
        if peer_set is not None:
            peer_set.stop()
    report = {
        "machine": machine(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "sizes": sizes.__dict__,
        "results": results,
    }
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=2))
    print(table(report))
    return report


if __name__ == "__main__":
    main()
