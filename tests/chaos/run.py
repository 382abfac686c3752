"""The chaos run: the daemon (from source, or as built by `make dist`), supervised by the shell's
TypeScript client, in front of fakes that inject a seeded mix of faults, driven by waves of
executions, SDK clients and event subscribers while actors change limits, replace and delete
keys, cross budgets and `kill -9` the daemon. Prints a summary and exits 1 on any violation.

    python -m tests.chaos.run [--seconds 600] [--seed 1] [--daemon source|dist]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from adapters.fakes.chaos import SESSION_TOKEN_PREFIX
from adapters.specs import SPECS
from tests.bench.run import ROOT, cpu_s, fds, rss_mb
from tests.chaos import checks
from tests.chaos.load import MODELS, Daemon, Load
from tests.sessions_fixtures import anthropic_profile, write_private

KEYS = {"anthropic": "sk-ant-api03-chaos-key", "openai": "sk-proj-chaos-key"}
# The provider the actors add and remove: an endpoint speaking Chat Completions, served by the
# OpenAI fake with its key (as a company gateway in front of OpenAI would be).
SIDE = {
    "id": "side",
    "display_name": "Side gateway",
    "wire": "openai-chat",
    "api_key": KEYS["openai"],
    "default_model": MODELS["openai"],
}
USD_PER_TOKEN = 0.01  # prices set high, so "to the cent" means to the token
DAEMON_ENV = {
    "KATA_PROVIDERS_FIRST_TOKEN_TIMEOUT_S": "3",
    "KATA_PROVIDERS_IDLE_TIMEOUT_S": "1",
    "KATA_PROVIDERS_REQUEST_TIMEOUT_S": "20",
    "KATA_PROVIDERS_QUEUE_WAIT_S": "5",
    "KATA_PROVIDERS_LOG_LEVEL": "WARNING",
    "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
}


class Lines(threading.Thread):
    """Reads a child's JSON lines into a list (and calls `each` for every line)."""

    def __init__(self, stream: Any, each: Any = None) -> None:
        super().__init__(daemon=True)
        self.stream, self.each = stream, each
        self.lines: list[dict[str, Any]] = []
        self.start()

    def run(self) -> None:
        for raw in self.stream:
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            self.lines.append(line)
            if self.each is not None:
                self.each(line)


def session_change(home: Path, rng: random.Random, plan: dict[str, Any]) -> str:
    """The Anthropic CLI's profile changes under the daemon: refreshed to a new token, or to one
    the provider has revoked, or expired on disk with a refresh that cannot succeed."""
    plan["session"] += 1
    n = plan["session"]
    roll = rng.random()
    if roll < 0.5:
        n += n % 2  # an even token: live
        what, expires_in = "session refreshed", 3600.0
    elif roll < 0.75:
        n += 1 - n % 2  # an odd token: revoked upstream
        what, expires_in = "session revoked upstream", 3600.0
    else:
        what, expires_in = "session expired on disk", -60.0
    plan["session"] = n
    write_session(home, n, expires_in)
    return what


def write_session(home: Path, n: int, expires_in: float) -> None:
    path = anthropic_profile(home / ".config" / "anthropic", expires_in=expires_in, active=True)
    data = json.loads(path.read_text())
    data["access_token"] = f"{SESSION_TOKEN_PREFIX}{n}"
    tmp = path.with_suffix(".tmp")
    write_private(tmp, data)
    tmp.replace(path)


ROUTES = {"claude-else-gpt": ("anthropic", "openai"), "gpt-else-claude": ("openai", "anthropic")}


