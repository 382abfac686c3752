"""Schemathesis, every check on, over every route of the committed OpenAPI document (the daemon's
own and the provider-compatible ones), driven in-process over ASGI against the daemon in front of
the fake providers: positive and negative cases, the token sent. Every answer must match its
documented status, content type, headers and schema; no request may find a daemon bug (a 500);
every error is the taxonomy's, in the route's own shape.

A fixed seed and budget here; `make fuzz SECONDS=… SEED=…` runs many more (KATA_FUZZ_SEED,
KATA_FUZZ_EXAMPLES). `tests/test_hostile_fuzz.py` goes where Schemathesis does not."""

from __future__ import annotations

import dataclasses
import json
import os
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, seed, settings
from schemathesis.config import SchemathesisConfig
from starlette.types import Receive, Scope, Send

from service.http.app import create_app
from service.http.strict_json import UNENCODABLE
from service.process.config import DaemonConfig
from tests.support import (
    TEST_PORT,
    TEST_TOKEN,
    error_in_routes_shape,
    sandboxed_runtime,
    upstreams,
)

SPEC = Path(__file__).resolve().parents[1] / "openapi" / "openapi.json"
EXAMPLES = int(os.environ.get("KATA_FUZZ_EXAMPLES", "12"))
SEED = int(os.environ.get("KATA_FUZZ_SEED", "1"))
MODE = os.environ.get("KATA_FUZZ_MODE", "all")
BASE_URL = f"http://127.0.0.1:{TEST_PORT}"
PROVIDER_STATUSES = {502, 503, 504}
FLOAT_BOUNDS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}

# Every check runs. What the document cannot express is declared in the repository's
# schemathesis.toml, each with its reason: the one place, read here and by `st run` as a user
# runs it from the repository.
DECLARED = tomllib.loads((SPEC.parents[1] / "schemathesis.toml").read_text())
# Refusals of schema-valid values the daemon makes on purpose (see above), by field; and the
# parser's rules, which JSON Schema cannot state for free-form JSON (tool arguments, schemas):
# integers past ±(2^53 - 1), non-finite numbers, lone surrogates, repeated keys.
DOMAIN_REFUSALS = {("query", "cursor"), ("query", "since"), ("query", "until")}


class _Bound:
    """The ASGI app Schemathesis calls. Schemathesis runs the app's lifespan for each test
    item (one per operation) and ends it after: each gets a daemon built afresh by the
    fixture's `build`, on the same data folder (settings and the ledger carry over, as over a
    restart). Every request comes from this machine (the daemon refuses other peers)."""

    build: Any = None
    app: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            self.app = self.build()
        elif scope["type"] == "http":
            scope = {**scope, "client": ("127.0.0.1", 50000)}
        await self.app(scope, receive, send)


BOUND = _Bound()
schema = schemathesis.openapi.from_path(
    str(SPEC),
    config=SchemathesisConfig.from_dict(
        {
            **DECLARED,
            # Told as the document's scheme, so cases that leave the token out stay without it.
            "auth": {"openapi": {"bearerAuth": {"bearer": TEST_TOKEN}}},
            # `make fuzz` runs each mode of a seed in turn (tests/fuzz_run.py says why).
            "generation": {"mode": MODE},
        }
    ),
).exclude(operation_id="streamEvents")
schema.app = BOUND


@pytest.fixture(scope="module", autouse=True)
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    home = tmp_path_factory.mktemp("fuzz")
    config = DaemonConfig(token=TEST_TOKEN, port=TEST_PORT, data_dir=home / "data")
    config = dataclasses.replace(
        config, first_token_timeout_s=5, idle_timeout_s=5, request_timeout_s=10, queue_wait_s=5
    )
    with upstreams() as fakes:

        def build() -> Any:
            return create_app(config, sandboxed_runtime(config, home, fakes))

        BOUND.build = build
        yield


