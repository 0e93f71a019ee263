"""An answered submission whose store write fails for good is never dropped.

The person was told "submitted" before the write (`workflows.tasks`,
`ANSWER_BEFORE_RECORDING`). If the write then fails with an error that is not retried (a
bug), the workflow task fails, which shows in Temporal UI, and the write is tried again
with the task's retry until it lands; meanwhile the task is neither open to another
submission nor done.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.types import ActivityName, RecordSubmissionInput
from tests.engine.test_submit_race import STEP, open_goal_draft, until
from tests.workflows.bot import ENGINE_TEST_PAYLOADS
from tests.workflows.fakes import FakeWorld, twelve_people
from workflows.messages import (
    SubmitTaskInput,
    SubmitTaskResult,
)
from workflows.participant import ParticipantWorkflow

pytestmark = pytest.mark.temporal


class BrokenOnce(FakeWorld):
    """The first write of a submission fails as a bug would; the next one lands."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.attempts = 0

    @activity.defn(name=ActivityName.RECORD_SUBMISSION)
    async def record_submission(self, input: RecordSubmissionInput) -> None:
        self.attempts += 1
        if self.attempts == 1:
            raise ApplicationError("a bug in the write", type="InvalidInput", non_retryable=True)
        await super().record_submission(input)


async def test_a_write_that_fails_for_good_fails_the_workflow_task_until_it_lands(
    local_env: WorkflowEnvironment,
) -> None:
    client = local_env.client
    task_queue = f"broken-{uuid.uuid4().hex[:8]}"
    world = BrokenOnce(client, task_queue, twelve_people())
    cycle_id = f"broken-{uuid.uuid4().hex[:6]}"
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[ParticipantWorkflow],
        activities=world.activities(),
    ):
        handle, task_id = await open_goal_draft(client, world, cycle_id, task_queue)
        submission = SubmitTaskInput(
            task_id=task_id, submitter_id="E004", payload=ENGINE_TEST_PAYLOADS["goal_draft"]
        )

        answer = await asyncio.wait_for(
            handle.execute_update(ParticipantWorkflow.submit_task, submission), STEP
        )
        assert isinstance(answer, SubmitTaskResult)
        assert answer.status == "submitted"

        async def failed_tasks() -> list[str]:
            return [
                event.workflow_task_failed_event_attributes.failure.message
                for event in (await handle.fetch_history()).events
                if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
            ]

        async def a_task_failed() -> None:
            while True:
                if await failed_tasks():
                    return
                await asyncio.sleep(0.1)

        await asyncio.wait_for(a_task_failed(), STEP)
        assert any(f"recording {task_id} failed" in m for m in await failed_tasks())
        # The retried workflow task wrote it: once, and the draft is done.
        await until(lambda: world.tasks[task_id].status == "submitted", "the retried write")
        assert world.attempts == 2
        assert len(world.tasks[task_id].submissions) == 1
        with pytest.raises(WorkflowUpdateFailedError) as again:
            await handle.execute_update(
                ParticipantWorkflow.submit_task,
                submission,
                id=f"again-{uuid.uuid4().hex[:6]}",
            )
        assert "TaskNotOpen" in repr(again.value.cause)
        await handle.terminate("test over")