async def actors(load: Load, daemon: Daemon, rng: random.Random, plan: dict[str, Any]) -> None:
    """Change limits, replace and delete keys, cross budgets, and kill the daemon."""
    client = httpx.AsyncClient(timeout=10)
    start = time.monotonic()
    # The first and last windows see the steady fault mix alone, at the default settings.
    begin, quiet = plan["act_from"], plan["quiet_after"]
    next_at = {
        "limit": begin,
        "key": begin + 5,
        "budget": begin + 2,
        "session": begin + 1,
        "provider": begin + 3,
    }
    kills = list(plan["kills"])
    restored = False

    async def call(method: str, path: str, body: Any = None) -> Any:
        await daemon.ready.wait()
        headers = {"Authorization": f"Bearer {daemon.token}"}
        answer = await client.request(method, daemon.url + path, json=body, headers=headers)
        return answer.json() if answer.content else {"status": answer.status_code}

    try:
        while not load.stop.is_set():
            await asyncio.sleep(0.25)
            now = time.monotonic() - start
            provider = rng.choice(("anthropic", "openai"))
            try:
                if now >= quiet:
                    if not restored:
                        for name in KEYS:
                            limit = {"max_concurrent": 8}
                            await call("PUT", f"/v1/providers/{name}/settings", limit)
                        plan["session"] += 2 - plan["session"] % 2  # a live session again
                        write_session(plan["home"], plan["session"], 3600)
                        load.added.clear()
                        await call("DELETE", f"/v1/providers/{SIDE['id']}")
                        restored = True
                    continue
                if now < begin:
                    continue
                if kills and now >= kills[0]:
                    kills.pop(0)
                    daemon.ready.clear()
                    daemon.kills.append(time.monotonic())
                    os.kill(daemon.pid, signal.SIGKILL)
                    plan["done"]["kill -9"] += 1
                elif now >= next_at["limit"]:
                    next_at["limit"] = now + rng.uniform(3, 6)
                    limit = {"max_concurrent": rng.randint(1, 16)}
                    await call("PUT", f"/v1/providers/{provider}/settings", limit)
                    plan["done"]["max_concurrent changed"] += 1
                elif now >= next_at["key"]:
                    next_at["key"] = now + rng.uniform(10, 20)
                    if rng.random() < 0.5:
                        await call("DELETE", f"/v1/providers/{provider}/api-key")
                        await asyncio.sleep(rng.uniform(0.5, 2))
                        plan["done"]["key deleted"] += 1
                    await call(
                        "PUT", f"/v1/providers/{provider}/api-key", {"api_key": KEYS[provider]}
                    )
                    plan["done"]["key replaced"] += 1
                elif now >= next_at["provider"]:
                    # A provider a user adds and removes while waves name it: its executions
                    # in flight end cancelled, later ones are refused (unknown provider).
                    next_at["provider"] = now + rng.uniform(6, 12)
                    if load.added:
                        load.added.clear()
                        await call("DELETE", f"/v1/providers/{SIDE['id']}")
                        plan["done"]["provider removed"] += 1
                    else:
                        body = {**SIDE, "base_url": plan["openai_url"]}
                        answer = await call("POST", "/v1/providers", body)
                        if answer.get("id") == SIDE["id"] or answer.get("status") == 409:
                            load.added.append(SIDE["id"])
                            plan["done"]["provider added"] += 1
                            # A route that leads with it (left naming it once it is removed:
                            # then that target is passed over as unknown).
                            targets = [SIDE["id"], "anthropic"]
                            spec = {"targets": [{"provider": t} for t in targets]}
                            await call("PUT", "/v1/routes/side-first", spec)
                            load.routes["side-first"] = targets
                elif now >= next_at["session"]:
                    next_at["session"] = now + rng.uniform(4, 10)
                    plan["done"][session_change(plan["home"], rng, plan)] += 1
                elif now >= next_at["budget"]:
                    next_at["budget"] = now + rng.uniform(15, 25)
                    status = await call("GET", f"/v1/providers/{provider}")
                    spent = status["budget"]["spent_today_usd"]
                    episode = {"provider": provider, "spent": spent, "budget": spent + 0.5}
                    episode["set_at"] = time.time()
                    update = {"daily_budget_usd": episode["budget"]}
                    await call("PUT", f"/v1/providers/{provider}/settings", update)
                    await asyncio.sleep(4)
                    episode["raised_at"] = time.time()
                    await call(
                        "PUT", f"/v1/providers/{provider}/settings", {"daily_budget_usd": None}
                    )
                    plan["episodes"].append(episode)
                    plan["done"]["budget crossed"] += 1
            except (httpx.HTTPError, ValueError, KeyError):
                pass  # the daemon was being killed or restarted
    finally:
        await client.aclose()


