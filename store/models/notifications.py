"""Notifications: the in-app inbox, and the delivery state of every external channel.

Every message carries a `business_key` chosen by the engine (task, event, revision, due
date), unique per message across retries. The in-app channel *is* the `Notification` row,
so inserting it once is delivering it once. External channels (e-mail, webhooks) record
one `NotificationDelivery` per message and channel, so a retried activity sends again
only what was not sent.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, utc_now
from store.models.org import EMPLOYEE_ID_LENGTH

BUSINESS_KEY_LENGTH = 512
"""Business keys are built from task ids, event names and timestamps."""


class Notification(Base):
    """One in-app message to one person; `read_at` is set when they open it."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("business_key"),
        Index("ix_notifications_recipient_read", "recipient_id", "read_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    business_key: Mapped[str] = mapped_column(String(BUSINESS_KEY_LENGTH))
    recipient_id: Mapped[str] = mapped_column(String(EMPLOYEE_ID_LENGTH))
    kind: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text, default="")
    task_id: Mapped[str | None] = mapped_column(String(255))
    cycle_id: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    read_at: Mapped[datetime | None]


class NotificationDelivery(Base):
    """Whether one message went out on one external channel, and how often it was tried."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        UniqueConstraint("business_key", "channel"),
        CheckConstraint("status IN ('pending', 'sent')", name="status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    business_key: Mapped[str] = mapped_column(String(BUSINESS_KEY_LENGTH))
    channel: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)
