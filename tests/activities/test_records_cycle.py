"""Record activities of the cycle: its row, who takes part, and the progress read model.

Activities are called directly (they are plain async methods) against the test store,
with the fake HRIS and notifier of `conftest`. Every write is called twice: a retried
activity must find its work done.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from activities.records import RecordActivities, is_selected, select_participants
from activities.types import (
    CloseCycleInput,
    CycleProgress,
    CycleProgressInput,
    ParticipantProfile,
    PhaseStatus,
    RecordPhaseInput,
    SnapshotParticipantsInput,
    SyncPopulationInput,
)
from definitions.models import Participants
from definitions.pinned import PinnedDefinition
from store.models import Cycle, CycleParticipant, Objective, ParticipantPhase
from tests.activities.conftest import (
    AS_OF,
    CYCLE,
    START,
    FakeHris,
    cycle_input,
    launched,
    org,
    person,
)

SELECTED = ["E001", "E100", "E101", "E102", "E200"]
PHASES = ("goals", "monitoring", "evaluation", "interview", "results")


def fresh(session: Session) -> Session:
    """End the session's read snapshot, to see what the activities committed since."""
    session.rollback()
    return session


def participants(session: Session, cycle_id: str = CYCLE) -> dict[str, CycleParticipant]:
    rows = fresh(session).scalars(
        select(CycleParticipant).where(CycleParticipant.cycle_id == cycle_id)
    )
    return {row.employee_id: row for row in rows}


# --- the cycle row ----------------------------------------------------------------------


async def test_record_cycle_writes_one_row_and_its_org_objectives(
    records: RecordActivities, session: Session
) -> None:
    await records.record_cycle(cycle_input(launched_by="E002"))
    await records.record_cycle(cycle_input(launched_by="E002"))

    cycle = fresh(session).get(Cycle, CYCLE)
    assert cycle is not None
    assert (cycle.status, cycle.definition_ref, cycle.launched_by) == (
        "running",
        "annual-review@1",
        "E002",
    )
    assert cycle.nominal_start == START
    assert cycle.nominal_start.tzinfo is not None
    objectives = session.scalars(select(Objective).order_by(Objective.objective_id)).all()
    assert [(o.objective_id, o.level, o.title) for o in objectives] == [
        ("grow", "org", "Grow revenue 20%"),
        ("org-2", "org", "Happy customers"),
    ]


async def test_a_finished_cycle_never_goes_back_to_running(
    records: RecordActivities, session: Session
) -> None:
    await records.record_cycle(cycle_input())
    await records.record_cycle(cycle_input(status="completed", org_objectives=()))
    await records.record_cycle(cycle_input(status="running", org_objectives=()))

    cycle = fresh(session).get(Cycle, CYCLE)
    assert cycle is not None
    assert cycle.status == "completed"
    assert session.scalars(select(Objective)).all() == []


async def test_close_cycle_cancels_the_participants_still_active(
    records: RecordActivities, pinned: PinnedDefinition, session: Session
) -> None:
    await launched(records, pinned)
    await records.record_phase(_phase("E001", "goals", "completed"))

    await records.close_cycle(CloseCycleInput(cycle_id=CYCLE, status="cancelled"))
    await records.close_cycle(CloseCycleInput(cycle_id=CYCLE, status="cancelled"))

    assert fresh(session).get(Cycle, CYCLE).status == "cancelled"  # type: ignore[union-attr]
    assert {row.status for row in participants(session).values()} == {"cancelled"}


# --- who takes part ---------------------------------------------------------------------


def test_selection_filters_and_include_exclude() -> None:
    everyone = Participants()
    engineering = Participants(departments=("Engineering",), min_tenure_days=90)
    on = date(2027, 1, 4)

    assert is_selected(person("X"), everyone, on)
    assert not is_selected(person("X", active=False), everyone, on)
    assert not is_selected(person("X", terminated_on=on), everyone, on)
    assert is_selected(person("X", terminated_on=on + timedelta(days=1)), everyone, on)
    assert not is_selected(person("X", hire_date=on + timedelta(days=1)), everyone, on)
    assert not is_selected(person("X", "Sales"), engineering, on)
    assert not is_selected(person("X", hire_date=on - timedelta(days=89)), engineering, on)
    assert is_selected(person("X", hire_date=on - timedelta(days=90)), engineering, on)
    assert not is_selected(person("X", hire_date=None), engineering, on)
    assert not is_selected(person("X", location="Paris"), Participants(locations=("Berlin",)), on)
    # include and exclude win over the filters, but never bring back a leaver
    assert is_selected(person("X", "Sales"), Participants(departments=("HR",), include=("X",)), on)
    assert not is_selected(person("X"), Participants(exclude=("X",)), on)
    assert not is_selected(person("X", active=False), Participants(include=("X",)), on)


