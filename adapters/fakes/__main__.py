"""`python -m adapters.fakes`: both fake upstreams in one process, for benchmarks and manual
testing. Prints one JSON line with their URLs and the keys they accept, then serves until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys

from adapters.anthropic.fake import AnthropicAuth, FakeAnthropic
from adapters.openai.fake import FakeOpenAI, OpenAIAuth


async def main(anthropic_key: str, openai_key: str) -> None:
    anthropic = FakeAnthropic(AnthropicAuth(api_keys={anthropic_key}))
    openai = FakeOpenAI(OpenAIAuth(api_keys={openai_key}))
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
    args = parser.parse_args()
    asyncio.run(main(args.anthropic_key, args.openai_key))
