"""`/v1/audit`: the audit trail of sensitive reads and changes, for HR admins."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import SessionDep
from api.errors import error_responses
from api.permissions import permit
from api.schemas.audit import AuditPage
from api.schemas.common import IsoDateTime
from api.services import audit as service

router = APIRouter(prefix="/audit", tags=["audit"], responses=error_responses(403, 422))


@router.get("", summary="Audit events, newest first", dependencies=[permit("audit:read")])
def list_audit(
    session: SessionDep,
    subject: Annotated[str | None, Query(max_length=201, description="Whose data.")] = None,
    actor: Annotated[str | None, Query(max_length=64, description="Who acted.")] = None,
    action: Annotated[str | None, Query(max_length=64, description="e.g. pay.read")] = None,
    since: Annotated[IsoDateTime | None, Query(description="At or after (ISO 8601).")] = None,
    limit: Annotated[int, Query(ge=1, description="Page size (at most 500).")] = (
        service.DEFAULT_PAGE
    ),
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> AuditPage:
    return service.list_events(
        session,
        subject=subject,
        actor=actor,
        action=action,
        since=since,
        limit=limit,
        cursor=cursor,
    )