def test_profiles_hold_the_org_chart_and_nothing_personal(pinned: PinnedDefinition) -> None:
    profiles = {
        p.employee_id: p for p in select_participants(org(), pinned.definition.participants, AS_OF)
    }

    assert sorted(profiles) == SELECTED
    assert profiles["E101"] == ParticipantProfile(
        employee_id="E101",
        manager_id="E100",
        skip_level_id="E001",
        department="Engineering",
        location="Berlin",
        employment_type="full_time",
        hire_date=date(2020, 1, 1),
        direct_reports=0,
        level=2,
    )
    # E103 (a contractor) reports to E100 and counts; E104 left and does not.
    assert profiles["E100"].direct_reports == 3
    assert profiles["E001"].direct_reports == 1
    dumped = profiles["E101"].model_dump_json()
    assert "Person" not in dumped
    assert "example.com" not in dumped
    assert "salary" not in dumped


async def test_snapshot_writes_each_participant_once_and_counts_groups(
    records: RecordActivities, pinned: PinnedDefinition, session: Session
) -> None:
    await records.record_cycle(cycle_input())
    snapshot = SnapshotParticipantsInput(
        cycle_id=CYCLE, selection=pinned.definition.participants, as_of=AS_OF
    )

    first = await records.snapshot_participants(snapshot)
    again = await records.snapshot_participants(snapshot)

    assert first == again
    assert first.count == 5
    assert first.groups == {"Engineering": 4, "Sales": 1}
    rows = participants(session)
    assert sorted(rows) == SELECTED
    row = rows["E101"]
    assert (row.group, row.manager_id, row.status, row.joined_late) == (
        "Engineering",
        "E100",
        "active",
        False,
    )
    assert row.joined_at == datetime(2027, 1, 4, tzinfo=UTC)
    assert ParticipantProfile.model_validate(row.profile).skip_level_id == "E001"


async def test_snapshot_runs_in_an_activity_context(
    records: RecordActivities, pinned: PinnedDefinition
) -> None:
    from temporalio.testing import ActivityEnvironment

    await records.record_cycle(cycle_input())
    result = await ActivityEnvironment().run(
        records.snapshot_participants,
        SnapshotParticipantsInput(
            cycle_id=CYCLE, selection=pinned.definition.participants, as_of=AS_OF
        ),
    )

    assert result.count == 5


async def test_sync_adds_joiners_and_marks_leavers_and_a_retry_says_the_same(
    records: RecordActivities, pinned: PinnedDefinition, hris: FakeHris, session: Session
) -> None:
    await launched(records, pinned)
    # E201 passes 90 days of tenure by March; E102 leaves at the end of February.
    hris.replace("E102", terminated_on=date(2027, 2, 28))
    sync = SyncPopulationInput(
        cycle_id=CYCLE, selection=pinned.definition.participants, as_of=date(2027, 3, 1)
    )

    first = await records.sync_population(sync)
    retried = await records.sync_population(sync)

    assert first.joined == ("E201",)
    assert first.left == ("E102",)
    assert retried == first
    rows = participants(session)
    assert len(rows) == 6
    assert (rows["E201"].joined_late, rows["E201"].status) == (True, "active")
    assert rows["E201"].joined_at == datetime(2027, 3, 1, tzinfo=UTC)
    assert (rows["E102"].status, rows["E102"].left_at) == (
        "left",
        datetime(2027, 3, 1, tzinfo=UTC),
    )

    later = await records.sync_population(sync.model_copy(update={"as_of": date(2027, 3, 8)}))
    assert later.joined == ()
    assert later.left == ()


async def test_sync_takes_an_empty_hris_for_an_outage(
    records: RecordActivities, pinned: PinnedDefinition, hris: FakeHris, session: Session
) -> None:
    await launched(records, pinned)
    hris.people = []

    result = await records.sync_population(
        SyncPopulationInput(cycle_id=CYCLE, selection=pinned.definition.participants, as_of=AS_OF)
    )

    assert result.left == ()
    assert {row.status for row in participants(session).values()} == {"active"}


# --- phases and progress ----------------------------------------------------------------


def _phase(
    employee: str, phase: str, status: PhaseStatus, group: str = "Engineering"
) -> RecordPhaseInput:
    return RecordPhaseInput(
        cycle_id=CYCLE,
        employee_id=employee,
        group=group,
        phase_id=phase,
        status=status,
        at=START + timedelta(days=1),
    )


async def test_record_phase_keeps_one_row_per_participant_and_phase(
    records: RecordActivities, pinned: PinnedDefinition, session: Session
) -> None:
    await launched(records, pinned)

    await records.record_phase(_phase("E101", "goals", "active"))
    await records.record_phase(_phase("E101", "goals", "active"))
    await records.record_phase(_phase("E101", "goals", "completed"))

    rows = fresh(session).scalars(select(ParticipantPhase)).all()
    assert [(r.employee_id, r.phase_id, r.status, r.group) for r in rows] == [
        ("E101", "goals", "completed", "Engineering")
    ]


