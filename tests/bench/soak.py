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
        with httpx.Client(
            base_url=procs.ready["url"], headers={"Authorization": f"Bearer {TOKEN}"}
        ) as http:
            http.post(
                "/v1/executions",
                json={"provider": "anthropic", "messages": [{"role": "user", "content": "x"}]},
            )
        time.sleep(0.5)
        before = {"rss_mb": rss_mb(pid), "fds": fds(pid)}
        counts = asyncio.run(_soak(procs.ready["url"], concurrency, seconds, words))
        time.sleep(6.5)  # upstream keep-alive connections are pooled for 5 s, then closed
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
