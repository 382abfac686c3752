"""The providers a user adds (`contracts/endpoints.py`, `service/providers/endpoint_list.py`):
what a spec may hold, what adding and removing decide, and that they survive a restart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from contracts.base import ProviderId
from contracts.endpoints import EndpointAdd, EndpointSpec
from contracts.errors import InvalidRequest
from service.providers.endpoint_list import MAX_USER_PROVIDERS, EndpointList
from service.providers.settings_store import PersistedSettings, SettingsStore

OLLAMA: dict[str, Any] = {
    "id": "ollama",
    "display_name": "Ollama on this machine",
    "wire": "openai-chat",
    "base_url": "http://127.0.0.1:11434/v1/",
    "auth": "none",
    "default_model": "llama3.2:latest",
}
AZURE: dict[str, Any] = {
    "id": "azure-prod",
    "display_name": "Azure (prod)",
    "wire": "openai-chat",
    "base_url": "https://res.openai.azure.com/openai/deployments/chat?api-version=2024-10-21",
    "headers": {"X-Team": "kata"},
}


def test_a_spec_holds_what_the_issue_lists_and_refuses_unknown_fields() -> None:
    spec = EndpointSpec.model_validate(OLLAMA)
    assert (spec.id, spec.wire, spec.auth.value) == ("ollama", "openai-chat", "none")
    with pytest.raises(ValidationError):
        EndpointSpec.model_validate({**OLLAMA, "api_base": "x"})
    added = EndpointAdd.model_validate({**AZURE, "api_key": "azure-key-123"})
    assert "azure-key-123" not in repr(added)
    assert "azure-key-123" not in added.model_dump_json()


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"id": "Ollama"}, "should match pattern"),
        ({"id": "o"}, "at least 2"),
        ({"id": "a" * 33}, "at most 32"),
        ({"id": "-ollama"}, "should match pattern"),
        ({"display_name": ""}, "at least 1"),
        ({"display_name": "bell\x07"}, "should match pattern"),
        ({"wire": "Gemini Wire"}, "should match pattern"),
        ({"auth": "oauth"}, "Input should be"),
        ({"headers": {"Authorization": "Bearer sk-x"}}, "set by the daemon"),
        ({"headers": {"api-key": "k"}}, "set by the daemon"),
        ({"headers": {"X-A": "1", "x-a": "2"}}, "given twice"),
        ({"headers": {"bad name": "1"}}, "not a header name"),
        ({"headers": {"X-A": "line\r\nX-Evil: 1"}}, "should match pattern"),
        ({"headers": {f"X-{n}": "1" for n in range(17)}}, "at most 16"),
        ({"base_url": "h" * 2049}, "at most 2048"),
        ({"allow_insecure": "true"}, "valid boolean"),
    ],
)
def test_a_spec_refuses_what_it_must_not_hold(change: dict[str, Any], says: str) -> None:
    with pytest.raises(ValidationError) as refused:
        EndpointSpec.model_validate({**OLLAMA, **change})
    assert says in str(refused.value)
    # A header value that might hold a secret is not repeated back.
    assert "sk-x" not in str(refused.value).split("input_value")[0]


def test_adding_normalises_the_url_and_says_where_it_points() -> None:
    settings = PersistedSettings()
    providers = EndpointList(settings)
    local = providers.add(EndpointSpec.model_validate(OLLAMA))
    assert local.spec.base_url == "http://127.0.0.1:11434/v1"
    assert (local.scope, local.insecure) == ("loopback", False)
    hosted = providers.add(EndpointSpec.model_validate(AZURE))
    assert hosted.scope == "public"
    assert list(settings.endpoints) == [ProviderId("ollama"), ProviderId("azure-prod")]


@pytest.mark.parametrize(
    ("spec", "status", "says"),
    [
        ({**OLLAMA, "id": "openai"}, 409, "built-in provider"),
        ({**OLLAMA, "base_url": "http://192.168.1.9:11434/v1"}, 422, "Plain http://"),
        ({**OLLAMA, "base_url": "https://user:pw@example.com/v1"}, 422, "user name or password"),
    ],
)
def test_adding_refuses_a_clash_or_a_bad_url(spec: dict[str, Any], status: int, says: str) -> None:
    settings = PersistedSettings()
    with pytest.raises(InvalidRequest) as refused:
        EndpointList(settings).add(EndpointSpec.model_validate(spec))
    assert refused.value.status == status
    assert says in refused.value.message
    assert settings.endpoints == {}


def test_an_id_is_added_once_and_the_number_is_bounded() -> None:
    settings = PersistedSettings()
    providers = EndpointList(settings)
    providers.add(EndpointSpec.model_validate(OLLAMA))
    with pytest.raises(InvalidRequest) as again:
        providers.add(EndpointSpec.model_validate({**OLLAMA, "display_name": "again"}))
    assert again.value.status == 409
    assert "kata-providers providers remove ollama" in again.value.remediation
    for n in range(MAX_USER_PROVIDERS - 1):
        providers.add(EndpointSpec.model_validate({**OLLAMA, "id": f"local-{n}"}))
    with pytest.raises(InvalidRequest) as full:
        providers.add(EndpointSpec.model_validate({**OLLAMA, "id": "one-more"}))
    assert full.value.status == 422
    assert len(settings.endpoints) == MAX_USER_PROVIDERS


def test_removing_forgets_an_added_provider_and_never_a_built_in_one() -> None:
    providers = EndpointList(PersistedSettings())
    providers.add(EndpointSpec.model_validate(OLLAMA))
    assert providers.remove(ProviderId("ollama")).display_name == "Ollama on this machine"
    assert providers.get(ProviderId("ollama")) is None
    with pytest.raises(InvalidRequest) as gone:
        providers.remove(ProviderId("ollama"))
    assert gone.value.status == 404
    with pytest.raises(InvalidRequest) as built_in:
        providers.remove(ProviderId.ANTHROPIC)
    assert built_in.value.status == 409


def test_added_providers_survive_a_restart(tmp_path: Path) -> None:
    store = SettingsStore(tmp_path)
    settings = PersistedSettings()
    EndpointList(settings).add(EndpointSpec.model_validate(AZURE))
    store.save(settings)
    loaded, problem = SettingsStore(tmp_path).load()
    assert problem is None
    assert list(loaded.endpoints) == [ProviderId("azure-prod")]
    spec = EndpointList(loaded).get(ProviderId("azure-prod"))
    assert spec is not None
    assert spec.headers == {"X-Team": "kata"}
    assert spec.base_url.endswith("?api-version=2024-10-21")


@pytest.mark.parametrize(
    ("key", "spec_id", "base_url"),
    [
        ("ollama", "other", "http://127.0.0.1:1/v1"),  # the key and the id disagree
        ("openai", "openai", "http://127.0.0.1:1/v1"),  # a built-in provider's id
        ("remote", "remote", "http://203.0.113.9/v1"),  # plain http off-machine, not allowed
        ("creds", "creds", "https://user:pw@example.com/v1"),  # a password in the URL
    ],
)
def test_a_file_holding_what_adding_refuses_is_set_aside(
    tmp_path: Path, key: str, spec_id: str, base_url: str
) -> None:
    # A hand edit: what POST /v1/providers refuses is refused from the file too.
    spec = {"id": spec_id, "display_name": "x", "wire": "openai-chat", "base_url": base_url}
    (tmp_path / "settings.json").write_text(json.dumps({"endpoints": {key: spec}}))
    loaded, problem = SettingsStore(tmp_path).load()
    assert problem is not None
    assert loaded.endpoints == {}
    assert list(tmp_path.glob("settings.json.corrupt-*"))
    assert "pw" not in problem.message
