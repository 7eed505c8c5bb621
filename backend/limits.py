"""ASGI middleware that refuses request bodies over ``max_request_bytes`` with 413, and bodies that do not
arrive within ``body_timeout_seconds`` (between two chunks) with 408, before any route runs."""

from __future__ import annotations

import asyncio
import json
from typing import Any

Scope = dict[str, Any]


class BodySizeLimit:
    """Reads the body of every HTTP request under ``prefix`` up to ``limit`` bytes; a longer one gets 413.

    A body that stalls for ``timeout`` seconds (a client that declares ``Content-Length: 999999`` and sends
    5 bytes) gets 408, and the server closes the connection.
    """

    def __init__(self, app: Any, limit: int, prefix: str = "/", timeout: float = 15.0):
        self.app = app
        self.limit = limit
        self.prefix = prefix
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            try:
                if int(declared) > self.limit:
                    await self._refuse(send)
                    return
            except ValueError:
                pass
        chunks: list[bytes] = []
        size = 0
        while True:
            try:
                message = await asyncio.wait_for(receive(), self.timeout)
            except TimeoutError:
                await self._timed_out(send)
                return
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            size += len(body)
            if size > self.limit:
                await self._refuse(send)
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        whole = b"".join(chunks)
        delivered = False

        async def replay() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": whole, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Any) -> None:
        await _answer(send, 413, f"request body too large: the limit is {self.limit} bytes (NOETHER_MAX_REQUEST_BYTES)")

    async def _timed_out(self, send: Any) -> None:
        await _answer(send, 408, f"request body too slow: nothing arrived for {self.timeout:g} s "
                                 "(NOETHER_BODY_TIMEOUT_SECONDS)")


async def _answer(send: Any, status: int, detail: str) -> None:
    """A JSON error that also closes the connection (the rest of the body is never read)."""
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
