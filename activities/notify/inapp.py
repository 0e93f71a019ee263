"""In-app notifications (the embedded default): a row in the store's notification table,
which the API shows in the person's inbox.

Deduplicated by business key: the first send inserts the row, any later send with the
same key (an activity retry, a replayed workflow) changes nothing and returns False.
Each new notification also writes one structured log line for operators, which carries
no personal data: the kind, the recipient's internal employee id and a digest of the
business key; never a name, an address, a subject or a body.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from sqlalchemy.orm import Session

from activities.notify.base import OutgoingNotification
from activities.notify.ledger import key_digest
from store.models.notifications import Notification
from store.upsert import insert_if_absent

SessionFactory = Callable[[], Session]
Logger = logging.Logger | logging.LoggerAdapter[logging.Logger]

CHANNEL = "in_app"


class InAppNotifier:
    """`Notifier` that stores the notification for the in-app inbox."""

    def __init__(self, session_factory: SessionFactory, logger: Logger | None = None) -> None:
        self._session_factory = session_factory
        self._log = logger or logging.getLogger(__name__)

    async def send(self, notification: OutgoingNotification) -> bool:
        return await asyncio.to_thread(self._store, notification)

    def record(self, session: Session, notification: OutgoingNotification) -> bool:
        created = insert_if_absent(
            session,
            Notification,
            {
                "business_key": notification.business_key,
                "recipient_id": notification.recipient_id,
                "kind": notification.kind,
                "subject": notification.subject,
                "body": notification.body,
                "task_id": notification.task_id,
                "cycle_id": notification.cycle_id,
            },
            ["business_key"],
        )
        self.log_sent(notification, created)
        return created

    async def deliver(self, notification: OutgoingNotification) -> bool:
        # Nothing beyond the store: `record` was the whole delivery.
        return False

    def log_sent(self, notification: OutgoingNotification, created: bool) -> None:
        digest = key_digest(notification.business_key)
        self._log.info(
            "notification channel=%s kind=%s recipient=%s key=%s new=%s",
            CHANNEL,
            notification.kind,
            notification.recipient_id,
            digest,
            created,
            extra={
                "channel": CHANNEL,
                "kind": notification.kind,
                "recipient_id": notification.recipient_id,
                "key_digest": digest,
                "new": created,
            },
        )

    def _store(self, notification: OutgoingNotification) -> bool:
        with self._session_factory() as session, session.begin():
            return self.record(session, notification)
