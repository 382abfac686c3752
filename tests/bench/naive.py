"""A naive FastAPI wrapper around the SDKs: the baseline any team would write in an afternoon
(one route, the SDK's non-streaming call, the SDK's model dumped as JSON; default uvicorn).

    python -m tests.bench.naive   (prints {"url": ...} once listening)
"""

from __future__ import annotations

import json
import os
import socket
import sys
from typing import Any

import uvicorn
from anthropic import AsyncAnthropic
from fastapi import FastAPI
from openai import AsyncOpenAI

app = FastAPI()
anthropic = AsyncAnthropic(max_retries=0)  # keys and base URLs from the environment
openai = AsyncOpenAI(max_retries=0)


@app.post("/v1/executions")
async def execute(body: dict[str, Any]) -> dict[str, Any]:
    if body["provider"] == "anthropic":
        message = await anthropic.messages.create(
            model=body.get("model", "claude-sonnet-5-5"),
            max_tokens=body.get("max_tokens", 1024),
            messages=body["messages"],
        )
        return message.model_dump()
    response = await openai.responses.create(
        model=body.get("model", "gpt-5.5"),
        max_output_tokens=body.get("max_tokens", 1024),
        input=body["messages"],
    )
    return response.model_dump()


if __name__ == "__main__":
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)  # connections wait in the backlog until uvicorn serves them
    sys.stdout.write(json.dumps({"url": f"http://127.0.0.1:{sock.getsockname()[1]}"}) + "\n")
    sys.stdout.flush()
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    server.run(sockets=[sock])
