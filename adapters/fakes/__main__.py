"""`python -m adapters.fakes`: both fake upstreams in one process, for benchmarks and manual
testing. Prints one JSON line with their URLs and the keys they accept, then serves until killed.
With `--report`, one more JSON line as each request ends (`"complete": false` when the client
closed the connection before the reply was whole); `--drip-s` paces every stream's events.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys

from adapters.anthropic.fake import AnthropicAuth, FakeAnthropic
from adapters.fakes.server import FakeRequest
from adapters.openai.fake import FakeOpenAI, OpenAIAuth


def _report(request: FakeRequest, complete: bool) -> None:
    line = {"event": "request_end", "method": request.method, "path": request.path}
    sys.stdout.write(json.dumps({**line, "complete": complete}) + "\n")
    sys.stdout.flush()


async def main(anthropic_key: str, openai_key: str, drip_s: float, report: bool) -> None:
    anthropic = FakeAnthropic(AnthropicAuth(api_keys={anthropic_key}))
    openai = FakeOpenAI(OpenAIAuth(api_keys={openai_key}))
    for fake in (anthropic, openai):
        fake.drip_s = drip_s
        fake.on_request_end = _report if report else None
    ready = {"anthropic": await anthropic.start(), "openai": await openai.start() + "/v1"}
    sys.stdout.write(json.dumps({"event": "ready", **ready}) + "\n")
    sys.stdout.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await anthropic.stop()
    await openai.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m adapters.fakes")
    parser.add_argument("--anthropic-key", default="sk-ant-api03-fake-key")
    parser.add_argument("--openai-key", default="sk-proj-fake-key")
    parser.add_argument("--drip-s", type=float, default=0.0, help="pause between stream events")
    parser.add_argument("--report", action="store_true", help="a JSON line as each request ends")
    args = parser.parse_args()
    asyncio.run(main(args.anthropic_key, args.openai_key, args.drip_s, args.report))
