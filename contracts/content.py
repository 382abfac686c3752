"""Content blocks: what a message holds (text, images, PDFs, tool calls and results) and what a
model returns (text, thinking with its provider's proof, tool calls). Media is judged here, up
front: its media type, that its bytes are what the type says, and its size."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Literal

from pydantic import Field, JsonValue

from contracts.base import Block, JsonBool, ProviderId, Request

TOOL_NAME = r"^[a-zA-Z0-9_-]{1,64}$"
# The strictest of the providers' documented bounds (the README lists them).
MAX_IMAGE_BYTES = 5 * 1024 * 1024  # Anthropic's per-image limit
MAX_DOCUMENT_BYTES = 32 * 1024 * 1024  # Anthropic's request limit (the body limit comes first)
MAX_IMAGES = 100  # Anthropic's per-request limit
MAX_DOCUMENTS = 100
MAX_URL = 2048
# How each media type's bytes begin (a mismatch is refused, as the providers refuse it).
MAGIC = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
    "application/pdf": (b"%PDF-",),
}
ImageMediaType = Literal["image/jpeg", "image/png", "image/gif", "image/webp"]
# Base64 as the document states it: its alphabet in groups of four, padded.
BASE64 = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"


def base64_length(decoded: int) -> int:
    """The longest base64 text of at most `decoded` bytes."""
    return -(-decoded // 3) * 4


def media_problem(block: ImageBlock | DocumentBlock) -> str | None:
    """Why a media block's bytes are refused, as the providers refuse them: not what its
    media type says (judged from its first bytes only). None when they are. The document states
    the rest (base64, its length)."""
    source = block.source
    if isinstance(source, UrlSource):
        return None
    try:
        head = base64.b64decode(source.data[:24], validate=True)
    except (binascii.Error, ValueError):
        return "the data is not valid base64"
    media_type = source.media_type
    if not head.startswith(MAGIC[media_type]) or (
        media_type == "image/webp" and head[8:12] != b"WEBP"
    ):
        return f"the data is not {media_type} (its first bytes say otherwise)"
    return None


class UrlSource(Block):
    """Media the provider fetches itself."""

    type: Literal["url"] = "url"
    # U+0085 named too: Python's `\s` holds it, ECMA's (and some generators') does not.
    url: str = Field(max_length=MAX_URL, pattern=r"^https?://[^\s\x85]+$")


class ImageData(Block):
    """An image, base64-encoded."""

    type: Literal["base64"] = "base64"
    media_type: ImageMediaType
    data: str = Field(
        min_length=4,
        max_length=base64_length(MAX_IMAGE_BYTES),
        pattern=BASE64,
        description="Base64; at most 5 MiB decoded, and what media_type says.",
    )


class DocumentData(Block):
    """A PDF, base64-encoded."""

    type: Literal["base64"] = "base64"
    media_type: Literal["application/pdf"]
    data: str = Field(
        min_length=4,
        max_length=base64_length(MAX_DOCUMENT_BYTES),
        pattern=BASE64,
        description="Base64; at most 32 MiB decoded, and a PDF.",
    )


class TextBlock(Block):
    """Plain text."""

    type: Literal["text"] = "text"
    text: str


class ImageBlock(Block):
    """An image in a user message (PNG, JPEG, GIF or WebP; inline or by URL)."""

    type: Literal["image"] = "image"
    source: Annotated[ImageData | UrlSource, Field(discriminator="type")]


class DocumentBlock(Block):
    """A PDF in a user message (inline or by URL)."""

    type: Literal["document"] = "document"
    source: Annotated[DocumentData | UrlSource, Field(discriminator="type")]
    title: str | None = Field(default=None, max_length=256)


class ThinkingBlock(Block):
    """Model reasoning, with where it came from and that provider's opaque proof: Anthropic's
    `signature`, or OpenAI's `encrypted_content` (with its reasoning item's id). It goes back
    verbatim only to the provider that made it (`adapters/handoff.py`)."""

    type: Literal["thinking"] = "thinking"
    thinking: str
    signature: str | None = None
    encrypted_content: str | None = None
    item_id: str | None = Field(default=None, max_length=256)
    provider: ProviderId | None = None
    model: str | None = Field(default=None, max_length=256)


class RedactedThinkingBlock(Block):
    """Reasoning Anthropic returned encrypted: kept and sent back as it came, to its provider."""

    type: Literal["redacted_thinking"] = "redacted_thinking"
    data: str
    provider: ProviderId | None = None
    model: str | None = Field(default=None, max_length=256)


class ToolCallBlock(Block):
    """The model asks for a tool to be run."""

    type: Literal["tool_call"] = "tool_call"
    id: str = Field(min_length=1, max_length=256)
    name: str = Field(pattern=TOOL_NAME)
    arguments: dict[str, JsonValue] = Field(default_factory=dict)


class ToolResultBlock(Block):
    """The result of a tool call, sent back to the model."""

    type: Literal["tool_result"] = "tool_result"
    tool_call_id: str = Field(min_length=1, max_length=256)
    content: str | list[TextBlock]
    is_error: JsonBool = False


ContentBlock = Annotated[
    TextBlock
    | ImageBlock
    | DocumentBlock
    | ThinkingBlock
    | RedactedThinkingBlock
    | ToolCallBlock
    | ToolResultBlock,
    Field(discriminator="type"),
]
MEDIA = (ImageBlock, DocumentBlock)


class Message(Request):
    """One turn of the conversation. Images and documents come in user turns (an assistant's
    are refused up front)."""

    role: Literal["user", "assistant"]
    content: (
        Annotated[str, Field(min_length=1)] | Annotated[list[ContentBlock], Field(min_length=1)]
    )
