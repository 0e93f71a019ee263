"""The audit trail: `record(...)` one row per read or change of sensitive data, and
the HR admins' view of it.

What is sensitive: ratings, reviews, interview minutes and pay. Through the API today
that is the detail (and submission) of tasks of the kinds in `SENSITIVE_TASK_KINDS`,
the pay fields of an employee record, and data-subject requests (export, erasure).
`record` adds the row to the caller's session; the service commits it together with
whatever it changed (or alone, for a read), so a read that is answered is a read that is
recorded.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from api.errors import Unprocessable
from api.pagination import decode_cursor, encode_cursor
from api.permissions import Access
from api.schemas.audit import AuditEventPublic, AuditPage
from store.base import utc_now
from store.models import AuditEvent
from store.together import Prepared, bound

SENSITIVE_TASK_KINDS: dict[str, str] = {
    "self_review": "review",
    "manager_review": "review",
    "peer_review": "review",
    "upward_review": "review",
    "interview_minutes": "minutes",
    "acknowledgment": "minutes",
    "calibration": "rating",
    "potential_assessment": "rating",
    "results_approval": "pay",
}
"""Task kinds whose form, prefill or payload carry reviews, minutes, ratings or pay, and
which of those they carry (the first half of the audit action, e.g. `review.read`)."""

_EVENTS = cast("Table", AuditEvent.__table__)
_COLUMNS = (
    "at",
    "actor_id",
    "actor_roles",
    "action",
    "resource_type",
    "resource_id",
    "subject_id",
    "reason",
    "request_id",
)
INSERT_EVENT = insert(_EVENTS).values(
    {name: bound(_EVENTS.c[name], f"audit_{name}") for name in _COLUMNS}
)
"""One audit row, built once (see store.together), every value a parameter `audit_*`."""

DEFAULT_PAGE = 100
MAX_PAGE = 500


def record(
    session: Session,
    access: Access,
    action: str,
    *,
    resource_type: str,
    resource_id: str | None,
    subject_id: str | None,
    reason: str | None = None,
) -> AuditEvent:
    """Add one audit row for `access`'s caller; the caller's transaction commits it."""
    event = AuditEvent(
        **_values(access, action, resource_type, resource_id, subject_id, reason),
    )
    session.add(event)
    return event


def insert_write(
    access: Access,
    action: str,
    *,
    resource_type: str,
    resource_id: str | None,
    subject_id: str | None,
    reason: str | None = None,
) -> Prepared:
    """`record` as a write, for writes that go to the store together
    (`store.together.execute_together`)."""
    values = _values(access, action, resource_type, resource_id, subject_id, reason)
    values["at"] = utc_now()
    return Prepared(INSERT_EVENT, {f"audit_{name}": values[name] for name in _COLUMNS})


def _values(
    access: Access,
    action: str,
    resource_type: str,
    resource_id: str | None,
    subject_id: str | None,
    reason: str | None,
) -> dict[str, Any]:
    return {
        "actor_id": access.user.subject,
        "actor_roles": sorted(role.value for role in access.user.roles),
        "action": action,
        "resource_type": resource_type,
        "resource_id": resource_id,
        "subject_id": subject_id,
        "reason": reason if reason is not None else access.reason,
        "request_id": access.request_id,
    }


def task_action(kind: str, verb: str) -> str | None:
    """The audit action for `verb` ("read", "submit") on a task of `kind`; None when the
    kind carries nothing sensitive."""
    category = SENSITIVE_TASK_KINDS.get(kind)
    return f"{category}.{verb}" if category else None


def list_events(
    session: Session,
    *,
    subject: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    limit: int = DEFAULT_PAGE,
    cursor: str | None = None,
) -> AuditPage:
    """Newest first; keyset paging on the row id (ids only grow)."""
    size = max(1, min(limit, MAX_PAGE))
    query = select(AuditEvent)
    if subject is not None:
        query = query.where(AuditEvent.subject_id == subject)
    if actor is not None:
        query = query.where(AuditEvent.actor_id == actor)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    if since is not None:
        if since.tzinfo is None:
            raise Unprocessable("`since` needs a time zone, e.g. 2027-01-01T00:00:00Z")
        query = query.where(AuditEvent.at >= since)
    if cursor:
        last = decode_cursor(cursor, ("id",))["id"]
        if not isinstance(last, int):
            raise Unprocessable("the cursor is damaged", type="InvalidCursor")
        query = query.where(AuditEvent.id < last)
    rows = session.scalars(query.order_by(AuditEvent.id.desc()).limit(size + 1)).all()
    items = [AuditEventPublic.model_validate(row) for row in rows[:size]]
    next_cursor = encode_cursor({"id": rows[size - 1].id}) if len(rows) > size else None
    return AuditPage(items=items, next_cursor=next_cursor)