def valid_data_accepted(ctx: Any, response: Any, case: Any) -> bool | None:
    """Schema-valid requests are never refused by the daemon's own schema: no 422 listing
    schema details (a documented semantic refusal may still come, without them)."""
    meta = getattr(case, "meta", None)
    if meta is not None and meta.generation.mode.is_positive and response.status_code == 422:
        details = (response.json().get("details") or []) if _is_daemon(case) else []
        # Float boundaries (a minimum sent as 5e-324) can round differently in the generator
        # and the parser; "unsupported" is a parameter the chosen provider does not take.
        # "unknown_provider": an id of the right shape naming no provider the daemon knows
        # (ids are an open set: user-added providers).
        # "base_url": a URL of the right shape the URL rules refuse (plain http to another
        # machine, a user name in it: service/providers/base_urls.py); "reserved_header": a
        # header name the daemon sets itself, or one given twice in different cases.
        # "media_mismatch": an image's or a PDF's bytes that are not what its media_type says
        # (the document states the base64 and its length; JSON Schema cannot read bytes);
        # "media_in_assistant_turn": an image or a PDF in an assistant message (the message
        # schema is one for both roles).
        allowed = FLOAT_BOUNDS | {
            "unsupported",
            "unknown_provider",
            "base_url",
            "reserved_header",
            "media_mismatch",
            "media_in_assistant_turn",
            # "handoff": every message is another provider's thinking only, so nothing is
            # left to send (adapters/handoff.py).
            "handoff",
            # "unknown_route": a name of the right shape naming no route the daemon has (as
            # "unknown_provider", for a request's route or an agent's).
            "unknown_route",
            # "no_default_model": a provider added without a default model, asked with none
            # (the provider's state, not the request's shape).
            "no_default_model",
        }
        for detail in details:
            assert (
                detail["type"] in allowed
                or tuple(detail["loc"]) in DOMAIN_REFUSALS
                or detail["msg"] in UNENCODABLE
            ), response.text[:500]
    if meta is not None and meta.generation.mode.is_positive and response.status_code == 400:
        # Only the provider can judge a proof of thinking it gave (a signature, redacted data,
        # encrypted content): one made up is its own 400, passed on.
        judged = _is_daemon(case) and _carries_proof(case.body) and _proof_refused(response)
        assert not _is_daemon(case) or _unencodable(case.body) or judged, response.text[:300]
    return None


def _carries_proof(body: Any) -> bool:
    return any(
        isinstance(block, dict) and block.get("type") in ("thinking", "redacted_thinking")
        for message in (body.get("messages") or [] if isinstance(body, dict) else [])
        if isinstance(message, dict) and isinstance(message.get("content"), list)
        for block in message["content"]
    )


def _proof_refused(response: Any) -> bool:
    body = response.json()
    message = str(body.get("message", ""))
    return body.get("upstream_status") == 400 and any(
        proof in message for proof in ("`signature`", "`data`", "encrypted content")
    )


def _is_daemon(case: Any) -> bool:
    return "compatible" not in (case.operation.tags or [])


def _unencodable(body: Any) -> bool:
    """Not Unicode, so not valid JSON text: refusing it is right."""
    if not isinstance(body, dict | list | str):
        return False
    text = json.dumps(body, ensure_ascii=False)
    return any("\ud800" <= char <= "\udfff" for char in text)


def errors_in_the_routes_shape(ctx: Any, response: Any, case: Any) -> bool | None:
    """5xx only for provider outcomes; every error in the route's own shape, the taxonomy's
    code inside (a provider's own answer passed through has none: it is the provider's)."""
    status = response.status_code
    if status >= 500:
        assert status in PROVIDER_STATUSES, f"daemon bug: {status} {response.text[:300]}"
    if status < 400 or "json" not in response.headers.get("content-type", [""])[0]:
        return None
    kata = error_in_routes_shape(case.operation.path, response.json())
    if kata is not None and status >= 500:
        assert kata["code"] in ("provider_unavailable", "timeout", "unexpected_error")
    return None


@schema.parametrize()
@seed(SEED)
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_holds_against_generated_requests(case: Any) -> None:
    case.call_and_validate(
        base_url=BASE_URL,
        additional_checks=[errors_in_the_routes_shape, valid_data_accepted],
    )
