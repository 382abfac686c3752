"""Distinctive keys and tokens go through every route of a real daemon at DEBUG logging and
never appear in a response, an event or a log line."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.sessions_fixtures import PROFILE_TOKEN, REFRESH_TOKEN, anthropic_profile, codex_chatgpt
from tests.support import spawn_daemon

DAEMON_TOKEN = "daemon-token-Zebra-Quartz-0042-distinct"
STORED_KEY = "sk-ant-api03-STORED-Walrus-Key-7781"
ENV_KEY = "sk-proj-ENVIRONMENT-Otter-Key-5519"
SECRETS = [
    DAEMON_TOKEN,
    STORED_KEY,
    ENV_KEY,
    PROFILE_TOKEN,
    REFRESH_TOKEN,
    "rt-distinctive-codex-refresh-Xy1",
]


def test_secrets_never_leave_the_daemon(isolated_home: Path) -> None:
    anthropic_profile(isolated_home / ".config" / "anthropic")
    codex_chatgpt(isolated_home / ".codex")
    daemon = spawn_daemon(
        "--log-level",
        "DEBUG",
        env={
            "KATA_PROVIDERS_TOKEN": DAEMON_TOKEN,
            "OPENAI_API_KEY": ENV_KEY,
            "ANTHROPIC_BASE_URL": "http://127.0.0.1:9",
            "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
        },
    )
    seen: list[str] = []
    try:
        with httpx.Client(
            base_url=daemon.url, headers={"Authorization": f"Bearer {DAEMON_TOKEN}"}, timeout=20
        ) as http:
            calls = [
                ("GET", "/v1/health", None),
                ("GET", "/v1/providers", None),
                ("PUT", "/v1/providers/anthropic/api-key", {"api_key": STORED_KEY}),
                ("PUT", "/v1/providers/anthropic/api-key", {"api_key": STORED_KEY, "verify": True}),
                ("PUT", "/v1/providers/anthropic/api-key", {"api_key": STORED_KEY + " space"}),
                (
                    "PUT",
                    "/v1/providers/anthropic/settings",
                    {"preferred_auth_mode": "token_session"},
                ),
                ("PUT", "/v1/settings", {"openai_chatgpt_backend": True}),
                ("POST", "/v1/providers/anthropic/check", None),
                ("POST", "/v1/providers/openai/check", None),
                ("GET", "/v1/providers/openai", None),
                ("POST", "/v1/executions", {"messages": [{"role": "user", "content": "hi"}]}),
                ("GET", "/v1/settings", None),
                ("GET", "/openapi.json", None),
                ("DELETE", "/v1/providers/anthropic/api-key", None),
                ("GET", f"/v1/health?token={DAEMON_TOKEN}", None),
            ]
            for method, path, body in calls:
                response = http.request(method, path, json=body)
                seen.append(response.text)
                seen.append(json.dumps(dict(response.headers)))
            with http.stream("GET", "/v1/events") as stream:
                for line in stream.iter_lines():
                    seen.append(line)
                    if line.startswith("data:"):
                        break
    finally:
        daemon.stop()
    logs = "".join(daemon.stderr)
    assert "credentials.json" in logs or "api key stored" in logs
    everything = "\n".join(seen) + logs
    for secret in SECRETS:
        assert secret not in everything, f"a secret leaked: {secret[:12]}…"
    assert '"level": "debug"' in logs
