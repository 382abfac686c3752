"""The committed OpenAPI document matches the app, and reads well for generated clients."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from service.http.app import create_app
from service.process.config import DaemonConfig

SPEC = Path(__file__).resolve().parent.parent / "openapi" / "openapi.json"
METHODS = {"get", "put", "post", "delete", "patch"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return create_app(DaemonConfig()).openapi()


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def test_committed_spec_has_not_drifted(document: dict[str, Any]) -> None:
    committed = json.loads(SPEC.read_text())
    assert committed == document, "openapi/openapi.json is stale: run `make openapi`"


def test_the_cli_prints_the_same_document(document: dict[str, Any]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "service.process.cli", "openapi"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(result.stdout) == document


def test_operation_ids_are_readable_and_unique(document: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, _, operation in _operations(document)]
    assert len(ids) == len(set(ids))
    assert all(i[0].islower() and "_" not in i and "-" not in i for i in ids), ids
    assert {"getHealth", "listProviders", "getProvider", "streamEvents", "createExecution"} <= set(
        ids
    )


def test_every_operation_documents_the_edge_errors(document: dict[str, Any]) -> None:
    for path, method, operation in _operations(document):
        documented = set(operation["responses"])
        assert {"401", "403", "421", "500"} <= documented, (path, method)
        if "compatible" in operation.get("tags", []):
            # In the provider's shape; any other status the provider answers is `default`.
            shape = "AnthropicError" if path.startswith("/anthropic") else "OpenAIError"
            expected: dict[str, Any] = {"$ref": f"#/components/schemas/{shape}"}
            if path.startswith("/providers/{provider}/"):  # the shape of the wire it speaks
                either = ("AnthropicError", "OpenAIError")
                expected = {"anyOf": [{"$ref": f"#/components/schemas/{n}"} for n in either]}
            assert {"404", "405", "default"} <= documented, (path, method)
            for status in documented - {"200"}:
                schema = operation["responses"][status]["content"]["application/json"]["schema"]
                assert schema == expected, (path, status)
            continue
        for status in {s for s in documented if s == "default" or int(s) >= 300}:
            schema = operation["responses"][status]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (path, method, status)


def test_the_document_is_valid_openapi_as_the_version_it_declares() -> None:
    from openapi_spec_validator import validate

    committed = json.loads(SPEC.read_text())
    assert committed["openapi"] == "3.1.0"
    validate(committed)
    assert "itemSchema" not in SPEC.read_text(), "3.2 only: the document declares 3.1"


def test_every_bound_is_a_json_schema_keyword(document: dict[str, Any]) -> None:
    found: list[str] = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            found.extend(f"{where}.{key}" for key in ("ge", "le", "gt", "lt") if key in node)
            for key, value in node.items():
                walk(value, f"{where}.{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{where}[{index}]")

    walk(document, "")
    assert found == []
    update = document["components"]["schemas"]["ProviderSettingsUpdate"]["properties"]
    assert update["max_concurrent"]["anyOf"][0]["minimum"] == 1
    request = document["components"]["schemas"]["ExecutionRequest"]["properties"]
    assert request["timeout_s"]["anyOf"][0]["minimum"] == 0.001


def test_compatible_bodies_name_what_the_provider_requires(document: dict[str, Any]) -> None:
    paths = document["paths"]

    def required(path: str) -> list[str]:
        body = paths[path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        return body["required"]  # type: ignore[no-any-return]

    assert required("/anthropic/v1/messages") == ["model", "max_tokens", "messages"]
    assert required("/openai/v1/chat/completions") == ["model", "messages"]
    assert required("/openai/v1/responses") == ["model"]


def test_bearer_auth_is_declared_for_every_operation(document: dict[str, Any]) -> None:
    scheme = document["components"]["securitySchemes"]["bearerAuth"]
    assert scheme == {**scheme, "type": "http", "scheme": "bearer"}
    assert document["security"] == [{"bearerAuth": []}]


def test_event_streams_reference_their_event_unions(document: dict[str, Any]) -> None:
    paths = document["paths"]
    for path, method, union in (
        ("/v1/events", "get", "StateEvent"),
        ("/v1/executions", "post", "ExecutionStreamEvent"),
    ):
        stream = paths[path][method]["responses"]["200"]["content"]["text/event-stream"]
        # One event, as 3.2's itemSchema says it and Schemathesis reads a 3.1 stream's schema.
        data = stream["schema"]["properties"]["data"]
        assert data["contentMediaType"] == "application/json"
        assert data["contentSchema"] == {"$ref": f"#/components/schemas/{union}"}
    schemas = document["components"]["schemas"]
    state_types = {ref["$ref"].rsplit("/", 1)[-1] for ref in schemas["StateEvent"]["oneOf"]}
    assert {"SnapshotEvent", "ProviderStatusEvent", "ProviderErrorEvent"} <= state_types
    assert schemas["StateEvent"]["discriminator"]["propertyName"] == "type"
    stream_types = {
        ref["$ref"].rsplit("/", 1)[-1] for ref in schemas["ExecutionStreamEvent"]["oneOf"]
    }
    assert {"StartEvent", "TextDeltaEvent", "DoneEvent", "ErrorEvent", "RetryEvent"} <= stream_types
    for name in state_types | stream_types:
        assert name in schemas


def test_no_secret_shaped_examples(document: dict[str, Any]) -> None:
    text = json.dumps(document)
    for marker in ("sk-ant-", "sk-proj-", "Bearer ey"):
        assert marker not in text


async def test_real_events_match_the_documented_item_schema(
    document: dict[str, Any], config: Any
) -> None:
    import jsonschema_rs

    from tests.support import app_client, make_runtime

    def validator(union: str) -> Any:
        return jsonschema_rs.Draft202012Validator(
            {"$ref": f"#/components/schemas/{union}", "components": document["components"]},
        )

    runtime = make_runtime(config, watch=False)
    async with app_client(config, runtime) as http:
        await http.put(
            "/v1/settings",
            json={"default_provider": "openai"},
            headers={"Authorization": f"Bearer {config.token}"},
        )
        snapshot = await runtime.snapshot()
        events = [snapshot, *(entry.event for entry in runtime.bus.history())]
    state = validator("StateEvent")
    for event in events:
        state.validate(json.loads(event.model_dump_json()))
    assert len(events) >= 2


def test_the_url_pattern_means_the_same_to_a_generator_and_the_daemon() -> None:
    # Found by `make fuzz` (seed 77): `[^\s]` holds U+0085 for Python and the daemon's
    # validator, not for ECMA regex or the generator, which sent it as schema-valid.
    import re

    import pydantic

    from contracts.content import UrlSource

    document = json.loads(SPEC.read_text())
    pattern = document["components"]["schemas"]["UrlSource"]["properties"]["url"]["pattern"]
    assert "\\x85" in pattern
    for url in ("http://a\x85b", "http://a\u00a0b", "http://a/b"):
        stated = re.fullmatch(pattern, url) is not None
        try:
            UrlSource(type="url", url=url)
            taken = True
        except pydantic.ValidationError:
            taken = False
        assert stated == taken, url


def test_the_base_url_pattern_means_the_same_to_a_generator_and_the_daemon() -> None:
    # Found by `make fuzz` (seed 9091): POST /v1/providers with a base_url of "HTTP://\x85..."
    # was schema-valid to Schemathesis and refused by the daemon, as the image URL's was.
    import re

    import pydantic

    from contracts.endpoints import EndpointSpec

    document = json.loads(SPEC.read_text())
    pattern = document["components"]["schemas"]["EndpointSpec"]["properties"]["base_url"]
    assert "\\x85" in pattern["pattern"]
    for url in ("HTTP://\x855-x", "http://\u00a0b", "https://a.test/v1", "http://a\x85b/v1"):
        stated = re.search(pattern["pattern"], url) is not None
        try:
            EndpointSpec.model_validate(
                {"id": "added", "display_name": "A", "wire": "openai-responses", "base_url": url}
            )
            taken = True
        except pydantic.ValidationError as error:
            taken = "base_url" not in str(error)
        assert stated == taken, url
