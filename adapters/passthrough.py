"""Pass-through, for the provider-compatible routes: a client's own provider request goes upstream
as it came, with the daemon's credential in place of the client's, and the answer's bytes come
back unchanged. Only hop-by-hop and credential headers are dropped on the way in and out; usage
is read from the bytes as they pass (lines are scanned, nothing is held back)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from adapters.sse_reader import Fields
from contracts.base import AuthMode
from contracts.error_body import ErrorCode
from contracts.errors import ProviderError
from contracts.executions import Usage

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
# The client's credential for the daemon (its token) and anything else that authenticates: the
# daemon puts the provider credential in its place and never forwards these.
CREDENTIALS = frozenset({"authorization", "x-api-key", "api-key", "cookie", "x-goog-api-key"})
# Set by the HTTP client on each hop, not by the caller.
PER_HOP = frozenset({"host", "content-length", "accept-encoding", "expect"})
ANSWER_DROP = HOP_BY_HOP | frozenset(
    {"content-length", "content-encoding", "set-cookie", "date", "server", "alt-svc"}
)


def forwarded(
    headers: Iterable[tuple[str, str]], credentials: Iterable[str | None] = ()
) -> dict[str, str]:
    """The client's headers that go upstream: provider headers (`anthropic-version`,
    `anthropic-beta`, `OpenAI-Beta`, ...), content type, user agent; never hop-by-hop or
    credential headers (the usual ones, and `credentials`: the wire's own key headers)."""
    drop = HOP_BY_HOP | CREDENTIALS | PER_HOP | {name.lower() for name in credentials if name}
    return {name: value for name, value in headers if name.lower() not in drop}


def answered(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The upstream answer's headers that go back to the client (request ids, rate limits,
    `retry-after`, content type); the body is re-framed, so its length and coding are not."""
    return [(name, value) for name, value in headers if name.lower() not in ANSWER_DROP]


@dataclass(frozen=True)
class RelayRequest:
    """A client's request as it goes upstream (the path is relative to the provider's base
    URL, e.g. `/v1/messages` or `/responses`). `hide_usage_only`: the daemon asked for usage
    the client did not ask for, so the stream's usage-only event is read, then not passed on."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes | None
    hide_usage_only: bool = False


@dataclass
class RelayAnswer:
    """The upstream answer: status, headers, and the body as it arrives."""

    status: int
    headers: list[tuple[str, str]]
    body: AsyncIterator[bytes]

    async def read(self) -> bytes:
        """The whole body (error answers, and whole answers before they are passed on)."""
        return b"".join([chunk async for chunk in self.body])


