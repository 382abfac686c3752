"""A token session's bearer token, read as the installed SDK reads it, for the direct path.

Importing the Anthropic SDK costs about 1.3 s of CPU and 45 MB here: a token session's (and demo
mode's) first request waited on it. Most sessions need nothing of the SDK but the token: an
`ANTHROPIC_AUTH_TOKEN`, or a `user_oauth` profile's access token read from its credentials file
(the SDK re-reads that file on every request, as daemons rotate it). Those go on the direct path
with `Authorization: Bearer` and the profile's `anthropic-workspace-id`, exactly as the SDK
would send them (tests/test_wire_differential.py checks it). The SDK still serves what needs
it: a token it must refresh (a profile with a `client_id` whose token is within the SDK's
advisory refresh window, or one the provider refused), an OIDC federation profile, and a
profile that names its own base URL.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adapters.anthropic.sessions import config_dir
from adapters.base import Credential
from adapters.private_files import UnsafeFileError, check_private

# anthropic.lib.credentials._constants.ADVISORY_REFRESH_SECONDS (a test checks it): inside it,
# the SDK refreshes a refreshable token before using it.
ADVISORY_REFRESH_S = 120
WORKSPACE_HEADER = "anthropic-workspace-id"
# anthropic.lib.credentials._constants.OAUTH_API_BETA_HEADER: the SDK adds it to every request
# a credential provider's token authenticates (it unlocks `Authorization: Bearer` on the API).
OAUTH_BETA = "oauth-2025-04-20"


@dataclass(frozen=True)
class Bearer:
    """The token to send and the headers the session adds; `refreshable`: the SDK can mint a
    new token for it (a profile with a `client_id`), so a refused one is worth its path."""

    token: str = field(repr=False)
    headers: dict[str, str] = field(default_factory=dict)
    refreshable: bool = False


def bearer(
    credential: Credential,
    environ: Mapping[str, str] = os.environ,
    home: Path | None = None,
    now: float | None = None,
) -> Bearer | None:
    """The bearer token for `credential` when the SDK would send it as it stands, else None
    (the SDK's path then reads, refreshes or refuses it)."""
    if credential.env_token is not None:
        value = environ.get(credential.env_token)
        return Bearer(value) if value else None
    if credential.profile is None:
        return None
    try:
        return _profile(credential.profile, environ, home or Path.home(), now or time.time())
    except (OSError, ValueError, UnsafeFileError):
        return None  # the SDK's path reports what is wrong, as it always has


def auth_headers(token: Bearer, sent: Mapping[str, str]) -> dict[str, str]:
    """What the SDK's token auth sets on a request whose other headers are `sent`: the bearer
    token, and `oauth-2025-04-20` added to whatever `anthropic-beta` flags are already there."""
    beta = next((value for name, value in sent.items() if name.lower() == "anthropic-beta"), "")
    flags = [flag.strip() for flag in beta.split(",") if flag.strip()]
    if OAUTH_BETA not in flags:
        flags.append(OAUTH_BETA)
    return {"authorization": f"Bearer {token.token}", "anthropic-beta": ",".join(flags)}


def _profile(name: str, environ: Mapping[str, str], home: Path, now: float) -> Bearer | None:
    folder = config_dir(environ, home)
    config = _object(folder / "configs" / f"{name}.json")
    auth = config.get("authentication")
    if not isinstance(auth, dict) or auth.get("type") != "user_oauth" or config.get("base_url"):
        return None
    override = auth.get("credentials_path")
    path = Path(str(override)).expanduser() if override else folder / "credentials" / f"{name}.json"
    check_private(path)
    credentials = _object(path)
    token = credentials.get("access_token")
    if not isinstance(token, str) or not token:
        return None
    expires_at = credentials.get("expires_at")
    fresh = isinstance(expires_at, int | float) and expires_at - now > ADVISORY_REFRESH_S
    if auth.get("client_id") and not fresh:
        return None  # refreshable: the SDK refreshes inside its advisory window
    workspace = config.get("workspace_id")
    headers = {WORKSPACE_HEADER: str(workspace)} if workspace else {}
    return Bearer(token, headers, refreshable=bool(auth.get("client_id")))


def _object(path: Path) -> dict[str, Any]:
    value = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(value, dict):
        raise ValueError(f"{path} is not a JSON object")
    return value
