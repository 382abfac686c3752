"""Removing credentials from text that came from elsewhere (an upstream error message, an SDK
exception) before it can reach a response, an event or a log."""

from __future__ import annotations

import re
from collections.abc import Iterable

REDACTED = "[REDACTED]"

# Shapes that look like credentials whatever their origin; exact secrets are added by callers.
PATTERNS = [
    re.compile(r"sk-ant-[A-Za-z0-9_\-]{8,}"),
    re.compile(r"sk-[A-Za-z0-9_\-]{16,}"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=\-]{8,}"),
    re.compile(
        r"(?i)((?:x-api-key|api[_-]?key|authorization|token|access_token|refresh_token)"
        r"[\\\"']*\s*[:=]\s*[\\\"']*)[^\s\\\"'&,;}]{6,}"
    ),
    re.compile(r"eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}"),
]


# Every pattern above needs one of these (lowercased) in the text: a text without any of them
# has nothing to redact, and most texts (paths, ids, numbers) skip the five regex passes.
TRIGGERS = ("sk-", "bearer", "api", "authorization", "token", "eyj")
_TRIGGER = re.compile("|".join(re.escape(trigger) for trigger in TRIGGERS), re.IGNORECASE)


def may_hold_credential(text: str) -> bool:
    """False only when no pattern could match `text` (one search, not one a trigger)."""
    return _TRIGGER.search(text) is not None


def keep_prefix(match: re.Match[str]) -> str:
    """The replacement for a pattern match: its first group (a label such as `Bearer `) stays."""
    prefix = match.group(1) if match.re.groups else ""
    return f"{prefix}{REDACTED}"


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """`text` without the given secrets and without anything shaped like a credential."""
    for secret in secrets:
        if secret and len(secret) >= 6 and secret in text:
            text = text.replace(secret, REDACTED)
    if not may_hold_credential(text):
        return text
    for pattern in PATTERNS:
        text = pattern.sub(keep_prefix, text)
    return text
