"""The hot path's cost held in CI: the daemon's added latency (p50 over raw HTTP to the fake)
on `/v1/executions` and the compatible routes, for both providers, as a ratio to the naive
FastAPI wrapper's in the same run, so it means the same on a machine twice as slow.

    python -m tests.bench.overhead_check            # print the table
    python -m tests.bench.overhead_check --check    # make test: against tests/bench/overhead.json
    python -m tests.bench.overhead_check --record   # write the recorded ratios

A plain text request (none of issue 36's or 37's features): what every agent turn pays.
Arms interleave request by request; the ratio is the median of ROUNDS rounds. `--check`
fails when a ratio grows by more than 15 % over the recorded one in a run and again in a second
run made to confirm it (runs on one machine differ by up to about 12 %)."""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from tests.bench.run import PROVIDERS, Clients, Processes, pct

RECORDED = Path(__file__).with_name("overhead.json")
GROWTH_ALLOWED = 1.15
ROUNDS = 7
PER_ROUND = 120


async def _round(clients: Clients, provider: str) -> dict[str, float]:
    arms = {
        "raw": clients.raw,
        "naive": clients.naive,
        "daemon": clients.daemon,
        "compat": clients.compat,
    }
    times: dict[str, list[float]] = {name: [] for name in arms}
    for _ in range(PER_ROUND):
        for name, call in arms.items():
            started = time.perf_counter()
            await call(provider)
            times[name].append((time.perf_counter() - started) * 1000)
    raw = pct(times["raw"], 50)
    return {name: pct(values, 50) - raw for name, values in times.items() if name != "raw"}


async def measure(procs: Processes) -> dict[str, Any]:
    out: dict[str, Any] = {}
    async with Clients(procs) as clients:
        for provider in PROVIDERS:
            for _ in range(30):  # warm every path
                await clients.raw(provider)
                await clients.naive(provider)
                await clients.daemon(provider)
                await clients.compat(provider)
            rounds = [await _round(clients, provider) for _ in range(ROUNDS)]
            added = {
                arm: round(statistics.median(r[arm] for r in rounds), 3)
                for arm in ("naive", "daemon", "compat")
            }
            out[provider] = {
                "added_p50_ms": added,
                "ratio_to_naive": {
                    arm: round(statistics.median(r[arm] / max(r["naive"], 1e-3) for r in rounds), 3)
                    for arm in ("daemon", "compat")
                },
            }
    return out


def _table(results: dict[str, Any], recorded: dict[str, Any] | None) -> str:
    lines = [
        "provider   arm     added p50 ms  naive's ms  ratio  recorded  limit",
    ]
    for provider, figures in results.items():
        for arm, ratio in figures["ratio_to_naive"].items():
            was = (recorded or {}).get(provider, {}).get("ratio_to_naive", {}).get(arm)
            limit = f"{was * GROWTH_ALLOWED:.3f}" if was else "-"
            lines.append(
                f"{provider:<10} {arm:<7} {figures['added_p50_ms'][arm]:>12.3f}"
                f"  {figures['added_p50_ms']['naive']:>10.3f}  {ratio:.3f}"
                f"  {was if was else '-':>8}  {limit}"
            )
    return "\n".join(lines)


def grown(results: dict[str, Any], recorded: dict[str, Any]) -> list[str]:
    """Each ratio that grew by more than GROWTH_ALLOWED over the recorded one."""
    return [
        f"{provider} {arm}: {ratio} > {was} x {GROWTH_ALLOWED}"
        for provider, figures in results.items()
        for arm, ratio in figures["ratio_to_naive"].items()
        if (was := recorded.get(provider, {}).get("ratio_to_naive", {}).get(arm))
        and ratio > was * GROWTH_ALLOWED
    ]


def _run() -> dict[str, Any]:
    procs = Processes()
    try:
        procs.start_daemon()
        procs.start_naive()
        return asyncio.run(measure(procs))
    finally:
        procs.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--record", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    recorded = json.loads(RECORDED.read_text()) if RECORDED.exists() else None
    results = _run()
    print(_table(results, recorded))
    if args.check and recorded is not None and grown(results, recorded):
        print("a ratio grew past its allowance: measuring again to confirm")
        results = _run()
        print(_table(results, recorded))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    if args.record:
        RECORDED.write_text(json.dumps(results, indent=2) + "\n")
    if args.check:
        if recorded is None:
            print(f"nothing recorded in {RECORDED}: run with --record", file=sys.stderr)
            return 1
        worse = grown(results, recorded)
        for line in worse:
            print(f"overhead grew: {line}", file=sys.stderr)
        return 1 if worse else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
