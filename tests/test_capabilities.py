"""The capability tables and the parameters we pass, checked against the installed SDKs'
signatures: an SDK upgrade that drops a parameter fails here, not in a user's request."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest

from adapters.anthropic.body import MESSAGES, build_params
from adapters.capabilities import CapabilityTable, used_parameters
from adapters.openai.chat import CHAT, chat_params
from adapters.openai.responses import RESPONSES, responses_params
from adapters.wires import Wires
from contracts.executions import ExecutionRequest


def _sdk_parameters(table: CapabilityTable) -> set[str]:
    from anthropic.resources.messages import AsyncMessages
    from openai.resources.chat.completions import AsyncCompletions
    from openai.resources.responses import AsyncResponses

    method: Any = {
        "messages.create": AsyncMessages.create,
        "responses.create": AsyncResponses.create,
        "chat.completions.create": AsyncCompletions.create,
    }[table.sdk_method]
    return set(inspect.signature(method).parameters) - {"self"}


# Every format of every built-in wire: a wire that adds a format has its table checked too.
TABLES = [spoken.capabilities for spoken in Wires().formats()]


def test_the_tables_are_the_wires_own() -> None:
    assert {id(table) for table in TABLES} == {id(MESSAGES), id(RESPONSES), id(CHAT)}


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.sdk_method)
def test_the_table_matches_the_installed_sdk(table: CapabilityTable) -> None:
    accepted = _sdk_parameters(table)
    for neutral, sdk in table.parameters.items():
        if sdk is None:
            # If the SDK accepts it again, the table (and so the 422) is out of date.
            assert neutral not in accepted, f"{table.sdk_method} accepts {neutral} again"
        else:
            assert sdk in accepted, f"{table.sdk_method} no longer accepts {sdk}"


def _richest_request(table: CapabilityTable) -> ExecutionRequest:
    """A request that uses every parameter the table says the provider accepts."""
    values: dict[str, Any] = {
        "temperature": 0.5,
        "stop": ["END"],
        "tools": [{"name": "lookup", "input_schema": {"type": "object", "properties": {}}}],
        "tool_choice": {"type": "tool", "name": "lookup"},
    }
    body = {
        "system": "be brief",
        "metadata": {"agent": "verify"},
        "messages": [
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "t", "signature": "s"},
                    {"type": "tool_call", "id": "c1", "name": "lookup", "arguments": {"q": 1}},
                ],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_call_id": "c1", "content": "ok"}],
            },
        ],
        **{name: value for name, value in values.items() if table.parameters.get(name)},
    }
    return ExecutionRequest.model_validate(body)


BUILDERS: list[tuple[CapabilityTable, Callable[[ExecutionRequest], dict[str, Any]]]] = [
    (MESSAGES, lambda r: build_params(r, "claude-x")),
    (RESPONSES, lambda r: responses_params(r, "gpt-x")),
    (RESPONSES, lambda r: responses_params(r, "gpt-x", codex=True)),
    (CHAT, lambda r: chat_params(r, "gpt-x")),
]


@pytest.mark.parametrize(("table", "build"), BUILDERS, ids=lambda b: getattr(b, "sdk_method", ""))
def test_every_parameter_we_pass_is_one_the_sdk_accepts(
    table: CapabilityTable, build: Callable[[ExecutionRequest], dict[str, Any]]
) -> None:
    request = _richest_request(table)
    supported = {name for name, sdk in table.parameters.items() if sdk}
    assert set(used_parameters(request)) == supported & {
        "temperature",
        "stop",
        "tools",
        "tool_choice",
    }
    passed = set(build(request))
    assert passed <= _sdk_parameters(table), passed - _sdk_parameters(table)
