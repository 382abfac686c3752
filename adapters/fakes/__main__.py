"""`python -m adapters.fakes`: the built-in providers' fake upstreams (each its wire's fake) in
one process, for benchmarks and manual testing. Prints one JSON line with their URLs, then
serves until killed.
With `--report`, one more JSON line as each request ends (`"complete": false` when the client
closed the connection before the reply was whole, with its status, the caller's marker and the
usage its bytes declared); `--drip-s` paces every stream's events; `--chaos SEED` injects a
seeded mix of faults (429s, 5xx, resets, stalls, slow heads) and reports what it drew on exit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Callable, Mapping

from adapters.fakes.chaos import SESSION_TOKEN_PREFIX, FaultMix, Faults, served
from adapters.fakes.server import FakeRequest, FakeServer, Reply
from adapters.specs import SPECS
from adapters.wire import FakeCredentials
from adapters.wires import Wires
from contracts.base import ProviderId


def _write(line: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


def _reporter(provider: str) -> Callable[[FakeRequest, bool, Reply | None], None]:
    return lambda request, complete, reply: _write(served(provider, request, complete, reply))


async def main(
    keys: Mapping[ProviderId, str],
    drip_s: float,
    report: bool,
    chaos: int | None = None,
    idle_s: float = 1.0,
) -> None:
    tokens: frozenset[str] = frozenset()
    expired: frozenset[str] = frozenset()
    if chaos is not None:
        # Session tokens a chaos run's profiles hold: even ones are live, odd ones revoked.
        made = [f"{SESSION_TOKEN_PREFIX}{n}" for n in range(200)]
        tokens, expired = frozenset(made[::2]), frozenset(made[1::2])
    wires = Wires()
    fakes: dict[ProviderId, FakeServer] = {}
    ready: dict[str, str] = {}
    schedules: list[Faults] = []
    for spec in SPECS.values():
        wire = wires.get(spec.wire)
        fake = fakes[spec.id] = wire.fake(
            FakeCredentials(frozenset({keys[spec.id]}), tokens, expired)
        )
        fake.drip_s = drip_s
        fake.on_request_end = _reporter(spec.id.value) if report else None
        if chaos is not None:
            faults = Faults(chaos + len(schedules), FaultMix(idle_s=idle_s))
            fake.faults = faults
            schedules.append(faults)
        ready[spec.id.value] = await fake.start() + wire.sdk_path
    sys.stdout.write(json.dumps({"event": "ready", **ready}) + "\n")
    sys.stdout.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for fake in fakes.values():
        await fake.stop()
    if schedules:
        drawn: dict[str, int] = {}
        for faults in schedules:
            for kind, count in faults.drawn.items():
                drawn[kind] = drawn.get(kind, 0) + count
        _write({"event": "faults", "drawn": drawn})


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m adapters.fakes")
    parser.add_argument("--anthropic-key", default="sk-ant-api03-fake-key")
    parser.add_argument("--openai-key", default="sk-proj-fake-key")
    parser.add_argument("--drip-s", type=float, default=0.0, help="pause between stream events")
    parser.add_argument("--report", action="store_true", help="a JSON line as each request ends")
    parser.add_argument("--chaos", type=int, default=None, metavar="SEED", help="inject faults")
    parser.add_argument("--idle-s", type=float, default=1.0, help="the daemon's idle deadline")
    args = parser.parse_args()
    keys = {ProviderId.ANTHROPIC: args.anthropic_key, ProviderId.OPENAI: args.openai_key}
    asyncio.run(main(keys, args.drip_s, args.report, args.chaos, args.idle_s))
