"""The caller's inbox: their tasks from the store's read model, latest due date first."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from api.auth import Principal
from api.errors import Unprocessable
from api.pagination import DEFAULT_PAGE, decode_cursor, encode_cursor, page_size
from api.schemas.tasks import InboxFilter, TaskPage, TaskPublic
from store.models import Task

CURSOR_KEYS = ("due_at", "task_id")

STATUSES: dict[InboxFilter, tuple[str, ...]] = {
    "open": ("open", "overdue"),
    "overdue": ("overdue",),
    "submitted": ("submitted",),
    "closed": ("closed",),
    "cancelled": ("cancelled",),
    "all": (),
}


def list_inbox(
    session: Session,
    user: Principal,
    *,
    status: InboxFilter = "open",
    limit: int = DEFAULT_PAGE,
    cursor: str | None = None,
) -> TaskPage:
    """One page of the caller's tasks, ordered by due date (latest first), then task id.

    Keyset paging: a task opened or closed between two pages neither repeats nor hides
    any other task.
    """
    size = page_size(limit)
    query = select(Task).where(Task.assignee_id == user.subject)
    statuses = STATUSES[status]
    if statuses:
        query = query.where(Task.status.in_(statuses))
    if cursor:
        values = decode_cursor(cursor, CURSOR_KEYS)
        try:
            due_at = datetime.fromisoformat(str(values["due_at"]))
        except ValueError:
            raise Unprocessable("the cursor is damaged", type="InvalidCursor") from None
        if due_at.tzinfo is None:
            raise Unprocessable("the cursor is damaged", type="InvalidCursor")
        last_id = str(values["task_id"])
        query = query.where(
            or_(Task.due_at < due_at, and_(Task.due_at == due_at, Task.task_id < last_id))
        )
    rows = session.scalars(
        query.order_by(Task.due_at.desc(), Task.task_id.desc()).limit(size + 1)
    ).all()
    items = [TaskPublic.model_validate(row) for row in rows[:size]]
    next_cursor = None
    if len(rows) > size:
        last = rows[size - 1]
        next_cursor = encode_cursor({"due_at": last.due_at.isoformat(), "task_id": last.task_id})
    return TaskPage(items=items, next_cursor=next_cursor)
