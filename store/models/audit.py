"""The audit trail: one append-only row per read or change of sensitive data.

Ratings, reviews, interview minutes and pay are read and changed through the API, and
each such access writes an `AuditEvent` (`api/services/audit.py record(...)`): who
(`actor_id`, and the roles they acted with), what (`action` on `resource_type`
`resource_id`, about the person `subject_id`), when (`at`, wall-clock UTC) and why
(`reason`, from the `X-Perfloop-Reason` header or an erasure's mandatory reason).

Rows are never updated or deleted: no code path does, an erasure keeps them, and on
PostgreSQL a trigger refuses UPDATE and DELETE (migration `0003_audit`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, JSONType, utc_now
from store.models.cycles import GROUP_LENGTH
from store.models.org import EMPLOYEE_ID_LENGTH

ACTION_LENGTH = 64
RESOURCE_ID_LENGTH = 255
REQUEST_ID_LENGTH = 64


class AuditEvent(Base):
    """Who did what to whose sensitive data, when and why. Append-only."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_subject_at", "subject_id", "at"),
        Index("ix_audit_events_actor_at", "actor_id", "at"),
        Index("ix_audit_events_action_at", "action", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utc_now)
    actor_id: Mapped[str] = mapped_column(String(EMPLOYEE_ID_LENGTH))
    actor_roles: Mapped[list[str]] = mapped_column(JSONType, default=list)
    action: Mapped[str] = mapped_column(String(ACTION_LENGTH))
    resource_type: Mapped[str] = mapped_column(String(ACTION_LENGTH))
    resource_id: Mapped[str | None] = mapped_column(String(RESOURCE_ID_LENGTH))
    subject_id: Mapped[str | None] = mapped_column(String(GROUP_LENGTH + 1))
    reason: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(REQUEST_ID_LENGTH))
