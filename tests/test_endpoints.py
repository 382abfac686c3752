"""Where a user-added provider may point (`service/providers/base_urls.py`): each rule with the
URL that breaks it, the classification of hosts, and properties over generated URLs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.base import ProviderId
from contracts.endpoints import EndpointSpec
from contracts.errors import InvalidRequest
from service.providers.base_urls import check_base_url, scope_of
from service.providers.endpoint_list import key_entry


@pytest.mark.parametrize(
    ("raw", "url", "scope", "insecure"),
    [
        ("http://127.0.0.1:11434/v1/", "http://127.0.0.1:11434/v1", "loopback", False),
        ("http://localhost:1234/v1", "http://localhost:1234/v1", "loopback", False),
        ("http://[::1]:8000/v1", "http://[::1]:8000/v1", "loopback", False),
        ("https://openrouter.ai/api/v1", "https://openrouter.ai/api/v1", "public", False),
        (
            "https://res.openai.azure.com/openai/deployments/chat?api-version=2024-10-21",
            "https://res.openai.azure.com/openai/deployments/chat?api-version=2024-10-21",
            "public",
            False,
        ),
        ("https://gpu-box.local:8000/v1", "https://gpu-box.local:8000/v1", "private", False),
        ("https://10.0.0.7/v1", "https://10.0.0.7/v1", "private", False),
        ("HTTPS://Example.COM/V1", "https://example.com/V1", "public", False),
    ],
)
def test_accepted_urls_are_normalised_and_classified(
    raw: str, url: str, scope: str, insecure: bool
) -> None:
    endpoint = check_base_url(raw)
    assert (endpoint.url, endpoint.scope, endpoint.insecure) == (url, scope, insecure)


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("ftp://example.com/v1", "must start with https://"),
        ("file:///etc/passwd", "must start with https://"),
        ("https:///v1", "names no host"),
        ("https://user:secret@example.com/v1", "user name or password"),
        ("https://sk-live-key@example.com/v1", "user name or password"),
        ("https://example.com/v1#frag", "#fragment"),
        ("https://example.com/v 1", "whitespace or control"),
        ("https://example.com/v1\r\nX-Evil: 1", "whitespace or control"),
        ("http://192.168.1.20:8000/v1", "Plain http:// is allowed only to this machine"),
        ("http://example.com/v1", "Plain http:// is allowed only to this machine"),
        ("http://0.0.0.0:11434/v1", "does not name one server"),
        ("https://[ff02::1]/v1", "does not name one server"),
        ("https://example.com:99999/v1", "cannot be read"),
        ("https://example.com/" + "a" * 2100, "longer than 2048"),
        ("https://example.com/v1?key=AIza-secret", "looks like a credential (key)"),
        ("https://example.com/v1?api-version=1&Token=t", "looks like a credential (token)"),
    ],
)
def test_refused_urls_say_what_to_fix(raw: str, says: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        check_base_url(raw)
    assert says in refused.value.message
    assert refused.value.remediation
    assert refused.value.status == 422
    # Whatever was in the URL (a key in its user part included) is never repeated back.
    assert "secret" not in refused.value.message
    assert "sk-live" not in refused.value.message


def test_plain_http_on_a_network_needs_the_explicit_opt_in() -> None:
    endpoint = check_base_url("http://192.168.1.20:8000/v1", allow_insecure=True)
    assert (endpoint.scope, endpoint.insecure) == ("private", True)


@pytest.mark.parametrize(
    ("host", "scope"),
    [
        ("127.0.0.2", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("api.localhost", "loopback"),
        ("172.16.5.4", "private"),
        ("169.254.169.254", "private"),  # the cloud metadata address: never for a built-in
        ("fd00::1", "private"),
        ("fe80::1", "private"),
        ("router.home.arpa", "private"),
        ("build.internal", "private"),
        ("8.8.8.8", "public"),
        ("api.anthropic.com", "public"),
    ],
)
def test_hosts_are_classified(host: str, scope: str) -> None:
    assert scope_of(host) == scope


def _entry(base_url: str) -> str:
    fields = {"id": "router", "display_name": "R", "wire": "openai-chat", "base_url": base_url}
    spec = EndpointSpec.model_validate(fields)
    return key_entry(spec.id, spec)


def test_a_key_goes_only_to_the_origin_it_was_added_with() -> None:
    # The key store names a key by id and origin: another origin reads no key.
    assert _entry("https://example.com/v1") == _entry("https://example.com:443/other")
    assert _entry("https://example.com/v1") != _entry("http://example.com/v1")
    assert _entry("https://example.com/v1") != _entry("https://example.com:8443/v1")
    assert _entry("https://example.com/v1") != _entry("https://evil.example.com/v1")
    assert _entry("https://[::1]:8443/v1") == "router@https://[::1]:8443"
    assert key_entry(ProviderId.OPENAI, None) == "openai"


HOSTS = st.sampled_from(
    ["127.0.0.1", "localhost", "[::1]", "example.com", "10.1.2.3", "box.local", "0.0.0.0"]
)
URLS = st.builds(
    lambda scheme, userinfo, host, port, path, tail: (
        f"{scheme}://{userinfo}{host}{port}{path}{tail}"
    ),
    st.sampled_from(["http", "https", "ftp", "HTTPS"]),
    st.sampled_from(["", "u:p@", "key@"]),
    HOSTS,
    st.sampled_from(["", ":8080", ":0", ":70000"]),
    st.text(alphabet="abc/-_.%", max_size=12).map(lambda p: "/" + p),
    st.sampled_from(["", "/", "?api-version=1", "#x", " "]),
)


@given(URLS, st.booleans())
def test_what_is_accepted_is_clean_and_stable(raw: str, allow_insecure: bool) -> None:
    try:
        endpoint = check_base_url(raw, allow_insecure=allow_insecure)
    except InvalidRequest as refused:
        remediation = refused.remediation
        endpoint = None
    if endpoint is None:
        assert remediation  # every refusal says what to do
        return
    assert "@" not in endpoint.url.split("/", 3)[2]
    assert "#" not in endpoint.url
    assert " " not in endpoint.url
    assert endpoint.url.startswith(("http://", "https://"))
    if endpoint.url.startswith("http://"):
        assert endpoint.scope == "loopback" or (allow_insecure and endpoint.insecure)
    # Judging the judged URL again changes nothing.
    assert check_base_url(endpoint.url, allow_insecure=allow_insecure) == endpoint
