"""One more loopback HTTP hop and nothing else: a bare ASGI app on the daemon's own server
settings (uvicorn, uvloop, httptools) answering every request with a fixed JSON body the size
of an execution result. Its cost over raw HTTP is what any local daemon pays before doing any
work, and what the daemon cannot see from inside (the client's side of the hop, the kernel).

    python -m tests.bench.hop   (prints {"url": ...} once listening)
"""

from __future__ import annotations

import json
import socket
import sys
from typing import Any

import uvicorn

BODY = json.dumps({"id": "exe_" + "0" * 24, "content": [{"type": "text", "text": "x" * 600}]})


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": BODY.encode()})


def serve_on_loopback(app: Any) -> None:
    """Serve `app` on a free loopback port with the daemon's server settings (uvloop,
    httptools, TCP_NODELAY), printing {"url": ...} once listening."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    sys.stdout.write(json.dumps({"url": f"http://127.0.0.1:{sock.getsockname()[1]}"}) + "\n")
    sys.stdout.flush()
    config = uvicorn.Config(
        app, log_level="warning", loop="uvloop", http="httptools", access_log=False
    )
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    serve_on_loopback(app)