async def sampler(
    load: Load, daemon: Daemon, samples: list[checks.Sample], governors: list[dict[str, Any]]
) -> None:
    """Each second: the daemon's RSS, descriptors and CPU, and its governors' state."""
    async with httpx.AsyncClient(timeout=2) as client:
        while not load.stop.is_set():
            try:
                pid = daemon.pid
                sample = checks.Sample(time.monotonic(), pid, rss_mb(pid), fds(pid), cpu_s(pid))
                samples.append(sample)
                headers = {"Authorization": f"Bearer {daemon.token}"}
                listing = await client.get(f"{daemon.url}/v1/providers", headers=headers)
                state = {p["id"]: p["governor"] for p in listing.json()["providers"]}
                governors.append({"at": sample.at, **state})
            except (OSError, IndexError, ValueError, KeyError, httpx.HTTPError):
                pass
            await asyncio.sleep(1.0)


async def governors_settle(daemon: Daemon) -> list[str]:
    """After the load: every governor back to nothing in flight and nothing queued."""
    async with httpx.AsyncClient(timeout=5) as client:
        for _ in range(40):
            await daemon.ready.wait()
            headers = {"Authorization": f"Bearer {daemon.token}"}
            listing = (await client.get(f"{daemon.url}/v1/providers", headers=headers)).json()
            busy = [
                f"{p['id']}: {p['governor']}"
                for p in listing["providers"]
                if p["governor"]["in_flight"] or p["governor"]["queued"]
            ]
            if not busy:
                return []
            await asyncio.sleep(0.25)
    return busy


