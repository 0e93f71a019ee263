"""HMAC-signed requests: how machine callers (project tools) authenticate.

The scheme is the one perfloop's own outgoing webhooks use (`activities.notify.webhook`),
Stripe's:

    X-Perfloop-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>

Several `v1=` values may be sent while a secret is being rotated. The signature is
checked over the raw body, byte for byte, before anything parses it; the timestamp must
be within `progress_webhook_tolerance_seconds` of now (either side), so a captured
request cannot be replayed later (and within the window, the event id makes a replay a
no-op). Every refusal is a 401 with its own `type`; nothing is read or stored before the
signature holds. The secret comes from settings (`PERFLOOP_PROGRESS_WEBHOOK_SECRET`) and
is never logged or echoed.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from http import HTTPStatus

from fastapi import Request

from api.errors import ApiError

SIGNATURE_HEADER = "X-Perfloop-Signature"
CHALLENGE = {"WWW-Authenticate": f'HMAC-SHA256 realm="perfloop", header="{SIGNATURE_HEADER}"'}


@dataclass(frozen=True)
class SignedRequest:
    """A request whose body carried a valid signature."""

    permission: str
    body: bytes
    timestamp: int


class BadSignature(ApiError):
    status = HTTPStatus.UNAUTHORIZED
    type = "BadSignature"

    def __init__(self, message: str, *, type: str | None = None) -> None:
        super().__init__(message, type=type, headers=CHALLENGE)


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The signature header value for `body` at `timestamp` (for senders and tests)."""
    return f"t={timestamp},v1={_digest(secret, timestamp, body)}"


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def _parse(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise BadSignature(
                    f"{SIGNATURE_HEADER}: t must be unix seconds", type="MalformedSignature"
                ) from None
        elif name == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        raise BadSignature(
            f"{SIGNATURE_HEADER} must be t=<unix seconds>,v1=<hex HMAC-SHA256>",
            type="MalformedSignature",
        )
    return timestamp, candidates


def check_signature(
    secret: str, header: str | None, body: bytes, *, tolerance: int, now: float
) -> int:
    """The signed timestamp, or a 401 saying what is wrong (missing, malformed, stale,
    not matching)."""
    if not header:
        raise BadSignature(f"a {SIGNATURE_HEADER} header is required", type="MissingSignature")
    timestamp, candidates = _parse(header)
    if abs(now - timestamp) > tolerance:
        raise BadSignature(
            f"the signed timestamp is more than {tolerance} seconds from now; "
            "sign each delivery when you send it",
            type="StaleTimestamp",
        )
    expected = _digest(secret, timestamp, body)
    # Compare every candidate, so the time taken does not reveal which one matched.
    if not any([hmac.compare_digest(expected, candidate) for candidate in candidates]):
        raise BadSignature("the signature does not match the body", type="BadSignature")
    return timestamp


async def verify_request(request: Request, permission: str) -> SignedRequest:
    settings = request.app.state.perfloop.settings
    secret = settings.progress_webhook_secret
    if secret is None:
        # No signature can hold without a secret: an authentication failure, not an outage.
        raise BadSignature(
            "the progress webhook is off: the server has no PERFLOOP_PROGRESS_WEBHOOK_SECRET",
            type="WebhookNotConfigured",
        )
    body = await request.body()
    timestamp = check_signature(
        secret.get_secret_value(),
        request.headers.get(SIGNATURE_HEADER),
        body,
        tolerance=settings.progress_webhook_tolerance_seconds,
        now=time.time(),
    )
    return SignedRequest(permission=permission, body=body, timestamp=timestamp)
