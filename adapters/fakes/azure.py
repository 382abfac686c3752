"""A fake Azure OpenAI resource on loopback, answering Chat Completions on a deployment's path as
Azure does: `POST /openai/deployments/{deployment}/chat/completions?api-version=…` with the key
in an `api-key` header (a bearer token is not a key here). What differs from OpenAI's own API:
- the deployment in the path chooses the model; the body's `model` is ignored, and answers name
  the deployment's underlying model (`gpt-4o-2024-11-20`);
- no `api-version` query: 404 `{"error": {"code": "404", "message": "Resource not found"}}`;
- a wrong or missing key: 401 `{"error": {"code": "401", "message": "Access denied due to
  invalid subscription key or wrong API endpoint. …"}}`; an unknown deployment: 404 with
  `"code": "DeploymentNotFound"` (both without OpenAI's `type` and `param`);
- a stream opens with a chunk whose `choices` is empty and which carries
  `prompt_filter_results`, and every later choice carries `content_filter_results`; usage comes
  as a last chunk only when `stream_options.include_usage` asks for it;
- there is no OpenAI-shaped model list on a deployment's path (404)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from adapters.fakes.server import FakeRequest, FakeServer, Reply, Step, scripted
from adapters.fakes.sse import SSE_HEADERS, event, new_id
from adapters.openai.fake_chat import chat_completion, chat_stream, plan_chat

PREFIX = "/openai/deployments/"
DENIED = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a "
    "valid key for an active subscription and use a correct regional API endpoint for your "
    "resource."
)
NO_DEPLOYMENT = (
    "The API deployment for this resource does not exist. If you created the deployment within "
    "the last 5 minutes, please wait a moment and try again."
)
FILTERED = {
    name: {"filtered": False, "severity": "safe"}
    for name in ("hate", "self_harm", "sexual", "violence")
}


def azure_error(status: int, code: str, message: str) -> Reply:
    return Reply.json(
        status,
        {"error": {"code": code, "message": message}},
        [("apim-request-id", new_id("")), ("x-ms-region", "Sweden Central")],
    )


@dataclass
class AzureResource:
    """The resource's keys and its deployments (deployment name → underlying model)."""

    keys: set[str] = field(default_factory=set)
    deployments: dict[str, str] = field(
        default_factory=lambda: {"chat": "gpt-4o-2024-11-20", "mini": "gpt-4o-mini-2024-07-18"}
    )


class FakeAzure(FakeServer):
    """`FakeAzure(AzureResource(keys={…})).start()`; a deployment's base URL is
    `.url + "/openai/deployments/<name>"`, with `api-version` in the query."""

    def __init__(self, resource: AzureResource | None = None) -> None:
        super().__init__(self._handle)
        self.resource = resource or AzureResource()

    async def _handle(self, request: FakeRequest, step: Step | None) -> Reply:
        if request.headers.get("api-key", "") not in self.resource.keys:
            return azure_error(401, "401", DENIED)
        if not request.query.get("api-version"):
            return azure_error(404, "404", "Resource not found")
        if step is not None and step.status is not None and step.status != 200:
            message = step.body if isinstance(step.body, str) else "Scripted failure."
            return scripted(azure_error(step.status, str(step.status), message), step)
        deployment, _, rest = request.path.removeprefix(PREFIX).partition("/")
        if not request.path.startswith(PREFIX) or rest != "chat/completions":
            return azure_error(404, "404", "Resource not found")
        model = self.resource.deployments.get(deployment)
        if model is None:
            return azure_error(404, "DeploymentNotFound", NO_DEPLOYMENT)
        if request.method != "POST":
            return azure_error(405, "405", "Method not allowed")
        try:
            body = request.json()
        except ValueError:
            return azure_error(400, "400", "Invalid JSON in the request body.")
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return azure_error(400, "400", "'messages' is a required property")
        return scripted(self._reply(model, body), step)

    def _reply(self, model: str, body: dict[str, Any]) -> Reply:
        plan = plan_chat(body)
        headers = [("apim-request-id", new_id("")), ("x-ms-region", "Sweden Central")]
        if not body.get("stream"):
            answer = chat_completion(model, plan)
            answer["prompt_filter_results"] = [
                {"prompt_index": 0, "content_filter_results": FILTERED}
            ]
            for choice in answer["choices"]:
                choice["content_filter_results"] = FILTERED
            return Reply.json(200, answer, headers)
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        opening = event(
            None,
            {
                "choices": [],
                "created": 0,
                "id": "",
                "model": "",
                "object": "",
                "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": FILTERED}],
            },
        )
        return Reply(
            200,
            [*SSE_HEADERS, *headers],
            chunks=[opening, *(_filtered(c) for c in chat_stream(model, plan, include_usage))],
        )


def _filtered(chunk: bytes) -> bytes:
    """A chunk of OpenAI's shape as Azure sends it: each choice with its filter results."""
    if not chunk.startswith(b"data: {"):
        return chunk
    data = json.loads(chunk.removeprefix(b"data: "))
    for choice in data.get("choices", []):
        choice["content_filter_results"] = FILTERED if choice["delta"].get("content") else {}
    data["created"] = int(time.time())
    return event(None, data)
