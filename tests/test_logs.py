"""Log lines are JSON and never carry a secret."""

from __future__ import annotations

import io
import json
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.redaction import REDACTED
from service.process.logs import JsonFormatter, Redactor


@pytest.fixture
def capture() -> tuple[logging.Logger, io.StringIO, Redactor]:
    stream = io.StringIO()
    redactor = Redactor()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(redactor))
    logger = logging.getLogger("kata.test.logs")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger, stream, redactor


@pytest.mark.parametrize(
    "secret_text",
    [
        "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
        "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
        "Authorization: Bearer abcdefghijklmnopqrstuvwxyz012345",
        "x-api-key: my-very-secret-key-value",
        '{"access_token": "opaque-token-value-123456"}',
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    ],
)
def test_secret_shaped_strings_are_redacted(
    capture: tuple[logging.Logger, io.StringIO, Redactor], secret_text: str
) -> None:
    logger, stream, _ = capture
    logger.info("upstream said %s", secret_text, extra={"detail": secret_text})
    line = json.loads(stream.getvalue())
    secret_part = secret_text.split()[-1].strip('"}')
    assert secret_part not in stream.getvalue()
    assert REDACTED in line["msg"]
    assert REDACTED in line["detail"]


def test_known_secrets_are_redacted_whatever_their_shape(
    capture: tuple[logging.Logger, io.StringIO, Redactor],
) -> None:
    logger, stream, redactor = capture
    redactor.add("plain-daemon-token")
    logger.warning("token was plain-daemon-token in %s", "a message")
    assert "plain-daemon-token" not in stream.getvalue()


def test_exceptions_are_formatted_and_redacted(
    capture: tuple[logging.Logger, io.StringIO, Redactor],
) -> None:
    logger, stream, redactor = capture
    redactor.add("secret-in-exception")
    try:
        raise ValueError("bad secret-in-exception")
    except ValueError:
        logger.exception("failed")
    line = json.loads(stream.getvalue())
    assert "ValueError" in line["exc"]
    assert "secret-in-exception" not in stream.getvalue()


def test_ordinary_text_is_left_alone(capture: tuple[logging.Logger, io.StringIO, Redactor]) -> None:
    logger, stream, _ = capture
    logger.info("request", extra={"path": "/v1/providers/anthropic", "status": 200})
    line = json.loads(stream.getvalue())
    assert line["path"] == "/v1/providers/anthropic"
    assert line["status"] == 200
    assert line["level"] == "info"


def test_people_get_text_lines_with_the_same_redaction() -> None:
    from service.process.logs import TextFormatter

    stream = io.StringIO()
    redactor = Redactor()
    redactor.add("daemon-token-known-secret-42")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(TextFormatter(redactor))
    logger = logging.getLogger("kata.test.text")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.info(
        "key stored",
        extra={"provider": "openai", "detail": "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"},
    )
    logger.info("token daemon-token-known-secret-42 seen")
    first, second = stream.getvalue().splitlines()
    assert not first.startswith("{")
    assert first.endswith(" info    key stored  provider=openai detail=[REDACTED]")
    assert "daemon-token-known-secret-42" not in second


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_log_format_follows_the_terminal() -> None:
    from service.process.logs import use_text

    assert use_text("auto", _Tty())
    assert not use_text("auto", io.StringIO())
    assert use_text("text", io.StringIO())
    assert not use_text("json", _Tty())


SHAPES = st.sampled_from(
    [
        "sk-ant-api03-abcdefghijkl",
        "sk-proj-abcdefghijklmnopqrstu",
        "Bearer abcdefgh12345",
        "BEARER\tzyxwvuts9876",
        "api_key=hunter2hunter2",
        'X-Api-Key: "s3cr3tvalue"',
        "Authorization:tok3n-value",
        "refresh_token=rrrrrrrr",
        "eyJabcdefghijk.eyJabcdefghijk.abcdefghijklmno",
    ]
)


@given(st.lists(st.one_of(st.text(max_size=30), SHAPES), max_size=6).map("".join))
def test_the_quick_check_never_lets_a_credential_through(text: str) -> None:
    """`redact` skips its regex passes when no trigger word is present: the result is always the
    one the full passes give."""
    from adapters.redaction import PATTERNS, keep_prefix, redact

    full = text
    for pattern in PATTERNS:
        full = pattern.sub(keep_prefix, full)
    assert redact(text) == full
