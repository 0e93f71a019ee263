"""Cycles through the API: launch one, list them, read its progress, HR controls.

Launching and the HR controls go through `perfloop.cycles` (`start_cycle`,
`extend_deadline`, `close_phase`, `reopen_task`, ...), as the CLI does; this module turns
the API's requests into their arguments and the workflow's answers into response bodies.
An Idempotency-Key becomes the control's Temporal Update id, so that a retry is applied
at most once even when the API's own record of the key is gone. The list comes from the
store's `cycles` table, which each cycle's workflow writes when it launches and ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from api.auth import Principal
from api.errors import NotFound, ServiceUnavailable, Unprocessable
from api.pagination import DEFAULT_PAGE, decode_cursor, encode_cursor, page_size
from api.schemas.cycles import (
    ControlPublic,
    CycleCancel,
    CycleCreate,
    CycleMigrate,
    CyclePage,
    CyclePublic,
    CycleStatusPublic,
    CycleSummary,
    DeadlineExtend,
    ParticipantCancel,
    ParticipantCounts,
    PhaseClose,
    PhaseCounts,
    PhaseProgress,
    StoredCycleStatus,
    TaskReassign,
    TaskReopen,
)
from api.services.tasks import find_task
from definitions import registry
from definitions.registry import DefinitionNotFoundError, InvalidRefError
from perfloop import cycles
from perfloop.settings import Settings
from store.models import Cycle, CycleParticipant
from workflows.messages import ControlResult, CycleStatus, cycle_workflow_id

STATUS_QUERY = "status"
QUERY_TIMEOUT = timedelta(seconds=10)
"""A query needs a worker to answer; without one, say so (503) rather than hang."""
CONTROL_TIMEOUT = timedelta(seconds=60)
"""How long an HR control waits for its workflow before answering 503 (retry it with the
same Idempotency-Key: it is applied at most once). Cancelling a large cycle signals every
participant before it answers, hence longer than a submission."""
CURSOR_KEYS = ("created_at", "cycle_id")


async def create_cycle(
    session: Session, client: Client, settings: Settings, user: Principal, body: CycleCreate
) -> CyclePublic:
    if body.speed is not None and body.speed != 1.0 and settings.environment == "production":
        raise Unprocessable("speed is for development and demos only", type="SpeedNotAllowed")
    # Resolve `name@latest` once, here, so the answer names the version actually pinned.
    pinned = await run_in_threadpool(cycles.resolve_pinned, session, body.definition)
    cycle_id = await cycles.start_cycle(
        client,
        session,
        pinned.ref,
        cycle_id=body.cycle_id,
        start=body.starts,
        speed=body.speed or 1.0,
        launched_by=user.subject,
        org_objectives=body.org_objectives,
        task_queue=settings.task_queue,
    )
    return CyclePublic(
        cycle_id=cycle_id,
        workflow_id=cycle_workflow_id(cycle_id),
        definition=pinned.ref,
        status="launching",
    )


def _phases(status: CycleStatus) -> list[PhaseProgress]:
    phases: list[PhaseProgress] = []
    for phase_id, info in status.phases.items():
        counts: dict[str, Any] = info.get("counts") or {}
        phases.append(
            PhaseProgress(
                id=phase_id,
                kind=str(info.get("kind", "")),
                opens=info["opens"],
                due=info["due"],
                closed=bool(info.get("closed", False)),
                counts=PhaseCounts.model_validate(counts),
            )
        )
    return phases


def status_public(status: CycleStatus) -> CycleStatusPublic:
    progress = status.progress
    return CycleStatusPublic(
        cycle_id=status.cycle_id,
        workflow_id=cycle_workflow_id(status.cycle_id),
        definition=status.definition_ref,
        status=status.status,
        nominal_now=status.nominal_now,
        phases=_phases(status),
        participants=ParticipantCounts(
            participants=progress.participants if progress else 0,
            active=progress.active if progress else 0,
            finished=progress.finished if progress else 0,
        ),
        gates_released=list(status.gates_released),
        open_group_tasks=sum(
            1 for task in status.open_group_tasks if task.status in ("open", "overdue")
        ),
    )


async def cycle_status(client: Client, cycle_id: str) -> CycleStatusPublic:
    """The cycle workflow's `status` query (it answers for finished cycles too).

    Asked directly rather than through `perfloop.cycles.cycle_status` so that each
    failure keeps its own status here: unknown cycle 404, no worker answering 503.
    """
    handle = client.get_workflow_handle(cycle_workflow_id(cycle_id))
    try:
        status: CycleStatus = await handle.query(
            STATUS_QUERY, result_type=CycleStatus, rpc_timeout=QUERY_TIMEOUT
        )
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise NotFound(f"no cycle {cycle_id}", type="CycleNotFound") from None
        raise
    return status_public(status)


# --- the list -----------------------------------------------------------------------------


def list_cycles(
    session: Session,
    *,
    status: StoredCycleStatus | None = None,
    definition: str | None = None,
    limit: int = DEFAULT_PAGE,
    cursor: str | None = None,
) -> CyclePage:
    """One page of cycles, newest launch first (keyset paging on launch time, then id)."""
    size = page_size(limit)
    query = select(Cycle)
    if status is not None:
        query = query.where(Cycle.status == status)
    if definition is not None:
        query = query.where(Cycle.definition_ref == definition)
    if cursor:
        values = decode_cursor(cursor, CURSOR_KEYS)
        try:
            created_at = datetime.fromisoformat(str(values["created_at"]))
        except ValueError:
            raise Unprocessable("the cursor is damaged", type="InvalidCursor") from None
        if created_at.tzinfo is None:
            raise Unprocessable("the cursor is damaged", type="InvalidCursor")
        last_id = str(values["cycle_id"])
        query = query.where(
            or_(
                Cycle.created_at < created_at,
                and_(Cycle.created_at == created_at, Cycle.cycle_id < last_id),
            )
        )
    rows = session.scalars(
        query.order_by(Cycle.created_at.desc(), Cycle.cycle_id.desc()).limit(size + 1)
    ).all()
    next_cursor = None
    if len(rows) > size:
        last = rows[size - 1]
        next_cursor = encode_cursor(
            {"created_at": last.created_at.isoformat(), "cycle_id": last.cycle_id}
        )
    page = rows[:size]
    counts: dict[str, int] = {
        cycle_id: count
        for cycle_id, count in session.execute(
            select(CycleParticipant.cycle_id, func.count())
            .where(CycleParticipant.cycle_id.in_([row.cycle_id for row in page]))
            .group_by(CycleParticipant.cycle_id)
        )
    }
    titles = {
        row.definition_ref: _title(session, row.definition_ref)
        for row in page
        if row.definition_ref
    }
    return CyclePage(
        items=[
            CycleSummary.model_validate(row).model_copy(
                update={
                    "title": titles.get(row.definition_ref),
                    "participants": counts.get(row.cycle_id, 0),
                }
            )
            for row in page
        ],
        next_cursor=next_cursor,
    )


def _title(session: Session, ref: str) -> str | None:
    """The title a published version carries, read from its stored content."""
    try:
        canonical = registry.get_version(session, ref).canonical
    except (InvalidRefError, DefinitionNotFoundError):
        return None
    metadata = (canonical.get("definition") or {}).get("metadata") or {}
    title = metadata.get("title")
    return title if isinstance(title, str) else None


# --- HR controls --------------------------------------------------------------------------


def control_update_id(name: str, target: str, user: Principal, key: str | None) -> str | None:
    """The Update id of a control sent with an Idempotency-Key (None: Temporal makes one).

    Scoped like a submission's: by what it changes and who asks, since keys are per user.
    """
    return f"{name}:{target}:{user.subject}:{key}" if key else None


async def _control(cycle_id: str, call: Awaitable[ControlResult]) -> ControlPublic:
    try:
        async with asyncio.timeout(CONTROL_TIMEOUT.total_seconds()):
            result = await call
    except TimeoutError:
        raise ServiceUnavailable(
            "the workflow did not answer in time; retry with the same Idempotency-Key",
            type="EngineTimeout",
        ) from None
    return ControlPublic(
        cycle_id=cycle_id, accepted=result.accepted, detail=result.detail, affected=result.affected
    )


async def extend_deadline(
    client: Client, user: Principal, cycle_id: str, body: DeadlineExtend, key: str | None
) -> ControlPublic:
    return await _control(
        cycle_id,
        cycles.extend_deadline(
            client,
            cycle_id,
            body.phase_id,
            body.new_due,
            reason=body.reason,
            requested_by=user.subject,
            update_id=control_update_id("extend_deadline", body.phase_id, user, key),
        ),
    )


async def close_phase(
    client: Client, user: Principal, cycle_id: str, phase_id: str, body: PhaseClose, key: str | None
) -> ControlPublic:
    return await _control(
        cycle_id,
        cycles.close_phase(
            client,
            cycle_id,
            phase_id,
            reason=body.reason,
            requested_by=user.subject,
            update_id=control_update_id("close_phase", phase_id, user, key),
        ),
    )


async def cancel_participant(
    client: Client,
    user: Principal,
    cycle_id: str,
    employee_id: str,
    body: ParticipantCancel,
    key: str | None,
) -> ControlPublic:
    return await _control(
        cycle_id,
        cycles.cancel_participant(
            client,
            cycle_id,
            employee_id,
            reason=body.reason,
            requested_by=user.subject,
            update_id=control_update_id("cancel_participant", employee_id, user, key),
        ),
    )


async def cancel_cycle(
    client: Client, user: Principal, cycle_id: str, body: CycleCancel, key: str | None
) -> ControlPublic:
    return await _control(
        cycle_id,
        cycles.cancel_cycle(
            client,
            cycle_id,
            reason=body.reason,
            requested_by=user.subject,
            update_id=control_update_id("cancel_cycle", cycle_id, user, key),
        ),
    )


async def migrate_cycle(
    session: Session,
    client: Client,
    user: Principal,
    cycle_id: str,
    body: CycleMigrate,
    key: str | None,
) -> ControlPublic:
    pinned = await run_in_threadpool(cycles.resolve_pinned, session, body.definition)
    return await _control(
        cycle_id,
        cycles.migrate_definition(
            client,
            cycle_id,
            pinned,
            requested_by=user.subject,
            update_id=control_update_id("migrate_definition", pinned.ref, user, key),
        ),
    )


def _participant_task_workflow(session: Session, cycle_id: str, task_id: str) -> str:
    """The workflow that holds a participant's task; group tasks have no reopen/reassign."""
    task = find_task(session, task_id)
    if task.cycle_id != cycle_id:
        raise NotFound(f"no task {task_id} in cycle {cycle_id}", type="TaskNotFound")
    if task.workflow_id == cycle_workflow_id(cycle_id):
        raise Unprocessable(
            f"{task_id} is a group task, held by the cycle itself; only a participant's "
            "tasks can be reopened or reassigned",
            type="GroupTask",
        )
    return task.workflow_id


async def reopen_task(
    session: Session,
    client: Client,
    user: Principal,
    cycle_id: str,
    task_id: str,
    body: TaskReopen,
    key: str | None,
) -> ControlPublic:
    workflow_id = await run_in_threadpool(_participant_task_workflow, session, cycle_id, task_id)
    return await _control(
        cycle_id,
        cycles.reopen_task(
            client,
            cycle_id,
            workflow_id,
            task_id,
            reason=body.reason,
            requested_by=user.subject,
            new_due=body.new_due,
            update_id=control_update_id("reopen_task", task_id, user, key),
        ),
    )


async def reassign_task(
    session: Session,
    client: Client,
    user: Principal,
    cycle_id: str,
    task_id: str,
    body: TaskReassign,
    key: str | None,
) -> ControlPublic:
    workflow_id = await run_in_threadpool(_participant_task_workflow, session, cycle_id, task_id)
    return await _control(
        cycle_id,
        cycles.reassign_task(
            client,
            cycle_id,
            workflow_id,
            task_id,
            body.new_assignee_id,
            reason=body.reason,
            requested_by=user.subject,
            update_id=control_update_id("reassign_task", task_id, user, key),
        ),
    )
