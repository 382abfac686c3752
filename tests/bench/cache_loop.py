"""What prompt caching saves an agent loop: TURNS turns over one long system prompt (a spec every
specialist reads), against the fakes (which count a token a word and cache as the providers do:
prefixes, a 1024-token minimum, five minutes), with caching on and off, on `/v1/executions` and
through the compatible route with the official SDK (which caches only when the caller marks it).

    python -m tests.bench.cache_loop [--turns 20] [--spec-tokens 30000] [--json PATH]

Tokens and cost are the ledger's own figures (each execution's priced usage), summed per arm.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

import anthropic
import httpx

from service.process.config import DaemonConfig
from tests.support import ANTHROPIC_KEY, OPENAI_KEY, LiveServer, make_runtime, upstreams

TOKEN = "cache-bench-token-0123456789abcdef"
# The catalogue's models have no shipped price: these are Claude Sonnet's and GPT-5.5's list
# prices, to make cost visible (the ratio, not the dollars, is the figure).
PRICES = {
    "claude-sonnet-5-5": {
        "input_usd_per_mtok": 3.0,
        "output_usd_per_mtok": 15.0,
        "cache_read_usd_per_mtok": 0.3,
        "cache_write_usd_per_mtok": 3.75,
    }
}


def _loop(http: httpx.Client, provider: str, spec: str, turns: int, cache: Any) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    totals = {"input": 0, "cache_read": 0, "cache_write": 0, "output": 0, "cost_usd": 0.0}
    for turn in range(turns):
        messages.append({"role": "user", "content": f"Step {turn}: what next?"})
        body: dict[str, Any] = {"provider": provider, "system": spec, "messages": messages}
        if cache is not None:
            body["cache"] = cache
        result = http.post("/v1/executions", json=body).json()
        usage = result["usage"]
        totals["input"] += usage["input_tokens"]
        totals["cache_read"] += usage["cache_read_tokens"]
        totals["cache_write"] += usage["cache_write_tokens"]
        totals["output"] += usage["output_tokens"]
        totals["cost_usd"] += usage["cost_usd"] or 0.0
        messages.append({"role": "assistant", "content": result["content"]})
    return totals


def _compat_loop(url: str, spec: str, turns: int, marked: bool) -> dict[str, Any]:
    client = anthropic.Anthropic(base_url=f"{url}/anthropic", api_key=TOKEN, max_retries=0)
    messages: list[Any] = []
    totals = {"input": 0, "cache_read": 0, "cache_write": 0, "output": 0}
    for turn in range(turns):
        messages.append({"role": "user", "content": f"Step {turn}: what next?"})
        extra: Any = {"cache_control": {"type": "ephemeral"}} if marked else {}
        reply = client.messages.create(
            model="claude-sonnet-5-5", max_tokens=1024, system=spec, messages=messages, **extra
        )
        totals["input"] += reply.usage.input_tokens
        totals["cache_read"] += reply.usage.cache_read_input_tokens or 0
        totals["cache_write"] += reply.usage.cache_creation_input_tokens or 0
        totals["output"] += reply.usage.output_tokens
        messages.append({"role": "assistant", "content": reply.content})
    return totals


def run(turns: int, spec_tokens: int) -> dict[str, Any]:
    spec = " ".join(f"rule{n}" for n in range(spec_tokens))
    folder = Path(tempfile.mkdtemp(prefix="kata-cache-bench-"))
    config = DaemonConfig(token=TOKEN, port=0, data_dir=folder / "data")
    results: dict[str, Any] = {}
    with upstreams() as fakes:
        runtime = make_runtime(config, adapters=fakes.adapters(), watch=False)
        with LiveServer.start(config, runtime) as live, live.client() as http:
            http.put("/v1/providers/anthropic/api-key", json={"api_key": ANTHROPIC_KEY})
            http.put("/v1/providers/openai/api-key", json={"api_key": OPENAI_KEY})
            http.put("/v1/settings", json={"prices": PRICES})
            for provider in ("anthropic", "openai"):
                for name, cache in (("on", None), ("off", "off")):
                    # Each arm starts cold: a spec of its own, so no arm reads another's cache.
                    arm_spec = f"{name} {provider} {spec}"
                    results[f"{provider} executions, cache {name}"] = _loop(
                        http, provider, arm_spec, turns, cache
                    )
            for name, marked in (("marked", True), ("unmarked", False)):
                results[f"anthropic compatible route, {name}"] = _compat_loop(
                    live.url, f"compat {name} {spec}", turns, marked
                )
    return results


def table(results: dict[str, Any], turns: int, spec_tokens: int) -> str:
    lines = [
        f"{turns} turns over a {spec_tokens}-token system prompt (the fakes: a token a word)",
        "",
        "| arm | input (uncached) | read from cache | written to cache | output | cost USD |",
        "|---|---|---|---|---|---|",
    ]
    for arm, t in results.items():
        cost = f"{t['cost_usd']:.4f}" if "cost_usd" in t else "—"
        lines.append(
            f"| {arm} | {t['input']} | {t['cache_read']} | {t['cache_write']} | "
            f"{t['output']} | {cost} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.cache_loop")
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--spec-tokens", type=int, default=30_000)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    results = run(args.turns, args.spec_tokens)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2))
    print(table(results, args.turns, args.spec_tokens))
    return results


if __name__ == "__main__":
    main()
