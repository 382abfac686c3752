"""The fakes' HTTP/1.1: reading a request (sized or chunked, gzip allowed) and writing a reply
(sized or chunked, paced, stalled or reset as a scenario asks)."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

if TYPE_CHECKING:
    from adapters.fakes.server import Reply


@dataclass
class FakeRequest:
    """What the fake received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")


REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    408: "Request Timeout",
    409: "Conflict",
    413: "Payload Too Large",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
    529: "Overloaded",
}


async def read_request(reader: asyncio.StreamReader) -> FakeRequest | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    body = b""
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
        body = b"".join(parts)
    if headers.get("content-encoding") == "gzip":
        import gzip

        body = gzip.decompress(body)
    url = urlsplit(target)
    return FakeRequest(method, url.path, dict(parse_qsl(url.query)), headers, body)


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST, as a crashed upstream or a middlebox does."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def send_reply(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, reply: Reply
) -> bool:
    """Send one reply; False when the connection must not be reused."""
    if reply.delay_s:
        await asyncio.sleep(reply.delay_s)
    status_line = f"HTTP/1.1 {reply.status} {REASONS.get(reply.status, 'Status')}\r\n"
    headers = list(reply.headers)
    streaming = reply.chunks is not None
    headers.append(
        ("transfer-encoding", "chunked") if streaming else ("content-length", str(len(reply.body)))
    )
    head = status_line + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    writer.write(head.encode("latin-1"))
    if reply.stall_after_headers:
        # Headers, then nothing until the client gives up and closes (whole or streamed).
        await writer.drain()
        while await reader.read(1024):
            pass
        return False
    if not streaming:
        if reply.reset_after is not None:  # a whole answer cut mid-body
            writer.write(reply.body[: len(reply.body) // 2])
            await writer.drain()
            _reset(writer)
            return False
        writer.write(reply.body)
        await writer.drain()
        return True
    await writer.drain()
    for number, chunk in enumerate(reply.chunks or []):
        if reply.reset_after is not None and number >= reply.reset_after:
            _reset(writer)
            return False
        if reply.drip_s and number:
            await asyncio.sleep(reply.drip_s)
        if chunk:
            writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            await writer.drain()
        reply.sent = number + 1
    writer.write(b"0\r\n\r\n")
    await writer.drain()
    return True
