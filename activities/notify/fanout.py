"""One notification, several channels: in-app always, then e-mail and webhook if set up.

The first notifier is the record (in-app): its failure fails the send. The other
channels run after it, concurrently. A channel that fails permanently (no address, a
refused recipient, a rejected webhook) is logged and dropped: the person still has the
in-app notification. A channel that fails transiently makes the whole send fail so the
activity is retried; that is safe because every channel deduplicates by business key, so
the retry only redoes what did not go out.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from sqlalchemy.orm import Session

from activities.errors import is_retryable
from activities.notify.base import Notifier, OutgoingNotification, StoreFirstNotifier
from activities.notify.ledger import key_digest

log = logging.getLogger(__name__)


class FanoutNotifier:
    """`Notifier` over several channels; True when any of them delivered something new."""

    def __init__(self, notifiers: Sequence[Notifier]) -> None:
        if not notifiers:
            raise ValueError("a fanout needs at least one notifier (the in-app one first)")
        first, *others = notifiers
        if not isinstance(first, StoreFirstNotifier):
            raise ValueError("a fanout's first notifier is the record: an in-app notifier")
        self.first: StoreFirstNotifier = first
        self.others: tuple[Notifier, ...] = tuple(others)

    @property
    def notifiers(self) -> tuple[Notifier, ...]:
        return (self.first, *self.others)

    async def send(self, notification: OutgoingNotification) -> bool:
        recorded = await self.first.send(notification)
        return await self.deliver(notification) or recorded

    def record(self, session: Session, notification: OutgoingNotification) -> bool:
        return self.first.record(session, notification)

    async def deliver(self, notification: OutgoingNotification) -> bool:
        """The channels after the record, concurrently; see the module docstring."""
        others = self.others
        delivered = await self.first.deliver(notification)
        results = await asyncio.gather(
            *(notifier.send(notification) for notifier in others), return_exceptions=True
        )
        transient: BaseException | None = None
        for notifier, result in zip(others, results, strict=True):
            if isinstance(result, bool):
                delivered = delivered or result
            elif is_retryable(result) or not isinstance(result, Exception):
                transient = transient or result
            else:
                log.warning(
                    "notification dropped channel=%s kind=%s recipient=%s key=%s error=%s",
                    type(notifier).__name__,
                    notification.kind,
                    notification.recipient_id,
                    key_digest(notification.business_key),
                    type(result).__name__,
                )
        if transient is not None:
            raise transient
        return delivered
