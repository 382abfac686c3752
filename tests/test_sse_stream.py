"""The streaming response's end hook: it runs once however the response ends, including when the
client is gone before the source was first read (a generator never started runs no `finally`,
so a slot or a ledger row hung on one would be lost)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from starlette.types import Message

from service.http.sse_stream import EventStream


async def _never_disconnects() -> dict[str, Any]:
    await asyncio.sleep(60)
    return {"type": "http.disconnect"}


async def test_the_end_hook_runs_when_the_client_left_before_the_first_read() -> None:
    started, ended = [], []

    async def source() -> AsyncIterator[bytes]:
        started.append(True)
        yield b"data: x\n\n"

    async def gone(message: Message) -> None:
        raise OSError("the client is gone")

    async def on_end() -> None:
        ended.append(True)

    with pytest.raises(OSError, match="the client is gone"):
        await EventStream(source(), on_end=on_end)({"type": "http"}, _never_disconnects, gone)
    assert started == []  # the case the hook exists for
    assert ended == [True]


async def test_the_end_hook_runs_once_after_a_whole_stream() -> None:
    sent: list[Message] = []
    ended = []

    async def source() -> AsyncIterator[bytes]:
        yield b"one"
        yield b"two"

    async def send(message: Message) -> None:
        sent.append(message)

    async def on_end() -> None:
        ended.append(len(sent))

    headers = [(b"content-type", b"application/json")]
    stream = EventStream(source(), ping_s=None, status=201, headers=headers, on_end=on_end)
    await stream({"type": "http"}, _never_disconnects, send)
    assert sent[0] == {"type": "http.response.start", "status": 201, "headers": headers}
    assert b"".join(m.get("body", b"") for m in sent[1:]) == b"onetwo"
    assert ended == [len(sent)]  # once, after the last message
