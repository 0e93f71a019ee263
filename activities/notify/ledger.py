"""The delivery ledger of the outbound channels (e-mail, webhook): one row per business
key and channel in `notification_deliveries`, moving `pending` -> `sent`.

A channel calls `begin` before it sends (False: already delivered, skip), `sent` after the
other side accepted the message, and `failed` when it did not. The ledger makes a retried
activity skip what was delivered; it cannot make delivery exactly-once. If the process dies
after the other side accepted a message but before `sent` is committed, the row is still
`pending` and the retry sends again: delivery is *at least once*. That is the right
trade for notifications (a duplicate reminder is harmless, a lost one is not), and each
channel gives the receiver a stable key to drop the duplicate (the e-mail's Message-ID,
the webhook's Idempotency-Key).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from store.base import utc_now
from store.models.notifications import NotificationDelivery
from store.models.org import Employee
from store.upsert import insert_if_absent

SessionFactory = Callable[[], Session]

MAX_ERROR_LENGTH = 500


def key_digest(business_key: str, length: int = 12) -> str:
    """A short, stable digest of a business key, for logs and message ids."""
    return hashlib.sha256(business_key.encode()).hexdigest()[:length]


class DeliveryLedger:
    """Delivery state of one channel, by business key. Synchronous: call it in a thread."""

    def __init__(self, session_factory: SessionFactory, channel: str) -> None:
        self._session_factory = session_factory
        self.channel = channel

    def begin(self, business_key: str) -> bool:
        """Count an attempt; False (and nothing counted) when the key was already sent."""
        where = (
            NotificationDelivery.business_key == business_key,
            NotificationDelivery.channel == self.channel,
        )
        with self._session_factory() as session, session.begin():
            insert_if_absent(
                session,
                NotificationDelivery,
                {
                    "business_key": business_key,
                    "channel": self.channel,
                    "status": "pending",
                    "attempts": 0,
                    "updated_at": utc_now(),
                },
                ["business_key", "channel"],
            )
            status = session.scalars(select(NotificationDelivery.status).where(*where)).one()
            if status == "sent":
                return False
            session.execute(
                update(NotificationDelivery)
                .where(*where)
                .values(attempts=NotificationDelivery.attempts + 1, updated_at=utc_now())
            )
            return True

    def sent(self, business_key: str) -> None:
        self._set(business_key, status="sent", last_error=None)

    def failed(self, business_key: str, error: str) -> None:
        self._set(business_key, status="pending", last_error=error[:MAX_ERROR_LENGTH])

    def status(self, business_key: str) -> str | None:
        with self._session_factory() as session:
            return session.scalars(
                select(NotificationDelivery.status).where(
                    NotificationDelivery.business_key == business_key,
                    NotificationDelivery.channel == self.channel,
                )
            ).one_or_none()

    def _set(self, business_key: str, *, status: str, last_error: str | None) -> None:
        with self._session_factory() as session, session.begin():
            session.execute(
                update(NotificationDelivery)
                .where(
                    NotificationDelivery.business_key == business_key,
                    NotificationDelivery.channel == self.channel,
                )
                .values(status=status, last_error=last_error, updated_at=utc_now())
            )


def employee_email(session_factory: SessionFactory, employee_id: str) -> str | None:
    """The e-mail address the employee table holds for `employee_id`, if any."""
    with session_factory() as session:
        email = session.scalars(
            select(Employee.email).where(Employee.employee_id == employee_id)
        ).one_or_none()
    return email or None
