"""Cycles as HR launches and watches them: the service functions behind `perfloop cycles`
and the API's `/cycles` routes.

`start_cycle` pins a published definition (`NAME@VERSION`, or `NAME@latest` resolved to
the exact version now) into a new `CycleWorkflow`; the rest talks to a running one through
its query and updates. Nothing here writes to the store: the workflow records the cycle
itself, through its activities, so a start that Temporal refused leaves no trace.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from activities.types import ClockSpec
from definitions.errors import PerfloopError
from definitions.models import CycleDefinition
from definitions.pinned import PinnedDefinition
from perfloop.codec import public_memo
from workflows.messages import (
    CancelCycleInput,
    CancelParticipantInput,
    ClosePhaseInput,
    ControlResult,
    CycleInput,
    CycleStatus,
    ExtendDeadlineInput,
    MigrateDefinitionInput,
    ReassignTaskInput,
    ReopenTaskInput,
    SearchAttributeNames,
    cycle_workflow_id,
)

CYCLE_WORKFLOW = "CycleWorkflow"
CYCLE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
"""Cycle ids become parts of workflow and task ids (`cycle/<id>/<employee>`): no `/`."""

CYCLE_KEY = SearchAttributeKey.for_keyword(SearchAttributeNames.CYCLE)
DEFINITION_KEY = SearchAttributeKey.for_keyword(SearchAttributeNames.DEFINITION)
PHASE_KEY = SearchAttributeKey.for_keyword(SearchAttributeNames.PHASE)


class CycleError(PerfloopError):
    """A cycle operation a user can fix: unknown id, id taken, invalid option."""


class CycleNotFoundError(CycleError, LookupError):
    """No cycle workflow with that id."""


class CycleClosedError(CycleNotFoundError):
    """The workflow an update was sent to has finished: nothing there can change any more."""


class CycleConflictError(CycleError):
    """A cycle with that id exists already (running or finished)."""


class CycleRefusedError(CycleError):
    """The workflow refused an update (validator): `type` says why, e.g. `CycleOver`;
    `details` are the refusal's own (a migration's reasons, for instance)."""

    def __init__(self, message: str, type: str | None = None, details: Sequence[Any] = ()) -> None:
        super().__init__(message)
        self.type = type
        self.details = tuple(details)


# --- starting -------------------------------------------------------------------------


def new_cycle_id(name: str, start: date) -> str:
    """`annual-review-2027-3f9a1c`: readable in Temporal UI, unique by its random tail."""
    return f"{name}-{start.year}-{secrets.token_hex(3)}"


def check_cycle_id(cycle_id: str) -> str:
    if not CYCLE_ID_RE.match(cycle_id):
        raise CycleError(
            f'"{cycle_id}" is not a valid cycle id: use 1-100 letters, digits, ".", "_" or '
            '"-", starting with a letter or digit'
        )
    return cycle_id


def nominal_start(definition: CycleDefinition, start: date | datetime | None = None) -> datetime:
    """Midnight of the start date in the cycle's time zone (default: `calendar.start`).

    A datetime is taken as given (made aware in the cycle's time zone if naive).
    """
    zone = ZoneInfo(definition.calendar.timezone)
    if isinstance(start, datetime):
        return start if start.tzinfo is not None else start.replace(tzinfo=zone)
    day = start or definition.calendar.start
    return datetime(day.year, day.month, day.day, tzinfo=zone)


def clock_spec(start: datetime, speed: float = 1.0, *, now: datetime | None = None) -> ClockSpec:
    """How the cycle's calendar maps onto real time.

    At speed 1 the clock is the identity: the cycle waits for its real start date and
    every due date is the real one. Faster (a demo, a rehearsal) the cycle starts now, at
    its nominal start, and runs `speed` nominal seconds per real second.
    """
    if not speed > 0:
        raise CycleError(f"speed must be positive, got {speed}")
    if speed == 1.0:
        return ClockSpec(nominal_start=start, real_start=start, scale=1.0)
    return ClockSpec(nominal_start=start, real_start=now or datetime.now(UTC), scale=speed)


def resolve_pinned(session: Session, ref: str) -> PinnedDefinition:
    """The published version `ref` names, as a cycle pins it (never `latest`)."""
    from definitions.registry import get_version

    row = get_version(session, ref)
    return PinnedDefinition.from_canonical(row.ref, row.sha256, row.canonical)


def cycle_search_attributes(cycle_id: str, definition_ref: str) -> TypedSearchAttributes:
    return TypedSearchAttributes(
        [
            SearchAttributePair(CYCLE_KEY, cycle_id),
            SearchAttributePair(DEFINITION_KEY, definition_ref),
            SearchAttributePair(PHASE_KEY, "launching"),
        ]
    )


async def start_cycle(
    client: Client,
    session: Session,
    ref: str,
    *,
    cycle_id: str | None = None,
    start: date | datetime | None = None,
    speed: float = 1.0,
    launched_by: str | None = None,
    org_objectives: Sequence[Mapping[str, Any]] = (),
    task_queue: str | None = None,
    use_search_attributes: bool = True,
    options: Mapping[str, Any] | None = None,
    real_start: datetime | None = None,
) -> str:
    """Start a cycle of the published definition `ref`; returns the cycle id.

    `options` sets further `CycleInput` fields (`poll_every`, `min_poll_seconds`,
    `launch_batch_size`, ...), e.g. for an accelerated demo; `real_start` is when an
    accelerated cycle's nominal start falls in real time (default: now). A taken
    `cycle_id` raises `CycleConflictError`, even if that cycle finished long ago.
    """
    pinned = resolve_pinned(session, ref)
    begins = nominal_start(pinned.definition, start)
    cycle_id = (
        check_cycle_id(cycle_id)
        if cycle_id
        else new_cycle_id(pinned.definition.metadata.name, begins.date())
    )
    if task_queue is None:
        from perfloop.settings import get_settings

        task_queue = get_settings().task_queue
    cycle_input = CycleInput(
        cycle_id=cycle_id,
        pinned=pinned,
        clock=clock_spec(begins, speed, now=real_start),
        launched_by=launched_by,
        org_objectives=tuple(dict(item) for item in org_objectives),
        use_search_attributes=use_search_attributes,
        **dict(options or {}),
    )
    try:
        await client.start_workflow(
            CYCLE_WORKFLOW,
            cycle_input,
            id=cycle_workflow_id(cycle_id),
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=(
                cycle_search_attributes(cycle_id, pinned.ref) if use_search_attributes else None
            ),
            memo={"definition": public_memo(pinned.ref)},
        )
    except WorkflowAlreadyStartedError:
        raise CycleConflictError(
            f"a cycle with id {cycle_id} exists already; choose another --id"
        ) from None
    return cycle_id


# --- a running cycle ------------------------------------------------------------------


async def cycle_status(client: Client, cycle_id: str) -> CycleStatus:
    """The cycle's own view of itself (its `status` query): phases, counts, gates.

    Works on finished cycles too (the query replays the closed workflow).
    """
    handle = client.get_workflow_handle(cycle_workflow_id(cycle_id))
    try:
        status: CycleStatus = await handle.query("status", result_type=CycleStatus)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise CycleNotFoundError(f"no cycle {cycle_id}") from None
        raise
    except WorkflowQueryFailedError as exc:
        raise CycleError(f"cycle {cycle_id} cannot answer right now: {exc}") from None
    return status


# HR controls: each is one Update of the cycle's workflow (reopen and reassign: of the
# participant's workflow that holds the task). The workflow's validator decides; a refusal
# is a `CycleRefusedError` whose `type` names the reason. `update_id` lets a caller that
# retries (the API, with an Idempotency-Key) have Temporal apply the change at most once.


def _reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise CycleError("give a reason (it is recorded with the change)")
    return reason


async def cancel_cycle(
    client: Client,
    cycle_id: str,
    *,
    reason: str,
    requested_by: str,
    update_id: str | None = None,
) -> ControlResult:
    """Cancel a running cycle: every participant is withdrawn, open tasks are cancelled."""
    return await _update(
        client,
        cycle_id,
        "cancel_cycle",
        CancelCycleInput(reason=_reason(reason), requested_by=requested_by),
        update_id=update_id,
    )


async def extend_deadline(
    client: Client,
    cycle_id: str,
    phase_id: str,
    new_due: datetime,
    *,
    reason: str,
    requested_by: str,
    update_id: str | None = None,
) -> ControlResult:
    """Move a phase's due date (nominal time) for every open task of it."""
    request = ExtendDeadlineInput(
        phase_id=phase_id, new_due=new_due, reason=_reason(reason), requested_by=requested_by
    )
    return await _update(client, cycle_id, "extend_deadline", request, update_id=update_id)


async def close_phase(
    client: Client,
    cycle_id: str,
    phase_id: str,
    *,
    reason: str,
    requested_by: str,
    update_id: str | None = None,
) -> ControlResult:
    """Close a phase now: its open tasks are closed and nobody can submit them any more."""
    request = ClosePhaseInput(phase_id=phase_id, reason=_reason(reason), requested_by=requested_by)
    return await _update(client, cycle_id, "close_phase", request, update_id=update_id)


async def cancel_participant(
    client: Client,
    cycle_id: str,
    employee_id: str,
    *,
    reason: str,
    requested_by: str,
    update_id: str | None = None,
) -> ControlResult:
    """Withdraw one participant from the cycle; their open tasks are cancelled."""
    request = CancelParticipantInput(
        employee_id=employee_id, reason=_reason(reason), requested_by=requested_by
    )
    return await _update(client, cycle_id, "cancel_participant", request, update_id=update_id)


async def migrate_definition(
    client: Client,
    cycle_id: str,
    pinned: PinnedDefinition,
    *,
    requested_by: str,
    update_id: str | None = None,
) -> ControlResult:
    """Move a running cycle to a newer version of its definition (phases ahead only)."""
    request = MigrateDefinitionInput(pinned=pinned, requested_by=requested_by)
    return await _update(client, cycle_id, "migrate_definition", request, update_id=update_id)


async def reopen_task(
    client: Client,
    cycle_id: str,
    workflow_id: str,
    task_id: str,
    *,
    reason: str,
    requested_by: str,
    new_due: datetime | None = None,
    update_id: str | None = None,
) -> ControlResult:
    """Open a submitted or closed task again (while its phase runs), optionally with a new
    due date. `workflow_id` is the participant workflow that holds the task."""
    request = ReopenTaskInput(
        task_id=task_id, reason=_reason(reason), requested_by=requested_by, new_due=new_due
    )
    return await _update(
        client, cycle_id, "reopen_task", request, workflow_id=workflow_id, update_id=update_id
    )


async def reassign_task(
    client: Client,
    cycle_id: str,
    workflow_id: str,
    task_id: str,
    new_assignee_id: str,
    *,
    reason: str,
    requested_by: str,
    update_id: str | None = None,
) -> ControlResult:
    """Give an open task to someone else; they are notified."""
    request = ReassignTaskInput(
        task_id=task_id,
        new_assignee_id=new_assignee_id,
        reason=_reason(reason),
        requested_by=requested_by,
    )
    return await _update(
        client, cycle_id, "reassign_task", request, workflow_id=workflow_id, update_id=update_id
    )


async def _update(
    client: Client,
    cycle_id: str,
    name: str,
    request: Any,
    *,
    workflow_id: str | None = None,
    update_id: str | None = None,
) -> ControlResult:
    handle = client.get_workflow_handle(workflow_id or cycle_workflow_id(cycle_id))
    try:
        result: ControlResult = await handle.execute_update(
            name, request, id=update_id, result_type=ControlResult
        )
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND and "already completed" in (exc.message or ""):
            what = f"cycle {cycle_id}" if workflow_id is None else f"workflow {workflow_id}"
            raise CycleClosedError(f"no running {what}: it has finished") from None
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise CycleNotFoundError(f"no running cycle {cycle_id}") from None
        raise
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError):
            raise CycleRefusedError(cause.message, cause.type, cause.details) from None
        raise
    return result