async def drive(
    args: argparse.Namespace,
    home: Path,
    supervisor: subprocess.Popen[str],
    daemon: Daemon,
    openai_url: str,
) -> dict[str, Any]:
    rng = random.Random(args.seed)  # noqa: S311 - a reproducible run, not a secret
    load = Load(
        daemon,
        rng,
        float(DAEMON_ENV["KATA_PROVIDERS_QUEUE_WAIT_S"]),
        float(DAEMON_ENV["KATA_PROVIDERS_REQUEST_TIMEOUT_S"]),
    )
    await daemon.ready.wait()
    async with httpx.AsyncClient(timeout=10) as client:
        headers = {"Authorization": f"Bearer {daemon.token}"}
        for provider, key in KEYS.items():
            await client.put(
                f"{daemon.url}/v1/providers/{provider}/api-key",
                json={"api_key": key},
                headers=headers,
            )
        price = {
            "input_usd_per_mtok": USD_PER_TOKEN * 1e6,
            "output_usd_per_mtok": USD_PER_TOKEN * 1e6,
        }
        models = {spec.default_model for spec in SPECS.values()} | set(MODELS.values())
        answer = await client.put(
            f"{daemon.url}/v1/settings",
            json={"prices": dict.fromkeys(models, price)},
            headers=headers,
        )
        answer.raise_for_status()
        # Anthropic runs on the CLI profile's session, falling back to the key when it fails.
        mode = {"preferred_auth_mode": "token_session", "allow_api_key_fallback": True}
        answer = await client.put(
            f"{daemon.url}/v1/providers/anthropic/settings", json=mode, headers=headers
        )
        answer.raise_for_status()
        # Routes across both providers (persisted: they outlive a kill -9).
        for name, targets in ROUTES.items():
            spec = {"targets": [{"provider": provider} for provider in targets]}
            answer = await client.put(f"{daemon.url}/v1/routes/{name}", json=spec, headers=headers)
            answer.raise_for_status()
            load.routes[name] = list(targets)
    seconds = args.seconds
    window = min(60.0, seconds / 4)
    kills = (
        [seconds * f for f in (0.5,)] if seconds < 300 else [seconds * f for f in (0.3, 0.5, 0.7)]
    )
    plan: dict[str, Any] = {
        "kills": kills,
        "act_from": window + 2,
        "quiet_after": seconds - window - 6,
        "episodes": [],
        "session": 0,
        "home": home,
        "openai_url": openai_url,
        "done": dict.fromkeys(
            (
                "kill -9",
                "max_concurrent changed",
                "key replaced",
                "key deleted",
                "budget crossed",
                "session refreshed",
                "session revoked upstream",
                "session expired on disk",
                "provider added",
                "provider removed",
            ),
            0,
        ),
    }
    samples: list[checks.Sample] = []
    governors: list[dict[str, Any]] = []
    start = time.monotonic()
    tasks = [
        *(asyncio.create_task(load.waves(args.max_wave // 4)) for _ in range(4)),
        asyncio.create_task(load.sdk_clients()),
        asyncio.create_task(load.sdk_clients()),
        asyncio.create_task(load.subscriber(1)),
        asyncio.create_task(load.subscriber(2)),
        *([] if args.no_actors else [asyncio.create_task(actors(load, daemon, rng, plan))]),
        asyncio.create_task(sampler(load, daemon, samples, governors)),
    ]
    await asyncio.sleep(seconds)
    load.stop.set()
    end = time.monotonic()
    _, pending = await asyncio.wait(tasks, timeout=90)
    for task in pending:
        task.cancel()
    report = checks.Report()
    if pending:
        report.fail(f"{len(pending)} load tasks still running 90 s after the load stopped")
    busy = await governors_settle(daemon)
    if busy:
        report.fail("governors did not return to zero: " + "; ".join(busy))
    await load.close()
    assert supervisor.stdin is not None
    supervisor.stdin.close()  # the supervisor stops the daemon (SIGTERM: the ledger is flushed)
    supervisor.wait(30)
    return {
        "load": load,
        "report": report,
        "plan": plan,
        "samples": samples,
        "governors": governors,
        "start": start,
        "end": end,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos.run")
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--daemon", choices=("source", "dist"), default="source")
    parser.add_argument("--max-wave", type=int, default=32)
    parser.add_argument(
        "--no-actors", action="store_true", help="the fault mix alone: no kills, no changes"
    )
    parser.add_argument("--report", type=Path, default=ROOT / "artifacts" / "chaos.json")
    args = parser.parse_args(argv)
    home = Path(tempfile.mkdtemp(prefix="kata-chaos-"))
    write_session(home, 0, 3600)
    fakes_log = (home / "fakes.log").open("w")  # their tracebacks at shutdown, kept out of view
    fakes = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "adapters.fakes",
            "--report",
            "--chaos",
            str(args.seed),
            "--idle-s",
            "1",
            "--anthropic-key",
            KEYS["anthropic"],
            "--openai-key",
            KEYS["openai"],
        ],
        stdout=subprocess.PIPE,
        stderr=fakes_log,
        text=True,
        cwd=ROOT,
    )
    assert fakes.stdout is not None
    urls = json.loads(fakes.stdout.readline())
    served = Lines(fakes.stdout)
    command = (
        [str(ROOT / "dist/kata-providers/kata-providers")]
        if args.daemon == "dist"
        else [sys.executable, "-m", "service.process.cli"]
    )
    env = (
        {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("ANTHROPIC_", "OPENAI_", "KATA_PROVIDERS_"))
        }
        | DAEMON_ENV
        | {
            "HOME": str(home),
            "ANTHROPIC_CONFIG_DIR": str(home / ".config" / "anthropic"),
            "KATA_PROVIDERS_HOME": str(home / "data"),
            "ANTHROPIC_BASE_URL": urls["anthropic"],
            "OPENAI_BASE_URL": urls["openai"],
            "KATA_TS_CLIENT": str(ROOT / "clients/typescript"),
        }
    )
    loop = asyncio.new_event_loop()
    daemon = Daemon()

    def on_line(line: dict[str, Any]) -> None:
        def apply() -> None:
            if line["event"] == "ready":
                daemon.url, daemon.token, daemon.pid = line["url"], line["token"], line["pid"]
                daemon.generation += 1
                daemon.ready.set()
            elif line["event"] == "restart":
                daemon.ready.clear()

        loop.call_soon_threadsafe(apply)

    supervisor = subprocess.Popen(
        ["node", str(ROOT / "tests/chaos/supervise.mjs"), *command],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=ROOT,
    )
    Lines(supervisor.stdout, on_line)
    try:
        result = loop.run_until_complete(drive(args, home, supervisor, daemon, urls["openai"]))
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
        fakes.send_signal(signal.SIGTERM)
        fakes.wait(10)
        fakes_log.close()
        served.join(5)
        loop.close()
    return summarize(args, result, served.lines, home, daemon)


def summarize(
    args: argparse.Namespace, result: dict[str, Any], served: list[Any], home: Path, daemon: Daemon
) -> int:
    report: checks.Report = result["report"]
    load: Load = result["load"]
    records = load.outcomes
    checks.outcomes(report, records)
    checks.routes(report, records)
    checks.events(report, load.event_ids)
    checks.stranded(report, result["governors"], result["start"])
    requests = [line for line in served if line.get("event") == "request_end"]
    ledger_path = home / "data" / "ledger.sqlite3"
    totals = checks.ledger(report, ledger_path, requests, records, daemon, USD_PER_TOKEN)
    checks.budgets(report, ledger_path, result["plan"]["episodes"])
    memory = checks.flat(report, result["samples"], min(60.0, args.seconds / 4))
    rates = checks.rates(report, records, result["samples"], result["start"], result["end"])
    faults: dict[str, int] = next(
        (line["drawn"] for line in served if line.get("event") == "faults"), {}
    )
    by_outcome: dict[str, int] = {}
    for record in records:
        key = record.outcome if not record.outcome.startswith("broken") else "broken"
        by_outcome[key] = by_outcome.get(key, 0) + 1
    summary = {
        "seed": args.seed,
        "seconds": args.seconds,
        "daemon": args.daemon,
        "requests": len(records),
        "by_outcome": dict(sorted(by_outcome.items())),
        "upstream_requests": len(requests),
        "faults_injected": faults,
        "daemon_state_changes": result["plan"]["done"],
        "ledger": totals,
        "memory": memory,
        "rates": rates,
        "timeline": checks.timeline(records, result["governors"], result["start"], result["end"]),
        "violations": report.violations,
        "notes": report.notes,
    }
    print(table(summary))
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(summary, indent=2))
    return 1 if report.violations else 0


