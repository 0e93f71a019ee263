"""Cycles through the API: launch one, read its progress from its workflow.

Launching goes through `perfloop.cycles.start_cycle`, as the CLI does; this module turns
the API's request into its arguments and the workflow's answers into response bodies.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from api.auth import Principal
from api.errors import NotFound, Unprocessable
from api.schemas.cycles import (
    CycleCreate,
    CycleList,
    CyclePublic,
    CycleStatusPublic,
    CycleSummary,
    ParticipantCounts,
    PhaseCounts,
    PhaseProgress,
)
from perfloop import cycles
from perfloop.settings import Settings
from store.models import Cycle, CycleParticipant
from workflows.messages import CycleStatus, cycle_workflow_id

STATUS_QUERY = "status"
QUERY_TIMEOUT = timedelta(seconds=10)
"""A query needs a worker to answer; without one, say so (503) rather than hang."""


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


MAX_LISTED = 200


def list_cycles(session: Session) -> CycleList:
    """The cycles in the store, newest first, with their participant counts and titles."""
    rows = session.scalars(
        select(Cycle).order_by(Cycle.nominal_start.desc(), Cycle.cycle_id).limit(MAX_LISTED)
    ).all()
    counts: dict[str, int] = {
        cycle_id: count
        for cycle_id, count in session.execute(
            select(CycleParticipant.cycle_id, func.count())
            .where(CycleParticipant.cycle_id.in_([row.cycle_id for row in rows]))
            .group_by(CycleParticipant.cycle_id)
        )
    }
    titles: dict[str, str | None] = {}
    for ref in {row.definition_ref for row in rows}:
        titles[ref] = cycles.resolve_pinned(session, ref).definition.metadata.title
    return CycleList(
        items=[
            CycleSummary(
                cycle_id=row.cycle_id,
                definition=row.definition_ref,
                title=titles.get(row.definition_ref),
                status=row.status,
                nominal_start=row.nominal_start,
                nominal_end=row.nominal_end,
                participants=counts.get(row.cycle_id, 0),
                launched_by=row.launched_by,
            )
            for row in rows
        ]
    )
