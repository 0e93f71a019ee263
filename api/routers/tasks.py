"""`/v1/tasks/{task_id}`: one task with its form, and its submission.

Task ids contain slashes (`<cycle>/<employee>/<phase>/<kind>`); they may be sent as they
are or percent-encoded.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.responses import Response

from api.deps import SessionDep, StateDep, StoreDep, TemporalDep
from api.errors import error_responses
from api.idempotency import InlineIdempotent, json_response
from api.limits import submit_rate_limit
from api.permissions import Access, permit
from api.schemas.tasks import TaskDetail, TaskSubmit, TaskSubmitted
from api.services import tasks as service

router = APIRouter(prefix="/tasks", tags=["tasks"], responses=error_responses(403, 404))


@router.post(
    "/{task_id:path}/submit",
    summary="Submit a task's form; answers once the workflow has accepted it",
    responses=error_responses(409, 413, 422, 429),
    response_model=TaskSubmitted,
    # Before the Idempotency-Key claim: a refused request claims nothing.
    dependencies=[Depends(submit_rate_limit)],
)
async def submit_task(
    task_id: str,
    body: TaskSubmit,
    access: Annotated[Access, permit("tasks:submit")],
    idempotency_key: InlineIdempotent,
    store: StoreDep,
    temporal: TemporalDep,
) -> Response:
    answer = await service.submit_task(
        store, temporal, access, task_id, body.payload, idempotency=idempotency_key
    )
    # The very bytes the service stored for the Idempotency-Key.
    return json_response(answer)


@router.get("/{task_id:path}", summary="A task with its form, prefill and status")
def get_task(
    task_id: str,
    access: Annotated[Access, permit("tasks:read")],
    session: SessionDep,
    state: StateDep,
) -> TaskDetail:
    return service.task_detail(session, state.forms, access, task_id)
