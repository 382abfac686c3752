"""The one rule for a conversation handed between providers.

Thinking: a thinking block records where it came from (`provider`, `model`) and carries that
provider's opaque proof (Anthropic's `signature`, Anthropic's `redacted_thinking` data, OpenAI's
`encrypted_content` with its reasoning item's id). It goes back verbatim only to the provider
that made it, and only with its proof; anywhere else it is dropped, never sent as text (the
documented choice: a model's private reasoning put in another model's context would read as
something the assistant said, and its proof would be refused there). A block that records no
provider (from before provenance was recorded) is taken as its proof's maker's: a signature or
redacted data as Anthropic's, an `encrypted_content` as OpenAI's.

Tool calls: each API accepts its own shape of call id. An id the receiving API does not accept
is replaced by a deterministic one made from it (the same id always maps to the same
replacement), so a call and its result stay paired in either direction and a conversation can
go back and forth between providers any number of times.
"""

from __future__ import annotations

import hashlib
import re

from contracts.base import ProviderId
from contracts.content import RedactedThinkingBlock, ThinkingBlock
from contracts.error_body import ErrorDetail
from contracts.errors import InvalidRequest


def maker(block: ThinkingBlock | RedactedThinkingBlock) -> ProviderId | None:
    """The provider that made `block`: the one it records, else the one its proof belongs to."""
    if block.provider is not None:
        return block.provider
    if isinstance(block, RedactedThinkingBlock) or block.signature:
        return ProviderId.ANTHROPIC
    if block.encrypted_content:
        return ProviderId.OPENAI
    return None


def goes_back(block: ThinkingBlock | RedactedThinkingBlock, to: ProviderId) -> bool:
    """Whether `block` is sent to provider `to` (verbatim), or dropped."""
    return maker(block) == to


def call_id(raw: str, accepted: re.Pattern[str], prefix: str) -> str:
    """`raw` when the receiving API accepts it, else `prefix` and a digest of it (24 hex
    characters: what the same id always maps to)."""
    if accepted.fullmatch(raw):
        return raw
    return prefix + hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:24]


def nothing_left(provider: ProviderId) -> InvalidRequest:
    """Every message was another provider's thinking only: after the rule nothing is sent."""
    message = (
        f"Nothing is left to send to {provider.value}: every message holds only thinking that "
        "another provider made, which goes back only to its maker."
    )
    return InvalidRequest(
        message,
        "Add the conversation's text (or send it to the provider that made the thinking).",
        provider=provider,
        status=422,
        details=[ErrorDetail(loc=["body", "messages"], msg=message, type="handoff")],
    )
