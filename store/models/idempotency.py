"""Idempotency keys of the API: what a `POST` with an `Idempotency-Key` header answered.

One row per (caller, key). The API claims a key by inserting its row (`in_flight`) before
it does anything, so the unique constraint decides which of two concurrent requests runs;
it then stores the final answer (`done`) for replays, until `expires_at`. `api.idempotency`
is the only reader and writer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, utc_now

KEY_LENGTH = 200
USER_LENGTH = 128
ROUTE_LENGTH = 1024


class IdempotencyKey(Base):
    """One caller's key and, once the request finished, the response it got."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("user_id", "key"),
        CheckConstraint("status IN ('in_flight', 'done')", name="status_known"),
        Index("ix_idempotency_keys_expires_at", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(USER_LENGTH))
    key: Mapped[str] = mapped_column(String(KEY_LENGTH))
    route: Mapped[str] = mapped_column(
        String(ROUTE_LENGTH), doc="`METHOD /path` of the request that claimed the key."
    )
    body_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="in_flight")
    response_status: Mapped[int | None]
    response_body: Mapped[str | None] = mapped_column(Text)
    response_headers: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    claimed_at: Mapped[datetime] = mapped_column(
        default=utc_now, doc="When the current in-flight attempt began (stale ones are taken over)."
    )
    expires_at: Mapped[datetime]
