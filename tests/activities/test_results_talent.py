"""Talent decisions recorded with HR's results approval, with who decided, and what the
HRIS receives for them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import ActivityEnvironment

from activities.hris.embedded import EmbeddedHris
from activities.records import RecordActivities
from activities.results.talent import decisions_by_person
from activities.sync import ResultsSyncActivities
from activities.types import BuildPrefillInput, OpenTaskInput, SyncResultsInput
from definitions.pinned import PinnedDefinition
from store.models import HrisOutbox, PerformanceEvent, ResultProposal, TalentDecision
from tests.activities.conftest import CYCLE, START, launched
from tests.activities.test_records_tasks import fresh, opened, submit
from workflows.messages import group_task_id


async def approval_task(records: RecordActivities, session: Session) -> OpenTaskInput:
    with session.begin():
        for employee, group in (("E100", "Engineering"), ("E101", "Engineering")):
            session.add(ResultProposal(cycle_id=CYCLE, employee_id=employee, group=group))
        session.add(ResultProposal(cycle_id=CYCLE, employee_id="E200", group="Sales"))
    return await opened(
        records,
        OpenTaskInput(
            task_id=group_task_id(CYCLE, "results", "results_approval", "Engineering"),
            cycle_id=CYCLE, workflow_id=f"cycle/{CYCLE}", subject_id="@Engineering",
            assignee_id="E002", phase_id="results", kind="results_approval",
            form_id="results-approval", title="Approve", due_at=START, opened_at=START,
        ),
    )  # fmt: skip


async def test_talent_decisions_are_recorded_with_who_decided_and_replaced_on_resubmission(
    records: RecordActivities, pinned: PinnedDefinition, session: Session
) -> None:
    await launched(records, pinned)
    task = await approval_task(records, session)

    await submit(
        records,
        task,
        {
            "decision": "return",
            "comments": "Recheck E101's bonus",
            "talent_decisions": [
                {"employee_id": "E100", "decision": "promote", "note": "Ready for senior"},
                {"employee_id": "E200", "decision": "retain"},  # not in this group
            ],
        },
    )
    first = fresh(session).scalars(select(TalentDecision)).all()
    assert [(d.employee_id, d.decision, d.decided_by) for d in first] == [
        ("E100", "promote", "E002")
    ]

    await submit(
        records,
        task,
        {
            "decision": "approve",
            "talent_decisions": [
                {"employee_id": "E100", "decision": "promote"},
                {"employee_id": "E100", "decision": "key_position", "position": "Head of QA"},
                {"employee_id": "E101", "decision": "develop"},
            ],
        },
        revision=2,
        submitter="E001",
    )

    rows = fresh(session).scalars(select(TalentDecision).order_by(TalentDecision.id)).all()
    assert [(d.employee_id, d.decision, d.position, d.decided_by) for d in rows] == [
        ("E100", "promote", None, "E001"),
        ("E100", "key_position", "Head of QA", "E001"),
        ("E101", "develop", None, "E001"),
    ]
    assert {d.group for d in rows} == {"Engineering"}
    assert set(decisions_by_person(session, CYCLE, "Engineering")) == {"E100", "E101"}
    timeline = session.scalars(
        select(PerformanceEvent.data)
        .where(PerformanceEvent.kind == "results_approval")
        .order_by(PerformanceEvent.at)
    ).all()
    assert [data["talent_decisions"] for data in timeline] == [1, 3]
    prefill = await records.build_prefill(
        BuildPrefillInput(
            cycle_id=CYCLE, employee_id=None, phase_id="results",
            kind="results_approval", group="Engineering",
        )
    )  # fmt: skip
    assert prefill["talent_decisions"] == [
        {"employee_id": "E100", "decision": "promote"},
        {"employee_id": "E100", "decision": "key_position", "position": "Head of QA"},
        {"employee_id": "E101", "decision": "develop"},
    ]


async def test_the_hris_receives_the_decisions_with_the_talent_flags(
    records: RecordActivities,
    pinned: PinnedDefinition,
    sessions: sessionmaker[Session],
    session: Session,
) -> None:
    await launched(records, pinned)
    task = await approval_task(records, session)
    await submit(
        records,
        task,
        {
            "decision": "approve",
            "talent_decisions": [{"employee_id": "E101", "decision": "retain"}],
        },
    )

    await ActivityEnvironment().run(
        ResultsSyncActivities(sessions, EmbeddedHris(sessions)).sync_results,
        SyncResultsInput(
            cycle_id=CYCLE, group="Engineering", approved_by="E002", targets=("talent_flags",)
        ),
    )

    sent = dict(fresh(session).execute(select(HrisOutbox.employee_id, HrisOutbox.data)).all())
    assert sent["E101"]["decisions"] == [{"decision": "retain", "decided_by": "E002"}]
    assert "decisions" not in sent["E100"]
