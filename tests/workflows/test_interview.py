"""The interview phase under time skipping: minutes on the agenda, then the employee's
acknowledgment: unanswered it escalates to the HRBP once, is closed and enters the
performance file, and the participant goes on to results; a disagreement needs a comment
and is told to the manager and the HRBP."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

import definitions
from activities.types import ClockSpec
from api.errors import map_application_error
from definitions.loader import load_file, pin
from definitions.models import InterviewPhase, ResultsPhase
from definitions.pinned import PinnedDefinition
from tests.workflows.bot import submit
from tests.workflows.fakes import FakeTask, FakeWorld, settle, twelve_people
from workflows.messages import ParticipantInput, participant_workflow_id
from workflows.participant import ParticipantWorkflow
from workflows.phases.interview import NOT_ACKNOWLEDGED

ANNUAL = Path(definitions.__file__).parent / "cycles" / "annual-review" / "v1.yaml"
CYCLE = "civ"
MINUTES = {
    "strengths": "Calm in incidents.",
    "development_areas": "Public speaking.",
    "action_items": [
        {"title": "Give a tech talk", "owner": "employee", "due": "2028-03-31"},
        {"title": "Book a course", "owner": "manager"},
    ],
    "agreed_next_goals": ["Lead the payments migration"],
}


def interview_then_results(sha: str) -> PinnedDefinition:
    """annual-review's interview (opens day 1) and results (opens day 30) phases alone;
    acknowledgment due 7 days after the minutes, then the HRBP (E010 for Engineering)."""
    pinned = pin(load_file(ANNUAL))
    interview = next(p for p in pinned.definition.phases if isinstance(p, InterviewPhase))
    results = next(p for p in pinned.definition.phases if isinstance(p, ResultsPhase))
    phases = (
        interview.model_copy(
            update={"window": interview.window.model_copy(update={"opens": "P1D", "due": "P14D"})}
        ),
        results.model_copy(
            update={"window": results.window.model_copy(update={"opens": "P30D", "due": "P40D"})}
        ),
    )
    definition = pinned.definition.model_copy(update={"phases": phases})
    return pinned.model_copy(
        update={
            "definition": definition,
            "sha256": "1" * 63 + sha,
            "ref": f"annual-interview-{sha}@1",
        }
    )


def task_of(world: FakeWorld, kind: str) -> FakeTask:
    (task,) = [t for t in world.tasks.values() if t.kind == kind]
    return task


async def until(env: WorkflowEnvironment, condition: Any) -> None:
    """Let the workflow run (and nominal time pass, in hours) until `condition` holds."""
    for _ in range(400):
        await settle()
        if condition():
            return
        await env.sleep(timedelta(hours=6))
    raise AssertionError("condition never held")


async def start(
    env: WorkflowEnvironment, world: FakeWorld, task_queue: str, pinned: PinnedDefinition
) -> WorkflowHandle[Any, Any]:
    """E007's participant workflow, in a cycle of its own per test (the one before may
    still wait at the results gate)."""
    cycle_id = f"{CYCLE}-{pinned.sha256[-1]}"
    now = await env.get_current_time()
    return await env.client.start_workflow(
        ParticipantWorkflow.run,
        ParticipantInput(
            cycle_id=cycle_id,
            profile=world.profile("E007"),
            pinned=pinned,
            clock=ClockSpec(nominal_start=now, real_start=now, scale=1.0),
            use_search_attributes=False,
            hr_admins=("E001",),
        ),
        id=participant_workflow_id(cycle_id, "E007"),
        task_queue=task_queue,
    )


async def test_an_unanswered_acknowledgment_tells_the_hrbp_once_and_enters_the_file(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    env = time_skipping_env
    world = FakeWorld(env.client, task_queue, twelve_people())
    async with Worker(
        env.client,
        task_queue=task_queue,
        workflows=[ParticipantWorkflow],
        activities=world.activities(),
    ):
        await start(env, world, task_queue, interview_then_results("1"))
        await until(env, lambda: any(t.kind == "interview_minutes" for t in world.open_tasks()))
        minutes = task_of(world, "interview_minutes")
        assert minutes.assignee_id == "E006"
        # The agenda is built from every item of the template's sections.
        assert minutes.prefill["sections"] == [
            "rating",
            "goal_attainment",
            "significant_events",
            "checkin_highlights",
            "feedback_themes",
            "development_goals",
        ]
        await submit(env.client, minutes, MINUTES)

        await until(env, lambda: any(t.kind == "acknowledgment" for t in world.open_tasks()))
        acknowledgment = task_of(world, "acknowledgment")
        assert acknowledgment.assignee_id == "E007"
        assert acknowledgment.prefill == {"minutes": MINUTES}
        # The employee never answers: past the due date and the day of grace.
        await until(env, lambda: world.phase_status.get(("E007", "results")) == "waiting")

    escalations = [
        n for n in world.notifications_of("escalation") if n.task_id == acknowledgment.task_id
    ]
    assert [n.recipient_id for n in escalations] == ["E010"]
    assert acknowledgment.status == "closed"
    (noted,) = world.file_notes
    assert noted.task_id == acknowledgment.task_id
    assert noted.status == "closed"
    assert noted.reason == NOT_ACKNOWLEDGED
    assert noted.file_note == "Interview minutes not acknowledged in time"
    assert world.phase_status[("E007", "interview")] == "completed"
    assert not world.notifications_of("info")


async def test_a_disagreement_needs_a_comment_and_is_told_to_manager_and_hrbp(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    env = time_skipping_env
    world = FakeWorld(env.client, task_queue, twelve_people())
    async with Worker(
        env.client,
        task_queue=task_queue,
        workflows=[ParticipantWorkflow],
        activities=world.activities(),
    ):
        await start(env, world, task_queue, interview_then_results("2"))
        await until(env, lambda: any(t.kind == "interview_minutes" for t in world.open_tasks()))
        minutes = task_of(world, "interview_minutes")
        # Structured minutes are checked on submit: an action item needs its owner.
        with pytest.raises(WorkflowUpdateFailedError):
            await submit(
                env.client,
                minutes,
                {**MINUTES, "action_items": [{"title": "Give a tech talk"}]},
            )
        await submit(env.client, minutes, MINUTES)
        await until(env, lambda: any(t.kind == "acknowledgment" for t in world.open_tasks()))
        acknowledgment = task_of(world, "acknowledgment")

        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await submit(env.client, acknowledgment, {"decision": "disagree"})
        cause = refused.value.cause
        assert isinstance(cause, ApplicationError)
        error = map_application_error(cause)
        assert error.status == 422
        assert error.type == "InvalidPayload"
        assert error.details["errors"] == [
            {"path": "/", "message": "'comment' is a required property"}
        ]
        await submit(
            env.client,
            acknowledgment,
            {"decision": "disagree", "comment": "The talk was my manager's idea."},
        )
        await until(env, lambda: world.phase_status.get(("E007", "results")) == "waiting")

    told = sorted(n.recipient_id for n in world.notifications_of("info"))
    assert told == ["E006", "E010"]
    assert all(n.task_id == acknowledgment.task_id for n in world.notifications_of("info"))
    assert not [
        n for n in world.notifications_of("escalation") if n.task_id == acknowledgment.task_id
    ]
    (recorded,) = acknowledgment.submissions
    assert recorded.payload["comment"] == "The talk was my manager's idea."
    assert world.file_notes == []
