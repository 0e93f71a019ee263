"""Notifications POSTed as signed JSON to one configured endpoint (chat bridges, HR tools).

The request:

    POST <url>
    Content-Type: application/json
    Idempotency-Key: <business key>
    X-Perfloop-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>

    {"id": <business key>, "type": <kind>, "created": <t>,
     "data": {"recipient_id", "recipient_email", "subject", "body", "task_id", "cycle_id"}}

The signature scheme is Stripe's: the timestamp is signed with the body so a captured
request cannot be replayed later, and receivers check it with `verify_signature` (several
`v1=` values may be sent while a secret is being rotated). The receiver answers 2xx when it
took the event, and may answer 409 for an Idempotency-Key it has already seen.

Delivery goes through the ledger (channel `webhook`) like e-mail, so it is at least once:
receivers drop duplicates by `Idempotency-Key`. 408, 425, 429, 5xx and network errors are
retried (after `Retry-After` when given); any other 4xx is a permanent failure.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from sqlalchemy.orm import Session

from activities.errors import (
    IntegrationConfigError,
    IntegrationError,
    IntegrationUnavailable,
    retry_after,
)
from activities.notify.base import OutgoingNotification
from activities.notify.ledger import DeliveryLedger, employee_email

SessionFactory = Callable[[], Session]

CHANNEL = "webhook"
SYSTEM = "webhook"
SIGNATURE_HEADER = "X-Perfloop-Signature"
DEFAULT_TOLERANCE_SECONDS = 300


def sign(secret: str | bytes, body: bytes, timestamp: int) -> str:
    """The `X-Perfloop-Signature` header value for `body` sent at `timestamp`."""
    return f"t={timestamp},v1={_digest(secret, timestamp, body)}"


def verify_signature(
    secret: str | bytes,
    header: str | None,
    body: bytes | str,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
    *,
    now: float | None = None,
) -> bool:
    """Whether `header` is a valid signature of `body` by `secret`, made within `tolerance`
    seconds of `now` (either side, to allow for clock skew). For receivers.

    Verify the raw request body, byte for byte, before parsing it.
    """
    if not header:
        return False
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t":
            try:
                timestamp = int(value)
            except ValueError:
                return False
        elif name == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        return False
    raw = body.encode() if isinstance(body, str) else body
    expected = _digest(secret, timestamp, raw)
    # Compare every candidate, so the time taken does not reveal which one matched.
    matches = [hmac.compare_digest(expected, candidate) for candidate in candidates]
    return any(matches)


def _digest(secret: str | bytes, timestamp: int, body: bytes) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


class WebhookNotifier:
    """`Notifier` that POSTs each notification to `url`, signed with `secret`.

    Pass a shared `client` to pool connections; its owner closes it. Without one, each
    send opens and closes its own client.
    """

    def __init__(
        self,
        url: str,
        secret: str,
        session_factory: SessionFactory,
        client: httpx.AsyncClient | None = None,
        *,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not secret:
            raise ValueError("a webhook needs a signing secret")
        self.url = url
        self._secret = secret
        self._session_factory = session_factory
        self._ledger = DeliveryLedger(session_factory, CHANNEL)
        self._client = client
        self._timeout = timeout
        self._clock = clock

    async def send(self, notification: OutgoingNotification) -> bool:
        key = notification.business_key
        if not await asyncio.to_thread(self._ledger.begin, key):
            return False
        try:
            email = notification.recipient_email or await asyncio.to_thread(
                employee_email, self._session_factory, notification.recipient_id
            )
            accepted = await self._post(notification, email)
        except IntegrationError as exc:
            await asyncio.to_thread(self._ledger.failed, key, str(exc))
            raise
        await asyncio.to_thread(self._ledger.sent, key)
        return accepted

    def payload(self, notification: OutgoingNotification, email: str | None, t: int) -> bytes:
        """The request body: compact, key-sorted JSON (what is signed is what is sent)."""
        document: dict[str, Any] = {
            "id": notification.business_key,
            "type": notification.kind,
            "created": t,
            "data": {
                "recipient_id": notification.recipient_id,
                "recipient_email": email,
                "subject": notification.subject,
                "body": notification.body,
                "task_id": notification.task_id,
                "cycle_id": notification.cycle_id,
            },
        }
        return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()

    async def _post(self, notification: OutgoingNotification, email: str | None) -> bool:
        """POST the notification; True when taken now, False when the receiver had it (409)."""
        t = int(self._clock())
        body = self.payload(notification, email, t)
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": notification.business_key,
            SIGNATURE_HEADER: sign(self._secret, body, t),
        }
        try:
            async with self._http() as client:
                response = await client.post(self.url, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise IntegrationUnavailable(SYSTEM, f"POST {self.url} timed out") from exc
        except httpx.TransportError as exc:
            raise IntegrationUnavailable(
                SYSTEM, f"POST {self.url} failed: {type(exc).__name__}"
            ) from exc
        status = response.status_code
        if 200 <= status < 300:
            return True
        if status == 409:
            return False
        if status in (408, 425, 429) or status >= 500:
            raise IntegrationUnavailable(
                SYSTEM,
                f"POST {self.url} answered {status}",
                next_retry_delay=retry_after(response.headers.get("Retry-After")),
            )
        raise IntegrationConfigError(SYSTEM, f"POST {self.url} answered {status}")

    @asynccontextmanager
    async def _http(self) -> AsyncIterator[httpx.AsyncClient]:
        if self._client is not None:
            yield self._client
            return
        async with httpx.AsyncClient(timeout=self._timeout) as client:
            yield client