async def test_a_cancelled_phase_withdraws_the_participant_unless_they_left(
    records: RecordActivities, pinned: PinnedDefinition, hris: FakeHris, session: Session
) -> None:
    await launched(records, pinned)
    hris.replace("E102", active=False)
    await records.sync_population(
        SyncPopulationInput(cycle_id=CYCLE, selection=pinned.definition.participants, as_of=AS_OF)
    )

    await records.record_phase(_phase("E101", "goals", "cancelled"))
    await records.record_phase(_phase("E102", "goals", "cancelled"))

    rows = participants(session)
    assert rows["E101"].status == "cancelled"
    assert rows["E101"].left_at is not None
    assert rows["E102"].status == "left"


async def test_progress_counts_phases_and_participants(
    records: RecordActivities, pinned: PinnedDefinition
) -> None:
    await launched(records, pinned)
    for employee in ("E001", "E100", "E101"):
        await records.record_phase(_phase(employee, "goals", "completed"))
    await records.record_phase(_phase("E102", "goals", "active"))
    await records.record_phase(_phase("E200", "goals", "skipped", "Sales"))

    progress = await records.cycle_progress(CycleProgressInput(cycle_id=CYCLE, phase_ids=PHASES))

    assert (progress.participants, progress.active, progress.finished) == (5, 5, 0)
    goals = progress.phases["goals"]
    assert (goals.pending, goals.active, goals.completed, goals.skipped) == (0, 1, 3, 1)
    assert progress.phases["monitoring"].pending == 5
    assert progress.groups_waiting == {}
    # Nobody has passed monitoring; E102 has not passed goals.
    assert progress.groups_active["goals"] == {"Engineering": 1}
    assert progress.groups_active["monitoring"] == {"Engineering": 4, "Sales": 1}


async def test_progress_opens_a_group_gate_only_when_everyone_still_in_it_waits(
    records: RecordActivities, pinned: PinnedDefinition, hris: FakeHris
) -> None:
    """Mirrors `CycleWorkflow._open_when_group_ready`: a gate opens for a group when
    `groups_waiting[phase][group] == groups_active[phase][group]`."""
    await launched(records, pinned)

    def ready(progress: CycleProgress, phase: str, group: str) -> bool:
        waiting = progress.groups_waiting.get(phase, {}).get(group, 0)
        active = progress.groups_active.get(phase, {}).get(group, 0)
        return waiting > 0 and waiting == active

    for employee in ("E001", "E100", "E101"):
        await records.record_phase(_phase(employee, "evaluation", "waiting"))
    await records.record_phase(_phase("E200", "evaluation", "waiting", "Sales"))
    await records.record_phase(_phase("E102", "evaluation", "active"))
    check = CycleProgressInput(cycle_id=CYCLE, phase_ids=PHASES)

    progress = await records.cycle_progress(check)
    assert progress.groups_waiting["evaluation"] == {"Engineering": 3, "Sales": 1}
    assert progress.groups_active["evaluation"] == {"Engineering": 4, "Sales": 1}
    assert ready(progress, "evaluation", "Sales")
    assert not ready(progress, "evaluation", "Engineering")

    # E102 leaves: they no longer hold Engineering back.
    hris.replace("E102", active=False)
    await records.sync_population(
        SyncPopulationInput(cycle_id=CYCLE, selection=pinned.definition.participants, as_of=AS_OF)
    )
    await records.record_phase(_phase("E102", "evaluation", "cancelled"))
    progress = await records.cycle_progress(check)
    assert ready(progress, "evaluation", "Engineering")
    assert (progress.active, progress.finished) == (4, 1)

    # A late joiner still in goal setting holds the gate closed again.
    hris.replace("E201", hire_date=date(2026, 1, 1))
    await records.sync_population(
        SyncPopulationInput(
            cycle_id=CYCLE, selection=pinned.definition.participants, as_of=date(2027, 11, 1)
        )
    )
    progress = await records.cycle_progress(check)
    assert not ready(progress, "evaluation", "Sales")


async def test_participants_through_every_phase_are_marked_completed(
    records: RecordActivities, pinned: PinnedDefinition, session: Session
) -> None:
    await launched(records, pinned)
    for phase in PHASES:
        await records.record_phase(_phase("E101", phase, "completed"))
    for phase in PHASES[:-1]:
        await records.record_phase(_phase("E100", phase, "completed"))
    await records.record_phase(_phase("E100", PHASES[-1], "skipped"))
    await records.record_phase(_phase("E001", PHASES[0], "completed"))

    progress = await records.cycle_progress(CycleProgressInput(cycle_id=CYCLE, phase_ids=PHASES))

    assert (progress.participants, progress.active, progress.finished) == (5, 3, 2)
    rows = participants(session)
    assert rows["E101"].status == rows["E100"].status == "completed"
    assert rows["E001"].status == "active"


@pytest.mark.parametrize("cycle_id", ["other-cycle"])
async def test_progress_of_one_cycle_ignores_another(
    records: RecordActivities, pinned: PinnedDefinition, cycle_id: str
) -> None:
    await launched(records, pinned)
    await launched(records, pinned, cycle_id)
    await records.record_phase(_phase("E101", "goals", "waiting"))

    progress = await records.cycle_progress(CycleProgressInput(cycle_id=cycle_id, phase_ids=PHASES))

    assert progress.groups_waiting == {}
    assert progress.participants == 5