@dataclass(frozen=True)
class CycleSummary:
    """One line of `perfloop cycles list`, from Temporal's visibility store."""

    cycle_id: str
    definition_ref: str | None
    phase: str | None
    status: str
    started_at: datetime | None
    closed_at: datetime | None


async def list_cycles(
    client: Client, *, definition: str | None = None, limit: int = 50
) -> list[CycleSummary]:
    """Cycles, newest first. Uses the custom search attributes for the definition filter;
    the listing itself needs only the workflow type, so it works on any namespace."""
    query = f"WorkflowType = '{CYCLE_WORKFLOW}'"
    if definition:
        if "'" in definition:
            raise CycleError("a definition reference has no quotes")
        query += f" AND {SearchAttributeNames.DEFINITION} = '{definition}'"
    found: list[CycleSummary] = []
    async for execution in client.list_workflows(query, limit=limit):
        attributes = execution.typed_search_attributes
        status = execution.status
        found.append(
            CycleSummary(
                cycle_id=attributes.get(CYCLE_KEY)
                or execution.id.removeprefix(cycle_workflow_id("")),
                definition_ref=attributes.get(DEFINITION_KEY),
                phase=attributes.get(PHASE_KEY),
                status=_status_name(status),
                started_at=execution.start_time,
                closed_at=execution.close_time,
            )
        )
    return found


def _status_name(status: WorkflowExecutionStatus | None) -> str:
    return status.name.lower().replace("_", " ") if status is not None else "unknown"
