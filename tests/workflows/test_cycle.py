"""A whole cycle under time skipping: 12 people in 3 departments through every phase,
with a reminder, an overdue task and its escalation, a late submission, a leaver and a
late joiner mid-cycle, every org-level gate, and HR controls."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from activities.types import ClockSpec
from definitions.pinned import PinnedDefinition
from tests.workflows.bot import ENGINE_TEST_PAYLOADS, submit, submit_open_tasks
from tests.workflows.fakes import FakeWorld, Person, finished, settle, twelve_people
from workflows.cycle import CycleWorkflow
from workflows.messages import (
    CycleInput,
    CycleStatus,
    ExtendDeadlineInput,
    ParticipantStatus,
    cycle_workflow_id,
    participant_workflow_id,
)
from workflows.participant import ParticipantWorkflow

NOMINAL_START = datetime(2027, 1, 4, tzinfo=UTC)
HISTORIES = Path(__file__).parent.parent / "histories"


async def start_cycle(
    env: WorkflowEnvironment,
    pinned: PinnedDefinition,
    task_queue: str,
    cycle_id: str,
    *,
    local_activities: bool = True,
) -> WorkflowHandle[Any, Any]:
    now = await env.get_current_time()
    return await env.client.start_workflow(
        CycleWorkflow.run,
        CycleInput(
            cycle_id=cycle_id,
            pinned=pinned,
            clock=ClockSpec(nominal_start=NOMINAL_START, real_start=now, scale=1.0),
            launched_by="E001",
            use_search_attributes=False,
            poll_every="P3D",
            population_sync_every="P7D",
            local_activities=local_activities,
        ),
        id=cycle_workflow_id(cycle_id),
        task_queue=task_queue,
    )


async def nominal_day(env: WorkflowEnvironment) -> float:
    """Days since the nominal start (scale 1, real start = env start)."""
    return (await env.get_current_time() - START_TIMES[0]).total_seconds() / 86400


START_TIMES: list[datetime] = []


@pytest.mark.parametrize("max_cached_workflows", [1000, 0], ids=["cached", "replay-every-task"])
async def test_full_cycle(
    time_skipping_env: WorkflowEnvironment,
    engine_test_pinned: PinnedDefinition,
    task_queue: str,
    max_cached_workflows: int,
) -> None:
    env = time_skipping_env
    world = FakeWorld(env.client, task_queue, twelve_people())
    cycle_id = f"engine-{max_cached_workflows}"
    async with Worker(
        env.client,
        task_queue=task_queue,
        workflows=[CycleWorkflow, ParticipantWorkflow],
        activities=world.activities(),
        max_cached_workflows=max_cached_workflows,
        # Replaying every task is about determinism; the cached run covers the sandbox's
        # import and I/O restrictions, and rebuilding a sandbox per task is slow.
        workflow_runner=(
            UnsandboxedWorkflowRunner() if not max_cached_workflows else SandboxedWorkflowRunner()
        ),
    ):
        START_TIMES[:] = [await env.get_current_time()]
        # Zero cache livelocks local activities in Temporal's core (sdk-rust#1482), so
        # that run uses regular ones; the replay test covers the local-activity path.
        cycle = await start_cycle(
            env,
            engine_test_pinned,
            task_queue,
            cycle_id,
            local_activities=max_cached_workflows > 0,
        )
        late_task = f"{cycle_id}/E004/goals/goal_draft"
        late_result = None
        joined = left = False
        for _ in range(200):
            await settle()
            day = await nominal_day(env)
            held = {late_task} if day < 19 else set()
            results = await submit_open_tasks(
                env.client, world, hold=lambda t, held=held: t.task_id in held
            )
            late_result = next((r for r in results if r.task_id == late_task), late_result)
            if day >= 60 and not joined:
                world.people["E013"] = Person("E013", "Engineering", "E006")
                world.people["E012"].active = False
                joined = left = True
            description = await cycle.describe()
            if description.status is not None and description.status.name != "RUNNING":
                break
            await env.sleep(timedelta(days=2))
        if os.environ.get("PERFLOOP_DEBUG"):
            print(await nominal_day(env), sorted(world.phase_status.items())[:20], world.calls)
        status: CycleStatus = await finished(cycle)

        assert status.status == "completed"
        assert joined
        assert left

        # The withheld goal draft: reminded, overdue, escalated to the Sales HRBP, then late.
        kinds = {n.kind: n for n in world.notifications.values() if n.task_id == late_task}
        assert set(kinds) >= {"reminder", "overdue", "escalation"}
        assert kinds["escalation"].recipient_id == "E002"
        assert late_result is not None
        assert late_result.late is True

        # Leaver and late joiner.
        assert world.participants["E012"] == "left"
        assert world.participants["E013"] == "completed"
        assert world.phase_status[("E013", "goals")] == "skipped"
        assert world.phase_status[("E013", "monitor")] == "completed"
        leaver = await finished(
            env.client.get_workflow_handle(
                participant_workflow_id(cycle_id, "E012"), result_type=ParticipantStatus
            )
        )
        assert leaver.status == "left"
        assert all(t.status in ("submitted", "closed", "cancelled") for t in leaver.tasks)

        # Everyone else went through every phase.
        done = [e for e, s in world.participants.items() if s == "completed"]
        assert len(done) == 12  # 11 of the original 12, plus the joiner
        for employee_id in done:
            assert world.phase_status[(employee_id, "results")] == "completed"

        # Gates: objectives per department, one calibration and one approval per group.
        groups = {"People", "Sales", "Engineering"}
        assert {c.group for c in world.calibrations} == groups
        assert set(world.budgets) == groups
        assert len(world.synced) == 12
        assert {f"results:results:{g}" for g in groups} <= set(status.gates_released)
        assert {f"objectives:goals:{g}" for g in groups} <= set(status.gates_released)
        checkins = [t for t in world.tasks.values() if t.kind == "checkin"]
        assert len({t.subject_id for t in checkins}) == 13
        assert world.calls["close_cycle:completed"] == 1

        tag = os.environ.get("PERFLOOP_SAVE_HISTORIES")
        if tag and max_cached_workflows:
            await save_histories(env, cycle_id, f"engine-test.{tag}", ["E004", "E013"])


async def save_histories(
    env: WorkflowEnvironment, cycle_id: str, name: str, employees: list[str]
) -> None:
    """Write the histories the replay test proves the code against."""
    HISTORIES.mkdir(exist_ok=True)
    ids = [cycle_workflow_id(cycle_id)] + [participant_workflow_id(cycle_id, e) for e in employees]
    for index, workflow_id in enumerate(ids):
        history = await env.client.get_workflow_handle(workflow_id).fetch_history()
        kind = "cycle" if index == 0 else f"participant-{employees[index - 1]}"
        path = HISTORIES / f"{name}.{kind}.json"
        path.write_text(json.dumps(json.loads(history.to_json()), indent=1) + "\n")


async def test_submit_is_validated_before_history(
    time_skipping_env: WorkflowEnvironment, engine_test_pinned: PinnedDefinition, task_queue: str
) -> None:
    env = time_skipping_env
    world = FakeWorld(env.client, task_queue, twelve_people()[:6])
    async with Worker(
        env.client,
        task_queue=task_queue,
        workflows=[CycleWorkflow, ParticipantWorkflow],
        activities=world.activities(),
    ):
        await start_cycle(env, engine_test_pinned, task_queue, "validate")
        for _ in range(50):
            await settle()
            if world.open_tasks("E002"):
                break
        # Let the department objectives through so goal drafts open.
        await submit_open_tasks(env.client, world, hold=lambda t: t.kind != "department_objectives")
        for _ in range(50):
            await settle()
            if any(t.kind == "goal_draft" for t in world.open_tasks()):
                break
        draft = next(t for t in world.open_tasks() if t.kind == "goal_draft")
        handle = env.client.get_workflow_handle(draft.workflow_id)

        with pytest.raises(WorkflowUpdateFailedError) as wrong_shape:
            await submit(env.client, draft, {"goals": [{"title": "x", "weight": "a lot"}]})
        assert "InvalidPayload" in repr(wrong_shape.value.cause)
        with pytest.raises(WorkflowUpdateFailedError) as bad_weights:
            await submit(
                env.client,
                draft,
                {"goals": [{"title": "A", "type": "okr", "weight": 60, "parent_id": "o"}]},
            )
        assert "weights must sum to 100" in json.dumps(bad_weights.value.cause.details, default=str)
        wrong_person = draft.__class__(**{**draft.__dict__, "assignee_id": "E999"})
        with pytest.raises(WorkflowUpdateFailedError) as not_assignee:
            await submit(env.client, wrong_person, ENGINE_TEST_PAYLOADS["goal_draft"])
        assert "NotAssignee" in repr(not_assignee.value.cause)
        # Rejected updates leave no trace in history: nothing was accepted.
        assert await accepted_updates(handle) == 0

        accepted = await submit(env.client, draft, ENGINE_TEST_PAYLOADS["goal_draft"])
        assert accepted.status == "submitted"
        assert not accepted.late
        with pytest.raises(WorkflowUpdateFailedError) as twice:
            await submit(env.client, draft, ENGINE_TEST_PAYLOADS["goal_draft"])
        assert "TaskNotOpen" in repr(twice.value.cause)
        # The answer comes before the store write (the Update is in the history by then).
        for _ in range(50):
            if world.tasks[draft.task_id].submissions:
                break
            await settle()
        assert len(world.tasks[draft.task_id].submissions) == 1
        assert await accepted_updates(handle) == 1


async def accepted_updates(handle: WorkflowHandle[Any, Any]) -> int:
    history = await handle.fetch_history()
    accepted = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    return sum(1 for event in history.events if event.event_type == accepted)


async def test_hr_controls_extend_and_close(
    time_skipping_env: WorkflowEnvironment, engine_test_pinned: PinnedDefinition, task_queue: str
) -> None:
    env = time_skipping_env
    world = FakeWorld(env.client, task_queue, twelve_people()[:6])
    async with Worker(
        env.client,
        task_queue=task_queue,
        workflows=[CycleWorkflow, ParticipantWorkflow],
        activities=world.activities(),
    ):
        cycle = await start_cycle(env, engine_test_pinned, task_queue, "controls")
        for _ in range(50):
            await settle()
            if world.open_tasks():
                break
        await submit_open_tasks(env.client, world, hold=lambda t: t.kind != "department_objectives")
        for _ in range(50):
            await settle()
            if len([t for t in world.open_tasks() if t.kind == "goal_draft"]) == 6:
                break
        new_due = NOMINAL_START + timedelta(days=30)
        result = await cycle.execute_update(
            CycleWorkflow.extend_deadline,
            ExtendDeadlineInput(
                phase_id="goals", new_due=new_due, reason="holidays", requested_by="E001"
            ),
        )
        assert result.affected == 6
        await settle(0.3)
        drafts = [t for t in world.open_tasks() if t.kind == "goal_draft"]
        assert drafts
        assert all(t.due_at == new_due for t in drafts)

        with pytest.raises(WorkflowUpdateFailedError):
            await cycle.execute_update(
                CycleWorkflow.extend_deadline,
                ExtendDeadlineInput(
                    phase_id="nope", new_due=new_due, reason="x", requested_by="E001"
                ),
            )
        from workflows.messages import CancelCycleInput, ClosePhaseInput

        closed = await cycle.execute_update(
            CycleWorkflow.close_phase,
            ClosePhaseInput(phase_id="goals", reason="moving on", requested_by="E001"),
        )
        assert closed.affected == 6
        await settle(0.3)
        assert not [t for t in world.open_tasks() if t.kind == "goal_draft"]
        await cycle.execute_update(
            CycleWorkflow.cancel_cycle, CancelCycleInput(reason="test over", requested_by="E001")
        )
        if os.environ.get("PERFLOOP_DEBUG"):
            print(await nominal_day(env), sorted(world.phase_status.items())[:20], world.calls)
        status: CycleStatus = await finished(cycle)
        assert status.status == "cancelled"
        assert all(s in ("cancelled",) for s in world.participants.values())
