"""The audit trail as HR admins read it."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from api.schemas.common import PublicModel


class AuditEventPublic(PublicModel):
    id: int
    at: datetime
    actor_id: str
    actor_roles: list[str]
    action: str = Field(description="What was done, e.g. `review.read`, `pay.read`.")
    resource_type: str
    resource_id: str | None
    subject_id: str | None = Field(description="Whose data it was.")
    reason: str | None
    request_id: str | None


class AuditPage(PublicModel):
    items: list[AuditEventPublic]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )
