"""Every stock definition runs end to end under time skipping, with simulated people
filling in the real forms (perfloop.fake_forms), and bounded histories.

Opt-in (`make test-stock`, marker `stock_runs`): these runs produce the saved histories
of tests/histories/ (`PERFLOOP_SAVE_HISTORIES=<tag>`), which the replay test checks on
every run. They are kept out of `make test` because the time-skipping server sometimes
stops answering an Update midway through them (4 in 13 runs on 2026-12-02; the two
whose logs were kept, in quarterly-okr, show Core's "Error while completing workflow
activation ... invalid history builder state for action", an answer of the Java test
server that the dev server never gives). Every step is bounded, so that shows as a
failure, not a hang.
"""

from __future__ import annotations

import asyncio
import os
import random
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

import definitions
from definitions.loader import load_file, pin
from definitions.models import EvaluationPhase, GoalSettingPhase
from definitions.pinned import PinnedDefinition
from perfloop.fake_forms import TaskContext, fill_task
from tests.workflows.bot import submit
from tests.workflows.fakes import FakeTask, FakeWorld, finished, settle, twelve_people
from tests.workflows.test_cycle import START_TIMES, nominal_day, save_histories, start_cycle
from workflows.builtin_forms import BUILTIN_FORMS
from workflows.cycle import CycleWorkflow
from workflows.messages import CycleStatus, participant_workflow_id
from workflows.monitor import MonitorWorkflow
from workflows.participant import ParticipantWorkflow

STOCK = sorted((Path(definitions.__file__).parent / "cycles").glob("*/v*.yaml"))
# Temporal warns at 10,240 events; the annual cycle with bi-weekly check-ins must stay
# far below (issue 3's target is 1,500).
PARTICIPANT_HISTORY_LIMIT = 1_500
STEP_SECONDS = 30


def payload_for(pinned: PinnedDefinition, world: FakeWorld, task: FakeTask) -> dict[str, Any]:
    definition = pinned.definition
    phase = definition.phase(task.phase_id)
    schema = pinned.form_schemas.get(task.form_id) or BUILTIN_FORMS[task.form_id]
    evaluation = next((p for p in definition.phases if isinstance(p, EvaluationPhase)), None)
    context = TaskContext(
        kind=task.kind,
        form_schema=schema,
        subject_id=task.subject_id,
        prefill=task.prefill,
        seq=int(task.task_id.rsplit("-", 1)[1]) if task.task_id[-2:-1] == "-" else 1,
        today=task.opened_at.date(),
        goal_setting=phase if isinstance(phase, GoalSettingPhase) else None,
        competencies=[c.id for c in evaluation.competencies] if evaluation else (),
        parent_ids=("org-1",),
        ratings={e: r for e, r in world.ratings.items()},
    )
    return fill_task(context, random.Random(task.task_id))


@pytest.mark.stock_runs
@pytest.mark.parametrize("path", STOCK, ids=[p.parent.name for p in STOCK])
async def test_stock_cycle_runs_to_completion(
    time_skipping_env: WorkflowEnvironment, task_queue: str, path: Path
) -> None:
    env = time_skipping_env
    pinned = pin(load_file(path))
    people = [
        # A few recent hires, so the probation review has someone to review.
        replace(p, hire_date=date(2026, 11, 2)) if p.employee_id in ("E005", "E008") else p
        for p in twelve_people()
    ]
    world = FakeWorld(env.client, task_queue, people)
    cycle_id = f"stock-{path.parent.name}"
    async with Worker(
        env.client,
        task_queue=task_queue,
        workflows=[CycleWorkflow, ParticipantWorkflow, MonitorWorkflow],
        activities=world.activities(),
    ):
        START_TIMES[:] = [await env.get_current_time()]
        cycle = await start_cycle(env, pinned, task_queue, cycle_id)
        for _ in range(400):
            await settle()
            for task in sorted(world.open_tasks(), key=lambda t: t.task_id):
                await asyncio.wait_for(
                    submit(env.client, task, payload_for(pinned, world, task)), STEP_SECONDS
                )
            description = await asyncio.wait_for(cycle.describe(), STEP_SECONDS)
            if description.status is not None and description.status.name != "RUNNING":
                break
            await asyncio.wait_for(env.sleep(timedelta(days=2)), STEP_SECONDS)
        status: CycleStatus = await finished(cycle)
        assert status.status == "completed", f"stuck at day {await nominal_day(env):.0f}"
        assert set(world.participants.values()) == {"completed"}
        assert world.synced or not any(p.kind == "results" for p in pinned.definition.phases)

        # Two people who had tasks of their own: the first and the last, by id.
        subjects = sorted({t.subject_id for t in world.tasks.values() if t.subject_id[0] != "@"})
        sampled = [subjects[0], subjects[-1]]
        lengths = {}
        for employee_id in sampled:
            handle = env.client.get_workflow_handle(participant_workflow_id(cycle_id, employee_id))
            lengths[employee_id] = len((await handle.fetch_history()).events)
        assert max(lengths.values()) < PARTICIPANT_HISTORY_LIMIT, lengths
        print(f"{path.parent.name}: participant history lengths {lengths}")

        tag = os.environ.get("PERFLOOP_SAVE_HISTORIES")
        if tag:
            await save_histories(env, cycle_id, f"{path.parent.name}.{tag}", sampled)
