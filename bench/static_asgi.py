"""The least a Python HTTP server can do for the go command: files under $STATIC_ROOT, kept in
memory, no routing, logging or checks. bench/bench_proxy.py times `go mod download` through it
beside nginx, on the same server as each go-vault variant, to show what that server itself costs.

    STATIC_ROOT=DIR uvicorn --app-dir bench static_asgi:app
    STATIC_ROOT=DIR granian --working-dir bench --interface asgi static_asgi:app
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Message = MutableMapping[str, Any]
_ROOT = os.environ.get("STATIC_ROOT", ".")
_files: dict[str, bytes] = {}


async def app(
    scope: Message,
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    if scope["type"] != "http":
        return
    path = scope["path"]
    data = _files.get(path)
    if data is None and ".." not in path.split("/"):
        try:
            with open(_ROOT + path, "rb") as f:
                data = _files[path] = f.read()
        except OSError:
            pass
    status, body = (200, data) if data is not None else (404, b"not found\n")
    headers = [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
