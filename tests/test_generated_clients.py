"""Clients generated from the committed OpenAPI document work: a Python client (generated with
openapi-python-client) runs real calls against a live demo daemon, and a TypeScript example
typed by openapi-typescript type-checks under `tsc --strict`."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import Daemon, spawn_daemon

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "openapi" / "openapi.json"

TS_EXAMPLE = """
import type { components } from "./api";

type Schemas = components["schemas"];

export async function demo(base: string, token: string): Promise<void> {
  const headers = { Authorization: `Bearer ${token}`, "Content-Type": "application/json" };
  const providers: Schemas["ProviderList"] = await (await fetch(`${base}/v1/providers`, { headers })).json();
  for (const provider of providers.providers) {
    const mode: Schemas["AuthMode"] | null | undefined = provider.resolved_mode;
    console.log(provider.id, mode, provider.health.state);
  }
  const models: Schemas["ModelList"] = await (await fetch(`${base}/v1/models`, { headers })).json();
  console.log(models.providers.map((group) => group.provenance));
  const request: Schemas["ExecutionRequest"] = {
    provider: "anthropic",
    messages: [{ role: "user", content: "Hello" }],
  };
  const response = await fetch(`${base}/v1/executions`, { method: "POST", headers, body: JSON.stringify(request) });
  if (!response.ok) {
    const error: Schemas["ErrorBody"] = await response.json();
    console.log(error.code, error.remediation, error.retry_after_s);
    return;
  }
  const result: Schemas["ExecutionResult"] = await response.json();
  for (const block of result.content) {
    if (block.type === "text") console.log(block.text);
    else if (block.type === "tool_call") console.log(block.name, block.arguments);
  }
}
"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    daemon = spawn_daemon(
        "--demo", env={"KATA_PROVIDERS_HOME": str(tmp_path_factory.mktemp("clients"))}
    )
    try:
        yield daemon
    finally:
        daemon.stop()


def test_a_generated_python_client_runs_the_calls(demo: Daemon, tmp_path: Path) -> None:
    generator = Path(sys.executable).with_name("openapi-python-client")
    package = tmp_path / "kata_client"
    subprocess.run(
        [
            str(generator),
            "generate",
            "--path",
            str(SPEC),
            "--output-path",
            str(package),
            "--meta",
            "none",
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=180,
    )
    sys.path.insert(0, str(tmp_path))
    try:
        client_module = importlib.import_module("kata_client")
        providers_api = importlib.import_module("kata_client.api.providers.list_providers")
        models_api = importlib.import_module("kata_client.api.models.list_models")
        executions_api = importlib.import_module("kata_client.api.executions.create_execution")
        models = importlib.import_module("kata_client.models")
        client = client_module.AuthenticatedClient(base_url=demo.url, token=demo.token)
        listing = providers_api.sync(client=client)
        # Provider ids are an open set of strings (user-added providers), not an enum.
        assert [p.id for p in listing.providers] == ["anthropic", "openai"]
        assert listing.providers[0].demo is True
        model_list = models_api.sync(client=client)
        assert all(group.models for group in model_list.providers)
        request = models.ExecutionRequest.from_dict(
            {"provider": "anthropic", "messages": [{"role": "user", "content": "generated"}]}
        )
        result = executions_api.sync(client=client, body=request)
        assert isinstance(result, models.ExecutionResult)
        assert result.content[-1].text == "Echo: generated"
        failing = models.ExecutionRequest.from_dict(
            {
                "provider": "openai",
                "model": "no-such-model",
                "messages": [{"role": "user", "content": "x"}],
            }
        )
        error = executions_api.sync(client=client, body=failing)
        assert isinstance(error, models.ErrorBody)
        assert error.code.value == "model_not_found"
        assert error.remediation
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m.startswith("kata_client")]:
            del sys.modules[name]


def test_a_typescript_example_type_checks(tmp_path: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        if os.environ.get("CI") == "true":
            pytest.fail("npm is missing: CI must type-check the generated TypeScript client")
        pytest.skip("npm is not installed")
    install = subprocess.run(
        [
            npm,
            "install",
            "--silent",
            "--no-audit",
            "--no-fund",
            "openapi-typescript@7",
            "typescript@5",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert install.returncode == 0, install.stderr[-2000:]
    bin_dir = tmp_path / "node_modules" / ".bin"
    generate = subprocess.run(
        [
            str(bin_dir / "openapi-typescript"),
            str(SPEC),
            "-o",
            "api.d.ts",
            "--default-non-nullable",
            "false",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert generate.returncode == 0, generate.stderr[-2000:]
    (tmp_path / "example.ts").write_text(TS_EXAMPLE)
    check = subprocess.run(
        [
            str(bin_dir / "tsc"),
            "--noEmit",
            "--strict",
            "--target",
            "es2022",
            "--lib",
            "es2022,dom",
            "--module",
            "es2022",
            "--moduleResolution",
            "bundler",
            "example.ts",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert check.returncode == 0, check.stdout[-3000:] + check.stderr[-2000:]
