"""The 360 in the evaluation phase under time skipping: nomination, approval with a
removal and additions, assignment under the per-reviewer cap, a decline with its
replacement, reviews recorded, and the peer group counted in the score."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

import definitions
from activities.types import ClockSpec
from definitions.loader import load_file, pin
from definitions.models import EvaluationPhase, GroupAnonymity, PeerReview
from definitions.pinned import PinnedDefinition
from perfloop.fake_forms import TaskContext, fill_task
from tests.workflows.bot import submit
from tests.workflows.fakes import FakeTask, FakeWorld, finished, settle, twelve_people
from workflows.builtin_forms import BUILTIN_FORMS
from workflows.messages import ParticipantInput, ParticipantStatus, participant_workflow_id
from workflows.participant import ParticipantWorkflow

ANNUAL = Path(definitions.__file__).parent / "cycles" / "annual-review" / "v1.yaml"
CYCLE = "c360"
PEER_PAYLOAD = {
    "competencies": {"collaboration": 5},
    "rating": 5,
    "strengths": "Always helps.",
    "improvements": "Write more down.",
}


def evaluation_only(
    peers: PeerReview | None = None, *, sha: str = "1", escalate_to: str = "hrbp"
) -> PinnedDefinition:
    """annual-review's evaluation phase alone: opens on day 1, no calibration gate,
    2 to 4 peers and at most 2 requests per reviewer."""
    pinned = pin(load_file(ANNUAL))
    phase = next(p for p in pinned.definition.phases if isinstance(p, EvaluationPhase))
    assert phase.escalation is not None
    phase = phase.model_copy(
        update={
            "window": phase.window.model_copy(update={"opens": "P1D", "due": "P21D"}),
            "peers": peers or PeerReview(min_peers=2, max_peers=4, max_requests_per_reviewer=2),
            "anonymity": {"peers": GroupAnonymity(scores_threshold=3, comments_threshold=3)},
            "calibration": None,
            "escalation": phase.escalation.model_copy(update={"to": escalate_to}),
        }
    )
    definition = pinned.definition.model_copy(update={"phases": (phase,)})
    # Another sha: decoded workflow inputs are shared per (ref, sha256), and the stock
    # annual-review may already be decoded in this process (the replay tests).
    return pinned.model_copy(
        update={"definition": definition, "sha256": "0" * 63 + sha, "ref": f"annual-360-{sha}@1"}
    )


def filled(pinned: PinnedDefinition, task: FakeTask) -> dict[str, Any]:
    schema = pinned.form_schemas.get(task.form_id) or BUILTIN_FORMS[task.form_id]
    phase = pinned.definition.phases[0]
    assert isinstance(phase, EvaluationPhase)
    context = TaskContext(
        kind=task.kind,
        form_schema=schema,
        subject_id=task.subject_id,
        prefill=task.prefill,
        competencies=[c.id for c in phase.competencies],
    )
    return fill_task(context, random.Random(task.task_id))


def one(world: FakeWorld, kind: str) -> FakeTask:
    (task,) = [t for t in world.open_tasks() if t.kind == kind]
    return task


async def until(env: WorkflowEnvironment, condition: Any) -> None:
    """Let the workflow run (and nominal time pass, in hours) until `condition` holds."""
    for _ in range(200):
        await settle()
        if condition():
            return
        await env.sleep(timedelta(hours=6))
    raise AssertionError("condition never held")


async def test_nomination_approval_cap_decline_and_score(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    env = time_skipping_env
    pinned = evaluation_only()
    world = FakeWorld(env.client, task_queue, twelve_people())
    # E010 already carries two peer-review requests of this cycle: at the cap.
    now = await env.get_current_time()
    for n in (1, 2):
        world.tasks[f"{CYCLE}/E00{n}/evaluation/peer_review"] = FakeTask(
            task_id=f"{CYCLE}/E00{n}/evaluation/peer_review",
            workflow_id="elsewhere",
            subject_id=f"E00{n}",
            assignee_id="E010",
            phase_id="evaluation",
            kind="peer_review",
            form_id="peer-review",
            status="open",
            due_at=now + timedelta(days=30),
            opened_at=now,
            prefill={},
        )
    async with Worker(
        env.client,
        task_queue=task_queue,
        workflows=[ParticipantWorkflow],
        activities=world.activities(),
    ):
        handle: WorkflowHandle[Any, Any] = await env.client.start_workflow(
            ParticipantWorkflow.run,
            ParticipantInput(
                cycle_id=CYCLE,
                profile=world.profile("E007"),
                pinned=pinned,
                clock=ClockSpec(nominal_start=now, real_start=now, scale=1.0),
                use_search_attributes=False,
                hr_admins=("E001",),
            ),
            id=participant_workflow_id(CYCLE, "E007"),
            task_queue=task_queue,
        )
        await until(env, lambda: any(t.kind == "peer_nomination" for t in world.open_tasks()))

        # 1. The employee nominates: teammates first in the prefill; bounds enforced.
        nomination = one(world, "peer_nomination")
        assert nomination.assignee_id == "E007"
        assert nomination.prefill["peers"] == ["E008", "E009", "E010"]
        for bad in (["E008"], ["E007", "E008", "E009"]):
            with pytest.raises(WorkflowUpdateFailedError):
                await submit(env.client, nomination, {"peers": bad})
        await submit(env.client, nomination, {"peers": ["E008", "E009", "E010"]})

        # 2. The manager removes one and adds two from other departments.
        await until(env, lambda: any(t.kind == "peer_approval" for t in world.open_tasks()))
        approval = one(world, "peer_approval")
        assert approval.assignee_id == "E006"
        assert approval.prefill["nominated"] == ["E008", "E009", "E010"]
        await submit(env.client, approval, {"remove": ["E009"], "add": ["E011", "E005"]})

        # 3. Assignment under the cap: E010 is at capacity and reported.
        await until(env, lambda: sum(t.kind == "peer_review" for t in world.open_tasks()) >= 5)
        assigned = world.assigned["E007"]
        assert assigned.peers == ("E011", "E005", "E008")
        assert assigned.capped == ("E010",)
        reviews = {
            t.assignee_id: t
            for t in world.open_tasks()
            if t.kind == "peer_review" and t.subject_id == "E007"
        }
        assert set(reviews) == {"E011", "E005", "E008"}
        assert {t.workflow_id for t in reviews.values()} == {participant_workflow_id(CYCLE, "E007")}
        assert max(world.reviewer_load().values()) <= 2

        # 4. A decline needs a reason; then a replacement under the cap is asked.
        with pytest.raises(WorkflowUpdateFailedError):
            await submit(env.client, reviews["E005"], {"decline": True})
        await submit(
            env.client, reviews["E005"], {"decline": True, "reason": "Barely worked together."}
        )
        await until(env, lambda: any(t.assignee_id == "E009" for t in world.open_tasks()))
        (replacement,) = [t for t in world.open_tasks() if t.assignee_id == "E009"]
        assert replacement.kind == "peer_review"
        assert replacement.task_id.endswith("/peer_review-4")
        (declined,) = world.replacements
        assert declined.declined_by == "E005"
        assert declined.reason == "Barely worked together."
        assert max(world.reviewer_load().values()) <= 2

        # 5. The reviews, the self and manager reviews; the score counts the peers.
        for reviewer in ("E011", "E008"):
            await submit(env.client, reviews[reviewer], PEER_PAYLOAD)
        await submit(env.client, replacement, PEER_PAYLOAD)
        for kind in ("self_review", "manager_review"):
            task = one(world, kind)
            payload = {**filled(pinned, task), "rating": 3}
            await submit(env.client, task, payload)
        status: ParticipantStatus = await finished(handle)
        assert status.status == "completed"

    peer_reviews = [r for r in world.reviews_of("E007") if r.kind == "peer"]
    assert sorted(r.reviewer_id for r in peer_reviews) == ["E008", "E009", "E011"]
    assert world.ratings["E007"] is not None
    scored = world.score_results["E007"]
    assert scored.sources["peer_review"] == 5.0
    # self 3 (10), manager 3 (35), peers 5 (15); no goals, no upward: re-normalised.
    assert scored.score == pytest.approx((10 * 3 + 35 * 3 + 15 * 5) / 60, abs=0.01)


async def test_a_manager_without_approval_gets_upward_reviews(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    """`approved_by: none`: the nomination goes straight to assignment. E006 manages E007,
    E008 and E009, who get upward-review tasks; the only colleague to suggest is E010 (a
    lowered minimum). One peer is under the peers' threshold: only the direct reports'
    group counts in the score. The phase escalates to the manager; the anonymous reviews
    to the HRBP instead."""
    env = time_skipping_env
    pinned = evaluation_only(
        PeerReview(min_peers=2, max_peers=4, approved_by="none"), sha="2", escalate_to="manager"
    )
    world = FakeWorld(env.client, task_queue, twelve_people())
    now = await env.get_current_time()
    async with Worker(
        env.client,
        task_queue=task_queue,
        workflows=[ParticipantWorkflow],
        activities=world.activities(),
    ):
        handle: WorkflowHandle[Any, Any] = await env.client.start_workflow(
            ParticipantWorkflow.run,
            ParticipantInput(
                cycle_id=CYCLE,
                profile=world.profile("E006"),
                pinned=pinned,
                clock=ClockSpec(nominal_start=now, real_start=now, scale=1.0),
                use_search_attributes=False,
                hr_admins=("E001",),
            ),
            id=participant_workflow_id(CYCLE, "E006"),
            task_queue=task_queue,
        )
        await until(env, lambda: any(t.kind == "peer_nomination" for t in world.open_tasks()))
        nomination = one(world, "peer_nomination")
        assert nomination.prefill["peers"] == ["E010"]
        await submit(env.client, nomination, {"peers": ["E010"]})
        # The three upward reviews open one activity at a time: wait for all of them, not
        # the first (on a slow machine the check otherwise sees two).
        await until(env, lambda: sum(t.kind == "upward_review" for t in world.open_tasks()) >= 3)
        assert not [t for t in world.tasks.values() if t.kind == "peer_approval"]
        upward = sorted(
            (t for t in world.open_tasks() if t.kind == "upward_review"), key=lambda t: t.task_id
        )
        assert [t.assignee_id for t in upward] == ["E007", "E008", "E009"]
        (peer,) = [t for t in world.open_tasks() if t.kind == "peer_review"]
        assert peer.assignee_id == "E010"
        # Upward reviews cannot be declined.
        with pytest.raises(WorkflowUpdateFailedError):
            await submit(env.client, upward[0], {"decline": True, "reason": "Rather not."})
        for task in [*upward[1:], peer]:
            await submit(env.client, task, {**PEER_PAYLOAD, "rating": 4})
        task = one(world, "self_review")
        await submit(env.client, task, {**filled(pinned, task), "rating": 3})

        # Left open past the due date (day 21) and the escalation delay (2 days): the
        # anonymous review escalates to Engineering's HRBP (E010), the manager review to
        # E006's manager (E001), as the phase says.
        def escalated() -> dict[str | None, str]:
            return {n.task_id: n.recipient_id for n in world.notifications_of("escalation")}

        manager_review = one(world, "manager_review")
        await until(env, lambda: len(escalated()) >= 2)
        assert escalated()[upward[0].task_id] == "E010"
        assert escalated()[manager_review.task_id] == "E001"
        await submit(env.client, upward[0], {**PEER_PAYLOAD, "rating": 4})
        await submit(env.client, manager_review, {**filled(pinned, manager_review), "rating": 3})
        status: ParticipantStatus = await finished(handle)
        assert status.status == "completed"

    scored = world.score_results["E006"]
    assert scored.sources.get("upward_review") == 4.0
    assert "peer_review" not in scored.sources
