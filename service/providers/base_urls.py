"""Where a user-added provider may point: the one place a base URL is judged (issue 29).

- `http` or `https` only, a host always, no user name or password in it (a key belongs in the
  key store, where it is never shown again, not in a URL that logs and the page would show), no
  fragment, no whitespace or control characters, at most 2,048 characters. A query is kept (an
  Azure deployment needs `api-version`) and sent with every request.
- Plain `http` only to this machine (loopback), or anywhere with an explicit `allow_insecure`: a
  key sent over plain HTTP on a network can be read by anyone on it.
- No query parameter named like a credential (`key`, `api_key`, `token`, `sig`…): the same
  reason; the key store is where a key goes.
- Every URL is classified `loopback`, `private` (RFC 1918, link-local, unique-local, and names
  under `.local`, `.internal`, `.lan`, `.home.arpa`) or `public`: the daemon reaches loopback and
  private addresses only where a user pointed it (a provider added with that URL, or a built-in
  one's base-URL variable), never on its own.
- The unspecified address (`0.0.0.0`, `::`) and multicast are refused: neither names one server.

`origin_of` is what keeps a stored key with its provider: the key store names a key by the id
and the scheme, host and port it was added with (`user_providers.key_entry`).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from contracts.endpoints import MAX_BASE_URL
from contracts.error_body import ErrorDetail
from contracts.errors import InvalidRequest

PRIVATE_SUFFIXES = (".local", ".internal", ".lan", ".home.arpa")
# Query parameters that carry a credential where endpoints take one in the URL.
CREDENTIAL_PARAMETERS = frozenset(
    {
        "key",
        "api_key",
        "apikey",
        "api-key",
        "token",
        "access_token",
        "auth",
        "password",
        "secret",
        "sig",
        "signature",
        "x-api-key",
    }
)
Scope = Literal["loopback", "private", "public"]


@dataclass(frozen=True)
class Endpoint:
    """A judged base URL: as it will be used (no trailing slash), where it points, and whether a
    key sent to it crosses a network in the clear."""

    url: str
    host: str
    scope: Scope
    insecure: bool


def _refuse(message: str, remediation: str) -> InvalidRequest:
    return InvalidRequest(
        message,
        remediation,
        status=422,
        details=[ErrorDetail(loc=["body", "base_url"], msg=message, type="base_url")],
    )


def scope_of(host: str) -> Scope:
    """Where a host is: this machine, a private network, or the internet."""
    name = host.strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return "loopback"
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return "private" if name.endswith(PRIVATE_SUFFIXES) else "public"
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return "loopback"
    if address.is_private or address.is_link_local:
        return "private"
    return "public"


def check_base_url(raw: str, *, allow_insecure: bool = False) -> Endpoint:
    """The base URL as the daemon will use it, or `invalid_request` (422) saying what to fix."""
    if len(raw) > MAX_BASE_URL:
        raise _refuse(f"The base URL is longer than {MAX_BASE_URL} characters.", "Shorten it.")
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in raw):
        raise _refuse(
            "The base URL holds whitespace or control characters.",
            "Remove them; percent-encode anything that must stay.",
        )
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise _refuse(
            f"The base URL cannot be read: {exc}.", "Write it as https://host/path."
        ) from None
    if parts.scheme not in ("http", "https"):
        raise _refuse(
            "The base URL must start with https:// (or http:// for this machine).",
            "Write it as https://host/path, e.g. https://openrouter.ai/api/v1.",
        )
    host = parts.hostname or ""
    if not host:
        raise _refuse("The base URL names no host.", "Write it as https://host/path.")
    if parts.username is not None or parts.password is not None:
        raise _refuse(
            "The base URL holds a user name or password.",
            "Remove them from the URL and add the key with the provider (it goes to the key "
            "store and is never shown again).",
        )
    if parts.fragment:
        raise _refuse("The base URL has a #fragment.", "Remove everything from the #.")
    named = {name.lower() for name, _ in parse_qsl(parts.query, keep_blank_values=True)}
    if named & CREDENTIAL_PARAMETERS:
        raise _refuse(
            "The base URL's query holds what looks like a credential "
            f"({', '.join(sorted(named & CREDENTIAL_PARAMETERS))}).",
            "Remove it from the URL and add the key with the provider (it goes to the key "
            "store and is never shown again).",
        )
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None and (literal.is_unspecified or literal.is_multicast):
        raise _refuse(
            f"{host} does not name one server.",
            "Use the server's own address, e.g. 127.0.0.1 for this machine.",
        )
    scope = scope_of(host)
    insecure = parts.scheme == "http" and scope != "loopback"
    if insecure and not allow_insecure:
        raise _refuse(
            "Plain http:// is allowed only to this machine: a key sent over it can be read by "
            "anyone on the network.",
            "Use https://, or add the provider with allow_insecure set if you accept that.",
        )
    netloc = f"[{host}]" if literal is not None and literal.version == 6 else host
    if port is not None:
        netloc = f"{netloc}:{port}"
    path = parts.path.rstrip("/")
    url = urlunsplit((parts.scheme, netloc, path, parts.query, ""))
    return Endpoint(url=url, host=host, scope=scope, insecure=insecure)


def origin_of(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) with the scheme's default port filled in."""
    parts = urlsplit(url)
    default = 443 if parts.scheme == "https" else 80
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default
