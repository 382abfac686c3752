"""Soak: many concurrent streamed executions through the daemon for a while; zero errors, and
RSS and open file descriptors back to their baseline afterwards.

    python -m tests.bench.soak [--concurrency 100] [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

import httpx

from tests.bench.run import TOKEN, Processes, fds, prompt, rss_mb


async def _soak(url: str, concurrency: int, seconds: float, words: int) -> dict[str, Any]:
    done = errors = 0
    stop = time.monotonic() + seconds
    body = {
        "provider": "anthropic",
        "stream": True,
        "max_tokens": 4096,
        "messages": [{"role": "user", "content": prompt(words)}],
    }
    limits = httpx.Limits(
        max_connections=concurrency + 4, max_keepalive_connections=concurrency + 4
    )
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120, limits=limits
    ) as client:

        async def worker() -> None:
            nonlocal done, errors
            while time.monotonic() < stop:
                terminal = None
                async with client.stream("POST", "/v1/executions", json=body) as response:
                    async for line in response.aiter_lines():
                        if line.startswith("event: "):
                            terminal = line[7:]
                if terminal == "done":
                    done += 1
                else:
                    errors += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return {"completed": done, "errors": errors}


def run(concurrency: int, seconds: float, words: int = 50) -> dict[str, Any]:
    procs = Processes()
    try:
        procs.start_daemon()
        assert procs.daemon is not None
        pid = procs.daemon.pid
        # Warm up at the same concurrency: the upstream connection pool fills to its working
        # size (kept-alive connections are a bounded pool, not a leak); then measure.
        asyncio.run(_soak(procs.ready["url"], concurrency, 2, words))
        time.sleep(1.0)
        before = {"rss_mb": rss_mb(pid), "fds": fds(pid)}
        counts = asyncio.run(_soak(procs.ready["url"], concurrency, seconds, words))
        time.sleep(1.0)
        after = {"rss_mb": rss_mb(pid), "fds": fds(pid)}
    finally:
        procs.close()
    return {
        "concurrency": concurrency,
        "seconds": seconds,
        **counts,
        "before": before,
        "after": after,
        "rss_growth_mb": round(after["rss_mb"] - before["rss_mb"], 1),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m tests.bench.soak")
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    print(json.dumps(run(args.concurrency, args.seconds), indent=2))