class UsageScan:
    """Reads usage and the model as the answer's bytes pass: SSE `data:` lines, or a whole JSON
    body. Only lines that can carry them are parsed; a partial line is all that is kept.
    `feed` and `end` return the bytes to pass on: the same bytes, unless `hidden` names events
    the client did not ask for (then whole lines pass, and those events' lines do not)."""

    def __init__(
        self,
        read_event: Callable[[Any, UsageScan], None],
        streamed: bool,
        hidden: Callable[[Any], bool] | None = None,
    ) -> None:
        self._read_event = read_event
        self._streamed = streamed
        self._hidden = hidden if streamed else None
        self._rest = b""
        self._whole: list[bytes] = []
        self._skip_blank = False
        self._usage = Usage()
        self.reported = False  # whether the answer carried any token counts
        self.model: str | None = None

    @property
    def usage(self) -> Usage:
        """The counts read so far (zeros until the answer reports some: see `reported`)."""
        return self._usage

    @usage.setter
    def usage(self, value: Usage) -> None:
        self._usage = value
        self.reported = True

    def feed(self, chunk: bytes) -> bytes:
        if not self._streamed:
            self._whole.append(chunk)
            return chunk
        data = self._rest + chunk
        *lines, self._rest = data.split(b"\n")
        if self._hidden is not None:
            return self._passed(lines)
        for line in lines:
            if line.startswith(b"data:") and (b'"usage"' in line or self.model is None):
                self._parse(line[5:])
        return chunk

    def _passed(self, lines: list[bytes]) -> bytes:
        out: list[bytes] = []
        for line in lines:
            if self._skip_blank and line in (b"", b"\r"):
                self._skip_blank = False  # the hidden event's end
                continue
            self._skip_blank = False
            if line.startswith(b"data:") and (b'"usage"' in line or self.model is None):
                event = self._parse(line[5:])
                if event is not None and self._hidden is not None and self._hidden(event):
                    self._skip_blank = True
                    continue
            out.append(line + b"\n")
        return b"".join(out)

    def end(self) -> bytes:
        if self._streamed:
            rest, self._rest = self._rest, b""
            if self._hidden is not None:
                return self._passed([rest])[:-1] if rest else b""
            if rest.startswith(b"data:"):
                self._parse(rest[5:])
            return b""
        self._parse(b"".join(self._whole))
        self._whole = []
        return b""

    def _parse(self, raw: bytes) -> Fields | None:
        try:
            value = json.loads(raw)
        except ValueError:
            return None  # `[DONE]`, or not JSON: nothing to count
        if type(value) is dict:
            event = Fields(value)
            self._read_event(event, self)
            return event
        return None


def tags(body: Mapping[str, Any]) -> dict[str, str]:
    """Ledger tags from what the client sent: `metadata.agent` / `run` / `space` (OpenAI's
    metadata map), else Anthropic's `metadata.user_id` or OpenAI's `user` as the agent."""
    metadata = body.get("metadata")
    found: dict[str, str] = {}
    if isinstance(metadata, dict):
        for name in ("agent", "run", "space"):
            if isinstance(metadata.get(name), str):
                found[name] = metadata[name]
        if "agent" not in found and isinstance(metadata.get("user_id"), str):
            found["agent"] = metadata["user_id"]
    if "agent" not in found and isinstance(body.get("user"), str):
        found["agent"] = body["user"]
    return found


# The status each taxonomy code is sent with on a compatible route: the one for which the
# provider's SDK raises the matching exception (AuthenticationError, RateLimitError, ...).
COMPAT_STATUS = {
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.MISSING_AUTH: 401,
    ErrorCode.INVALID_AUTH: 401,
    ErrorCode.SESSION_EXPIRED: 401,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.BUDGET_EXCEEDED: 429,
    ErrorCode.MODEL_NOT_FOUND: 404,
    ErrorCode.PROVIDER_UNAVAILABLE: 503,
    ErrorCode.TIMEOUT: 504,
    ErrorCode.CANCELLED: 499,
}


def compat_status(code: ErrorCode, status: int) -> int:
    """The status to send a daemon error with on a compatible route."""
    if code in COMPAT_STATUS:
        return COMPAT_STATUS[code]
    if code is ErrorCode.INVALID_REQUEST:
        return status if 400 <= status < 500 and status != 424 else 400
    return status if status >= 500 else 500


async def mapped(
    body: AsyncIterator[bytes], boundary: Callable[[], AbstractContextManager[None]]
) -> AsyncIterator[bytes]:
    """The body as it comes, a transport failure mid-way mapped by the provider's `boundary`."""
    with boundary():
        async for chunk in body:
            yield chunk


async def once(raw: bytes) -> AsyncIterator[bytes]:
    """A body already read, as a body to pass on."""
    yield raw


def answer_error(
    status_error: Callable[..., ProviderError],
    status: int,
    body: Any,
    headers: Iterable[tuple[str, str]],
    mode: AuthMode,
) -> ProviderError:
    """An upstream error answer (its parsed body) in the taxonomy, read as the provider's
    `status_error` reads the direct path's error answers."""
    lowered = {name.lower(): value for name, value in headers}
    return status_error(status, body, lowered, mode=mode)