def table(summary: dict[str, Any]) -> str:
    lines = [
        f"chaos run: {summary['daemon']}, {summary['seconds']:g} s, seed {summary['seed']}",
        "",
    ]
    lines.append(f"requests by outcome ({summary['requests']}):")
    lines += [f"  {k:<32} {v:>6}" for k, v in summary["by_outcome"].items()]
    lines.append(f"injected upstream faults ({summary['upstream_requests']} upstream requests):")
    lines += [f"  {k:<32} {v:>6}" for k, v in sorted(summary["faults_injected"].items())]
    lines.append("daemon state changes:")
    lines += [f"  {k:<32} {v:>6}" for k, v in summary["daemon_state_changes"].items()]
    lines.append(f"ledger: {json.dumps(summary['ledger'])}")
    lines.append(f"memory: {json.dumps(summary['memory'])}")
    lines.append(f"rates: {json.dumps(summary['rates'])}")
    lines.append("every 10 s: served/s, mean effective limit (anthropic, openai), most queued")
    lines += [
        f"  {row['from_s']:>5}s {row['served_per_s']:>6} {row['limits']} {row['queued']}"
        for row in summary["timeline"]
    ]
    lines += [f"note: {n}" for n in summary["notes"]]
    lines.append(f"violations: {len(summary['violations'])}")
    lines += [f"  - {v}" for v in summary["violations"]]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
