"""A minimal HTTP/1.1 keep-alive client for the benchmarks' timed requests.

httpx spends 1.1 to 1.4 ms of the load generator's CPU on each request (measured here
against a trivial route: 1.4 to 1.7 ms a round trip against 0.28 ms with this client),
and the load generator also keeps the clock: that time would be counted as the API's.
The bare side's Temporal client does its work in Rust. A browser's HTTP stack is not
Python either, so the timed requests go through this instead: one connection per
simulated user, JSON bodies with a Content-Length, nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass
from typing import Any

IDLE_LIMIT = 4.0
"""Seconds after which an idle connection is replaced before use: uvicorn closes one
after 5 s of keep-alive, and a request sent as it closes would fail."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


class Http1Connection:
    """One keep-alive connection to `host:port`, reopened when idle or closed."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._last_used = 0.0

    async def post_json(self, path: str, payload: Any, headers: dict[str, str]) -> Answer:
        body = json.dumps(payload).encode()
        lines = [f"POST {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}", "", ""]
        request = "\r\n".join(lines).encode() + body
        fresh = self._streams is None or time.monotonic() - self._last_used > IDLE_LIMIT
        try:
            return await self._send(request, reopen=fresh)
        except (ConnectionError, asyncio.IncompleteReadError):
            if fresh:
                raise
            # The server closed a kept-alive connection; every request here carries an
            # Idempotency-Key, so sending it again cannot apply it twice.
            return await self._send(request, reopen=True)

    async def _send(self, request: bytes, *, reopen: bool) -> Answer:
        if reopen or self._streams is None:
            await self.close()
            self._streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self._streams
        writer.write(request)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        keep_alive = True
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                keep_alive = False
        body = await reader.readexactly(length)
        self._last_used = time.monotonic()
        if not keep_alive:
            await self.close()
        return Answer(status, body)

    async def close(self) -> None:
        if self._streams is not None:
            _, writer = self._streams
            self._streams = None
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()
