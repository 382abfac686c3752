"""The floor for a daemon on this stack: FastAPI, served by uvicorn with the daemon's server
settings (uvloop, httptools), relaying each `POST /v1/executions` to the fake upstream with one
pooled aiohttp session, and nothing else (no auth, no validation, no ledger, no events). What it
costs in memory and CPU is what the design card's libraries cost before any feature.

    python -m tests.bench.forwarder   (prints {"url": ...} once listening; upstreams and keys
                                       from ANTHROPIC_BASE_URL, OPENAI_BASE_URL and their keys)
"""

from __future__ import annotations

import os

import aiohttp
from fastapi import FastAPI, Request, Response

from tests.bench.hop import serve_on_loopback

app = FastAPI()
_session: list[aiohttp.ClientSession] = []


def _upstream(provider: str, body: dict[str, object]) -> tuple[str, dict[str, str], object]:
    if provider == "anthropic":
        url = os.environ["ANTHROPIC_BASE_URL"].rstrip("/") + "/v1/messages"
        headers = {
            "x-api-key": os.environ["ANTHROPIC_API_KEY"],
            "anthropic-version": "2023-06-01",
        }
        payload = {"model": "claude-sonnet-5-5", "max_tokens": 1024, **body}
    else:
        url = os.environ["OPENAI_BASE_URL"].rstrip("/") + "/responses"
        headers = {"authorization": f"Bearer {os.environ['OPENAI_API_KEY']}"}
        payload = {"model": "gpt-5.5", "max_output_tokens": 1024, "input": body["messages"]}
    return url, headers, payload


@app.post("/v1/executions")
async def execute(request: Request) -> Response:
    if not _session:
        _session.append(aiohttp.ClientSession())
    body = await request.json()
    provider = body.pop("provider", "anthropic")
    url, headers, payload = _upstream(provider, body)
    async with _session[0].post(url, json=payload, headers=headers) as answer:
        return Response(await answer.read(), answer.status, media_type="application/json")


if __name__ == "__main__":
    serve_on_loopback(app)
