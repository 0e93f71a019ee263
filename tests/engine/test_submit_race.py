"""A submission still being recorded when HR closes its phase, on a real dev server.

The Update was accepted, so the person was told "submitted" (before the store write: the
answer does not wait for it): the close must wait for the recording and leave the task
submitted, never closed, and the workflow must go on (no spin, no deadlock). Time
skipping cannot show this: its clock does not move while a local activity holds the
workflow task, so the race is run on the dev server with a recording activity held open
by the test.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateStage
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.types import ActivityName, ClockSpec, RecordSubmissionInput
from definitions.loader import pin
from tests.workflows.bot import ENGINE_TEST_PAYLOADS
from tests.workflows.conftest import load_engine_test
from tests.workflows.fakes import FakeWorld, twelve_people
from workflows.cycle import CycleWorkflow
from workflows.messages import (
    GateSignal,
    ParticipantInput,
    ParticipantStatus,
    PhaseControlSignal,
    SubmitTaskInput,
    SubmitTaskResult,
    participant_workflow_id,
)
from workflows.participant import ParticipantWorkflow

pytestmark = pytest.mark.temporal

STEP = 20.0  # seconds any one step may take before the test fails instead of hanging


class HeldRecording(FakeWorld):
    """Records submissions only once the test lets go of them."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.recording = asyncio.Event()
        self.release = asyncio.Event()

    @activity.defn(name=ActivityName.RECORD_SUBMISSION)
    async def record_submission(self, input: RecordSubmissionInput) -> None:
        self.recording.set()
        await self.release.wait()
        await super().record_submission(input)


async def until(condition: Callable[[], bool], what: str) -> None:
    for _ in range(int(STEP / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def open_goal_draft(
    client: Client, world: FakeWorld, cycle_id: str, task_queue: str
) -> tuple[WorkflowHandle[Any, Any], str]:
    """E004's participant workflow of the engine-test cycle, started with the goals gate
    open; its handle and the goal draft's task id, once the draft is open."""
    now = datetime.now(UTC)
    handle = await client.start_workflow(
        ParticipantWorkflow.run,
        ParticipantInput(
            cycle_id=cycle_id,
            profile=world.profile("E004"),
            pinned=pin(load_engine_test()),
            clock=ClockSpec(nominal_start=now - timedelta(hours=1), real_start=now),
            use_search_attributes=False,
            hr_admins=("E001",),
        ),
        id=participant_workflow_id(cycle_id, "E004"),
        task_queue=task_queue,
    )
    await handle.signal(
        ParticipantWorkflow.gate_opened, GateSignal(gate="objectives", phase_id="goals")
    )
    task_id = f"{cycle_id}/E004/goals/goal_draft"
    await until(lambda: task_id in world.tasks, "the goal draft to open")
    return handle, task_id


async def test_a_submission_in_flight_wins_over_a_phase_close(
    local_env: WorkflowEnvironment,
) -> None:
    client = local_env.client
    task_queue = f"race-{uuid.uuid4().hex[:8]}"
    world = HeldRecording(client, task_queue, twelve_people())
    cycle_id = f"race-{uuid.uuid4().hex[:6]}"
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[CycleWorkflow, ParticipantWorkflow],
        activities=world.activities(),
    ):
        handle, task_id = await open_goal_draft(client, world, cycle_id, task_queue)

        update = await handle.start_update(
            ParticipantWorkflow.submit_task,
            SubmitTaskInput(
                task_id=task_id,
                submitter_id="E004",
                payload=ENGINE_TEST_PAYLOADS["goal_draft"],
            ),
            wait_for_stage=WorkflowUpdateStage.ACCEPTED,
        )
        await until(world.recording.is_set, "the submission to be recording")
        # The person is answered from the history, without waiting for the store write.
        result = await asyncio.wait_for(update.result(), STEP)
        assert isinstance(result, SubmitTaskResult)
        assert (result.status, result.revision) == ("submitted", 1)
        assert world.tasks[task_id].status == "open"
        # HR closes the phase while the accepted submission is still being written.
        await handle.signal(
            ParticipantWorkflow.phase_control,
            PhaseControlSignal(action="close", phase_id="goals", reason="closed early by HR"),
        )

        # A local activity holds the workflow task open, so the signal is delivered with
        # the task's next heartbeat (about 8 s): release the recording only once a
        # workflow task has completed after the signal, i.e. the close is waiting on it.
        async def close_delivered() -> None:
            while True:
                events = (await handle.fetch_history()).events
                signalled = [
                    e.event_id
                    for e in events
                    if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
                    and e.workflow_execution_signaled_event_attributes.signal_name
                    == "phase_control"
                ]
                if signalled and any(
                    e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
                    and e.event_id > signalled[0]
                    for e in events
                ):
                    return
                await asyncio.sleep(0.2)

        await asyncio.wait_for(close_delivered(), STEP)
        assert world.tasks[task_id].status == "open"
        world.release.set()
        await until(lambda: world.tasks[task_id].status == "submitted", "the write")

        async def goals_over() -> ParticipantStatus:
            while True:
                status: ParticipantStatus = await handle.query(ParticipantWorkflow.status)
                if status.phase_status == "completed":
                    return status
                await asyncio.sleep(0.1)

        status = await asyncio.wait_for(goals_over(), STEP)
        draft = next(t for t in status.tasks if t.task_id == task_id)
        assert draft.status == "submitted"
        assert draft.revision == 1
        # The close went through for the rest of the phase: no manager review was opened.
        assert f"{cycle_id}/E004/goals/goal_review" not in world.tasks
        assert world.phase_status[("E004", "goals")] in ("completed", "skipped")
        await handle.terminate("test over")
