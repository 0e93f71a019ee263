"""Strategy change mid-cycle under time skipping: HR changes an org objective through
the API's service, which finds in the store the owners of goals aligned below it and
signals their participant workflows; each of them, and nobody else, gets a re-align
task, and after it the manager's review of the re-aligned goals."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.auth import Principal, Role
from api.permissions import PERMISSIONS, Access
from api.schemas.goals import ObjectiveChange
from api.services.objectives import change_objective
from definitions.pinned import PinnedDefinition
from store.db import session_factory, session_scope
from store.models import Cycle, Goal, Objective
from tests.workflows.bot import submit, submit_open_tasks
from tests.workflows.fakes import FakeWorld, settle, twelve_people
from tests.workflows.test_cycle import NOMINAL_START, START_TIMES, nominal_day, start_cycle
from workflows.cycle import CycleWorkflow
from workflows.participant import ParticipantWorkflow
from workflows.phases.realign import RealignSignal

CYCLE = "realign"
GOALS = [
    # id, owner, parent, status
    ("g-4", "E004", "sales-1", "approved"),  # below org-1 through Sales' objective
    ("g-3", "E003", "sales-1", "approved"),  # the manager's goal ...
    ("g-5", "E005", "g-3", "approved"),  # ... which E005 aligned to
    ("g-12", "E012", "org-2", "approved"),  # another org objective: not affected
    ("g-7", "E007", "org-1", "dropped"),  # closed goals are not re-aligned
    ("g-8", "E008", None, "approved"),  # not aligned at all
]


def seed(url: str) -> None:
    with session_scope(url) as session:
        session.add(
            Cycle(cycle_id=CYCLE, definition_ref="engine-test@1", sha256="0" * 64,
                  nominal_start=NOMINAL_START, nominal_end=NOMINAL_START + timedelta(days=365))
        )  # fmt: skip
        session.flush()
        session.add_all(
            [
                Objective(cycle_id=CYCLE, objective_id="org-1", level="org", title="Grow"),
                Objective(cycle_id=CYCLE, objective_id="org-2", level="org", title="Care"),
                Objective(cycle_id=CYCLE, objective_id="sales-1", level="department",
                          group="Sales", parent_id="org-1", title="Sell more"),
            ]
        )  # fmt: skip
        for goal_id, owner, parent, status in GOALS:
            session.add(
                Goal(id=goal_id, cycle_id=CYCLE, owner_id=owner, task_id="t", title=goal_id,
                     type="okr", weight=100, parent_id=parent, status=status, target={})
            )  # fmt: skip


async def test_strategy_change_reaches_the_right_people_and_no_others(
    time_skipping_env: WorkflowEnvironment,
    engine_test_pinned: PinnedDefinition,
    task_queue: str,
    db: str,
) -> None:
    env = time_skipping_env
    world = FakeWorld(env.client, task_queue, twelve_people())
    seed(db)
    hr = Access(
        user=Principal(subject="E001", roles=frozenset({Role.HR_ADMIN}), issuer="test"),
        permission=PERMISSIONS["objectives:manage"],
        request_id="test",
    )
    async with Worker(
        env.client,
        task_queue=task_queue,
        workflows=[CycleWorkflow, ParticipantWorkflow],
        activities=world.activities(),
    ):
        START_TIMES[:] = [await env.get_current_time()]
        await start_cycle(env, engine_test_pinned, task_queue, CYCLE)
        # Goal setting done: everyone's goals approved, the cycle is monitoring.
        while await nominal_day(env) < 20:
            await settle()
            await submit_open_tasks(env.client, world)
            await env.sleep(timedelta(days=2))
        await settle()
        before = {t.task_id for t in world.tasks.values()}

        with session_factory(db)() as session:
            answer = await change_objective(
                session, env.client, hr, CYCLE, "org-1",
                ObjectiveChange(title="Grow profitably", reason="The board moved to profit"),
            )  # fmt: skip
        assert answer.realign_sent_to == ["E003", "E004", "E005"]
        assert answer.not_reached == []
        for _ in range(20):
            await settle()
            if len(world.open_tasks()) >= 3:
                break
        realign = sorted(
            (t for t in world.tasks.values() if t.task_id not in before),
            key=lambda t: t.subject_id,
        )
        assert [(t.subject_id, t.assignee_id, t.kind) for t in realign] == [
            ("E003", "E003", "goal_realign"),
            ("E004", "E004", "goal_realign"),
            ("E005", "E005", "goal_realign"),
        ]
        task = realign[1]
        assert task.task_id == f"{CYCLE}/E004/goals/goal_realign"
        assert task.prefill["strategy_change"]["objective_id"] == "org-1"
        assert task.prefill["strategy_change"]["reason"] == "The board moved to profit"
        assert task.due_at > task.opened_at + timedelta(days=13)

        # E004 re-aligns; the manager (E003) then reviews the change.
        goals = [{"title": "Grow profitably", "type": "okr", "weight": 100, "parent_id": "org-1"}]
        # The phase's goal rules hold for a re-align as for a draft.
        with pytest.raises(WorkflowUpdateFailedError):
            await submit(env.client, task, {"goals": [{**goals[0], "weight": 50}]})
        result = await submit(env.client, task, {"goals": goals})
        assert result.status == "submitted"
        for _ in range(20):
            await settle()
            if any(t.kind == "goal_realign_review" for t in world.tasks.values()):
                break
        [review] = [t for t in world.tasks.values() if t.kind == "goal_realign_review"]
        assert (review.subject_id, review.assignee_id) == ("E004", "E003")
        assert review.prefill["goals"] == goals
        await submit(env.client, review, {"decision": "approve"})
        await settle()
        assert [s.payload for s in review.submissions] == [{"decision": "approve"}]
        # The same change signalled again opens nothing; another change opens round 2.
        handle = env.client.get_workflow_handle(f"cycle/{CYCLE}/E004")
        count = len(world.tasks)
        same = RealignSignal(key="k1", objective_id="org-2", objective_title="Care",
                             change="dropped", reason="r", changed_by="E001")  # fmt: skip
        await handle.signal("realign_goals", same)
        await handle.signal("realign_goals", same)
        await settle(0.3)
        assert len(world.tasks) == count + 1
        assert world.tasks[f"{CYCLE}/E004/goals/goal_realign-2"].status == "open"
