"""The toy API on loopback: the key checked, the prompt echoed word by word."""

from __future__ import annotations

import json

from adapters.fakes.server import FakeRequest, FakeServer, Reply, Step
from adapters.fakes.sse import SSE_HEADERS


class FakeToy(FakeServer):
    """`FakeToy({key})`; every request it saw is kept in `requests`."""

    def __init__(self, keys: set[str]) -> None:
        super().__init__(self._handle)
        self.keys = keys

    async def _handle(self, request: FakeRequest, step: Step | None) -> Reply:
        if request.headers.get("x-toy-key") not in self.keys:
            return _problem(401, "auth", "That toy key is not one of ours.")
        if request.method == "GET" and request.path == "/models":
            return Reply.json(200, {"data": [{"id": "toy-1"}, {"id": "toy-2"}]})
        if request.method != "POST" or request.path != "/echo":
            return _problem(404, "not_found", f"No {request.method} {request.path} here.")
        body = request.json()
        if body.get("model") not in ("toy-1", "toy-2"):
            return _problem(404, "model", f"No model {body.get('model')!r}.")
        words = str(body.get("prompt", "")).split()
        usage = {"input_tokens": len(words), "output_tokens": len(words)}
        if not body.get("stream"):
            text = " ".join(words)
            return Reply.json(200, {"model": body["model"], "text": text, "usage": usage})
        lines = [json.dumps({"model": body["model"], "delta": f"{w} "}) for w in words]
        lines.append(json.dumps({"done": True, "model": body["model"], "usage": usage}))
        chunks = [f"data: {line}\n\n".encode() for line in lines]
        return Reply(200, list(SSE_HEADERS), chunks=chunks)


def _problem(status: int, kind: str, text: str) -> Reply:
    return Reply.json(status, {"problem": {"kind": kind, "text": text}})
