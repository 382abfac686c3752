"""The benchmark suite: the daemon's cost on the hot path, measured side by side with calling the
provider directly, in one run, against the fake upstreams on loopback (no artificial latency).

    python -m tests.bench.run [--quick] [--json artifacts/bench.json]

Arms: "direct" is the official SDK calling the fake; "daemon" is an HTTP client calling the
daemon, which calls the same fake through the same SDK. Both talk to one fake process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

KEY = "sk-ant-api03-bench-key"
OPENAI_KEY = "sk-proj-bench-key"
TOKEN = "bench-token-0123456789abcdefghij"
MODEL = "claude-sonnet-5-5"
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Sizes:
    requests: int
    streams: tuple[int, ...]
    stream_words: int
    throughput_streams: int
    startups: int
    soak: int


FULL = Sizes(
    requests=500,
    streams=(1, 16, 64),
    stream_words=200,
    throughput_streams=256,
    startups=10,
    soak=10_000,
)
QUICK = Sizes(
    requests=30, streams=(1, 4), stream_words=50, throughput_streams=16, startups=2, soak=100
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


class Processes:
    """The fake upstreams and the daemon, each its own process."""

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
        self.ready: dict[str, Any] = {}

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
            "KATA_PROVIDERS_LOG_LEVEL": "WARNING",
        }

    def start_daemon(self) -> float:
        """Spawn the daemon; seconds until its ready line."""
        started = time.perf_counter()
        self.daemon = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "serve"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=self.env(),
            cwd=ROOT,
        )
        assert self.daemon.stdout is not None
        self.ready = json.loads(self.daemon.stdout.readline())
        return time.perf_counter() - started

    def stop_daemon(self) -> None:
        if self.daemon is not None:
            self.daemon.terminate()
            self.daemon.wait(10)
            self.daemon = None

    def close(self) -> None:
        self.stop_daemon()
        self.fakes.terminate()
        self.fakes.wait(10)


def prompt(words: int) -> str:
    return " ".join(f"w{n}" for n in range(words))


async def direct_once(client: Any, text: str) -> float:
    started = time.perf_counter()
    await client.messages.create(
        model=MODEL, max_tokens=1024, messages=[{"role": "user", "content": text}]
    )
    return (time.perf_counter() - started) * 1000


async def raw_once(client: httpx.AsyncClient, text: str) -> float:
    """The floor: the same Messages request as plain HTTP, no SDK, no daemon."""
    started = time.perf_counter()
    response = await client.post(
        "/v1/messages",
        json={
            "model": MODEL,
            "max_tokens": 1024,
            "messages": [{"role": "user", "content": text}],
        },
    )
    response.read()
    response.raise_for_status()
    return (time.perf_counter() - started) * 1000


async def daemon_once(client: httpx.AsyncClient, text: str, overheads: list[float]) -> float:
    started = time.perf_counter()
    response = await client.post(
        "/v1/executions",
        json={
            "provider": "anthropic",
            "model": MODEL,
            "messages": [{"role": "user", "content": text}],
        },
    )
    elapsed = (time.perf_counter() - started) * 1000
    response.raise_for_status()
    overheads.append(float(response.headers["x-kata-overhead-ms"]))
    return elapsed


async def direct_stream(client: Any, text: str) -> tuple[float, list[float]]:
    started = time.perf_counter()
    first = 0.0
    gaps: list[float] = []
    last = None
    stream = await client.messages.create(
        model=MODEL, max_tokens=4096, stream=True, messages=[{"role": "user", "content": text}]
    )
    async for event in stream:
        if event.type == "content_block_delta":
            now = time.perf_counter()
            if last is None:
                first = (now - started) * 1000
            else:
                gaps.append((now - last) * 1000)
            last = now
    return first, gaps


async def daemon_stream(client: httpx.AsyncClient, text: str) -> tuple[float, list[float]]:
    started = time.perf_counter()
    first = 0.0
    gaps: list[float] = []
    last = None
    body = {
        "provider": "anthropic",
        "model": MODEL,
        "stream": True,
        "max_tokens": 4096,
        "messages": [{"role": "user", "content": text}],
    }
    async with client.stream("POST", "/v1/executions", json=body) as response:
        async for line in response.aiter_lines():
            if line == "event: text_delta":
                now = time.perf_counter()
                if last is None:
                    first = (now - started) * 1000
                else:
                    gaps.append((now - last) * 1000)
                last = now
    return first, gaps


async def latency(procs: Processes, sizes: Sizes) -> dict[str, Any]:
    from anthropic import AsyncAnthropic

    text = "ping pong"
    direct = AsyncAnthropic(api_key=KEY, base_url=procs.urls["anthropic"], max_retries=0)
    daemon = httpx.AsyncClient(
        base_url=procs.ready["url"], headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
    )
    raw = httpx.AsyncClient(
        base_url=procs.urls["anthropic"],
        headers={"x-api-key": KEY, "anthropic-version": "2023-06-01"},
        timeout=60,
    )
    overheads: list[float] = []
    for _ in range(20):  # warm every path (connections, imports, caches)
        await raw_once(raw, text)
        await direct_once(direct, text)
        await daemon_once(daemon, text, [])
    r: list[float] = []
    d: list[float] = []
    k: list[float] = []
    for _ in range(sizes.requests):  # interleaved, so drift hits every arm alike
        r.append(await raw_once(raw, text))
        d.append(await direct_once(direct, text))
        k.append(await daemon_once(daemon, text, overheads))
    await direct.close()
    await daemon.aclose()
    await raw.aclose()
    return {
        "raw_ms": summary(r),
        "direct_ms": summary(d),
        "daemon_ms": summary(k),
        "added_ms": {
            "p50": round(pct(k, 50) - pct(d, 50), 3),
            "p99": round(pct(k, 99) - pct(d, 99), 3),
        },
        "added_over_raw_ms": {
            "p50": round(pct(k, 50) - pct(r, 50), 3),
            "p99": round(pct(k, 99) - pct(r, 99), 3),
        },
        "self_reported_overhead_ms": summary(overheads),
    }


async def streaming(procs: Processes, sizes: Sizes) -> dict[str, Any]:
    from anthropic import AsyncAnthropic

    text = prompt(sizes.stream_words)
    results: dict[str, Any] = {}
    for concurrency in sizes.streams:
        direct = AsyncAnthropic(api_key=KEY, base_url=procs.urls["anthropic"], max_retries=0)
        limits = httpx.Limits(
            max_connections=concurrency + 8, max_keepalive_connections=concurrency + 8
        )
        daemon = httpx.AsyncClient(
            base_url=procs.ready["url"],
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=120,
            limits=limits,
        )
        await asyncio.gather(*(direct_stream(direct, text) for _ in range(concurrency)))
        await asyncio.gather(*(daemon_stream(daemon, text) for _ in range(concurrency)))
        d = await asyncio.gather(*(direct_stream(direct, text) for _ in range(concurrency)))
        k = await asyncio.gather(*(daemon_stream(daemon, text) for _ in range(concurrency)))
        await direct.close()
        await daemon.aclose()
        d_ttft, k_ttft = [r[0] for r in d], [r[0] for r in k]
        d_gaps, k_gaps = [g for r in d for g in r[1]], [g for r in k for g in r[1]]
        results[str(concurrency)] = {
            "ttft_direct_ms": summary(d_ttft),
            "ttft_daemon_ms": summary(k_ttft),
            "ttft_added_ms_p50": round(pct(k_ttft, 50) - pct(d_ttft, 50), 3),
            "gap_direct_ms": summary(d_gaps),
            "gap_daemon_ms": summary(k_gaps),
            "deltas_per_stream": len(k[0][1]) + 1,
        }
    return results


async def throughput(procs: Processes, sizes: Sizes) -> dict[str, Any]:
    from anthropic import AsyncAnthropic

    text = prompt(sizes.stream_words)
    concurrency = max(sizes.streams)
    out: dict[str, Any] = {"concurrency": concurrency, "streams": sizes.throughput_streams}
    direct = AsyncAnthropic(api_key=KEY, base_url=procs.urls["anthropic"], max_retries=0)
    limits = httpx.Limits(
        max_connections=concurrency + 8, max_keepalive_connections=concurrency + 8
    )
    daemon = httpx.AsyncClient(
        base_url=procs.ready["url"],
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=300,
        limits=limits,
    )
    for name, run in (
        ("direct", lambda: direct_stream(direct, text)),
        ("daemon", lambda: daemon_stream(daemon, text)),
    ):
        gate = asyncio.Semaphore(concurrency)

        async def one(run: Any = run, gate: asyncio.Semaphore = gate) -> None:
            async with gate:
                await run()

        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(sizes.throughput_streams)))
        out[f"{name}_per_s"] = round(sizes.throughput_streams / (time.perf_counter() - started), 1)
    await direct.close()
    await daemon.aclose()
    out["ratio"] = round(out["daemon_per_s"] / out["direct_per_s"], 3)
    return out


def startup(procs: Processes, sizes: Sizes) -> dict[str, Any]:
    ready = []
    first = []
    for _ in range(sizes.startups):
        procs.stop_daemon()
        started = time.perf_counter()
        ready.append(procs.start_daemon() * 1000)
        response = httpx.post(
            f"{procs.ready['url']}/v1/executions",
            headers={"Authorization": f"Bearer {TOKEN}"},
            json={"provider": "anthropic", "messages": [{"role": "user", "content": "hi"}]},
            timeout=60,
        )
        response.raise_for_status()
        first.append((time.perf_counter() - started) * 1000)
    return {
        "ready_ms_median": round(statistics.median(ready), 1),
        "ready_ms": [round(r, 1) for r in ready],
        "first_execution_ms_median": round(statistics.median(first), 1),
    }


def memory(procs: Processes, sizes: Sizes) -> dict[str, Any]:
    procs.stop_daemon()
    procs.start_daemon()
    assert procs.daemon is not None
    pid = procs.daemon.pid
    time.sleep(0.5)
    out: dict[str, Any] = {"idle_rss_mb": rss_mb(pid), "idle_fds": fds(pid)}
    with httpx.Client(
        base_url=procs.ready["url"], headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
    ) as http:
        for provider in ("anthropic", "openai"):
            http.post(
                "/v1/executions",
                json={"provider": provider, "messages": [{"role": "user", "content": "x"}]},
            ).raise_for_status()
        out["sdks_loaded_rss_mb"] = rss_mb(pid)
        baseline_fds = fds(pid)

        async def soak() -> None:
            gate = asyncio.Semaphore(8)
            async with httpx.AsyncClient(
                base_url=procs.ready["url"],
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=60,
            ) as client:

                async def one(n: int) -> None:
                    async with gate:
                        provider = "anthropic" if n % 2 else "openai"
                        (
                            await client.post(
                                "/v1/executions",
                                json={
                                    "provider": provider,
                                    "messages": [{"role": "user", "content": "x y z"}],
                                },
                            )
                        ).raise_for_status()

                await asyncio.gather(*(one(n) for n in range(sizes.soak)))

        asyncio.run(soak())
        time.sleep(6)  # pooled keep-alive connections expire after 5 s idle
        out["after_executions"] = sizes.soak
        out["after_rss_mb"] = rss_mb(pid)
        out["growth_mb"] = round(out["after_rss_mb"] - out["sdks_loaded_rss_mb"], 1)
        out["fds_before"] = baseline_fds
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


def _row(figure: str, direct: object, daemon: object, added: object, target: str) -> str:
    return f"| {figure} | {direct} | {daemon} | {added} | {target} |"


def table(report: dict[str, Any]) -> str:
    """The report as a Markdown table, each figure beside its baseline and target."""
    r, m = report["results"], report["machine"]
    lines = [
        f"machine: {m['cpu']} ({m['cores']} cores), Python {m['python']}",
        "",
        _row("figure", "direct", "daemon", "added", "target"),
        "|---|---|---|---|---|",
    ]
    lat = r["latency"]
    for q, target in (("p50", "<= 1"), ("p99", "<= 3")):
        lines.append(
            _row(
                f"non-streaming {q} (ms)",
                lat["direct_ms"][q],
                lat["daemon_ms"][q],
                lat["added_ms"][q],
                target,
            )
        )
    raw = lat["raw_ms"]
    lines.append(
        _row(
            "non-streaming p50 / p99 over raw HTTP to the fake (ms)",
            f"raw {raw['p50']} / {raw['p99']}",
            "",
            f"{lat['added_over_raw_ms']['p50']} / {lat['added_over_raw_ms']['p99']}",
            "<= 1 / 3",
        )
    )
    own = lat["self_reported_overhead_ms"]
    lines.append(
        _row("self-reported overhead p50 / p99 (ms)", "", f"{own['p50']} / {own['p99']}", "", "")
    )
    for level, s in r["streaming"].items():
        lines.append(
            _row(
                f"TTFT p50 at {level} concurrent (ms)",
                s["ttft_direct_ms"]["p50"],
                s["ttft_daemon_ms"]["p50"],
                s["ttft_added_ms_p50"],
                "<= 1 at 16",
            )
        )
        d, k = s["gap_direct_ms"], s["gap_daemon_ms"]
        lines.append(
            _row(
                f"gap between events p50 / p99 at {level} (ms)",
                f"{d['p50']} / {d['p99']}",
                f"{k['p50']} / {k['p99']}",
                "",
                "",
            )
        )
    t = r["throughput"]
    lines.append(
        _row(
            f"streams/s at {t['concurrency']} concurrent",
            t["direct_per_s"],
            t["daemon_per_s"],
            f"ratio {t['ratio']}",
            ">= 0.9",
        )
    )
    st, mem = r["startup"], r["memory"]
    lines += [
        _row("spawn to ready line, median (ms)", "", st["ready_ms_median"], "", "<= 500"),
        _row("spawn to first execution, median (ms)", "", st["first_execution_ms_median"], "", ""),
        _row("RSS idle after ready (MB)", "", mem["idle_rss_mb"], "", "<= 60"),
        _row("RSS with both SDKs loaded (MB)", "", mem["sdks_loaded_rss_mb"], "", "<= 110"),
        _row(
            f"RSS growth over {mem['after_executions']} executions (MB)",
            "",
            mem["growth_mb"],
            "",
            "<= 10",
        ),
        _row(
            "open fds before / after", "", f"{mem['fds_before']} / {mem['fds_after']}", "", "equal"
        ),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.run")
    parser.add_argument(
        "--quick", action="store_true", help="small sizes, for CI: checks the suite runs"
    )
    parser.add_argument(
        "--json", default=str(ROOT / "artifacts" / "bench.json"), help="report path"
    )
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    procs = Processes()
    try:
        procs.start_daemon()
        results = {
            "latency": asyncio.run(latency(procs, sizes)),
            "streaming": asyncio.run(streaming(procs, sizes)),
            "throughput": asyncio.run(throughput(procs, sizes)),
            "startup": startup(procs, sizes),
            "memory": memory(procs, sizes),
        }
    finally:
        procs.close()
    report = {
        "machine": machine(),
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
