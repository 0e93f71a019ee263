"""Limits: the largest request body the API reads, and a rate limit on task submissions.

`BodySizeLimit` answers 413 `PayloadTooLarge` (the usual error envelope) for a body over
`api_max_body_bytes` (256 KiB by default), before any route or JSON parser sees it.

`submit_rate_limit` (a route dependency) is a token bucket per caller: `submit_burst`
submissions at once, then `submit_rate_per_minute`; beyond that 429 `RateLimited` with
`Retry-After` (seconds).
The buckets live in the API process's memory: behind N replicas a caller whose requests
are spread over all of them may submit up to N times the rate, and a restart forgets
them. That is the intent — a guard against runaway clients and scripts, not a quota; a
shared limit belongs in the ingress (or a shared store) in front of the replicas.
"""

from __future__ import annotations

import math

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import CurrentUser, app_state
from api.errors import PayloadTooLarge, TooManyRequests, error_response

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class BodySizeLimit:
    """Reads a request's body up to the limit, then hands it to the app; 413 above it.

    A declared `Content-Length` over the limit is refused before anything is read; a
    chunked body is counted as it arrives.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        pending: Message | None = {"type": "http.request", "body": bytes(body), "more_body": False}

        async def replay() -> Message:
            nonlocal pending
            if pending is not None:
                message, pending = pending, None
                return message
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = PayloadTooLarge(f"the request body is larger than {self.max_bytes} bytes")
        response = error_response(
            error.status, error.type, error.message, {"max_bytes": self.max_bytes}
        )
        await response(scope, receive, send)


async def submit_rate_limit(request: Request, user: CurrentUser) -> None:
    wait = app_state(request).submit_limiter.acquire(user.subject)
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        raise TooManyRequests(
            f"too many submissions; try again in {seconds} s", retry_after=seconds
        )
