"""`KATA_PROVIDERS_*` variables: every one the daemon reads is known (none is warned about as a
typo), each is validated, and the values reach the config."""

from __future__ import annotations

import pytest

from service.process.config import load_env_config, unknown_env

SET = {
    "TOKEN": "t" * 24,
    "HOME": "~/kata-data",
    "LOG_LEVEL": "info",
    "LOG_FORMAT": "json",
    "HOST": "127.0.0.1",
    "PORT": "8765",
    "MAX_RETRIES": "1",
    "REQUEST_TIMEOUT_S": "30",
    "FIRST_TOKEN_TIMEOUT_S": "20",
    "IDLE_TIMEOUT_S": "15",
    "QUEUE_WAIT_S": "5",
    "PROBE_INTERVAL_S": "60",
    "SHUTDOWN_GRACE_S": "3",
    "HEAD_TIMEOUT_S": "9",
    "MAX_CONNECTIONS": "100",
    "LEDGER": "false",
}


def test_every_variable_read_is_known_and_reaches_the_config() -> None:
    environ = {f"KATA_PROVIDERS_{name}": value for name, value in SET.items()}
    fields = load_env_config(environ)
    assert unknown_env(environ) == []
    assert fields["queue_wait_s"] == 5.0
    assert fields["port"] == 8765
    assert fields["ledger"] is False
    assert fields["log_level"] == "INFO"
    assert fields["token"] == "t" * 24
    assert str(fields["data_dir"]).endswith("kata-data")
    assert "~" not in str(fields["data_dir"])
    assert unknown_env({"KATA_PROVIDERS_QUEUE_WAIT": "5"}) == ["KATA_PROVIDERS_QUEUE_WAIT"]


@pytest.mark.parametrize(
    ("name", "value"), [("PORT", "70000"), ("QUEUE_WAIT_S", "0"), ("LEDGER", "maybe")]
)
def test_a_bad_value_is_refused_naming_it(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name.lower()):
        load_env_config({f"KATA_PROVIDERS_{name}": value})
