"""Seed rows for the read endpoints' tests: people, participants, phases, results."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from store.models import CycleParticipant, Employee, ParticipantPhase, Rating, ResultProposal
from tests.api.conftest import CYCLE_ID, T0


def person(
    employee_id: str,
    name: str,
    *,
    manager: str | None = None,
    department: str = "Engineering",
    title: str = "Engineer",
    active: bool = True,
) -> Employee:
    return Employee(
        employee_id=employee_id,
        name=name,
        email=f"{employee_id.lower()}@example.com",
        manager_id=manager,
        department=department,
        job_title=title,
        active=active,
        salary=Decimal(60000),
        range_midpoint=Decimal(60000),
    )


def participant(
    employee_id: str, *, manager: str | None, group: str = "Engineering", cycle_id: str = CYCLE_ID
) -> CycleParticipant:
    return CycleParticipant(
        cycle_id=cycle_id,
        employee_id=employee_id,
        group=group,
        manager_id=manager,
        joined_at=T0,
        profile={"employee_id": employee_id},
    )


def phase(
    employee_id: str, phase_id: str, status: str, *, day: int, cycle_id: str = CYCLE_ID
) -> ParticipantPhase:
    return ParticipantPhase(
        cycle_id=cycle_id,
        employee_id=employee_id,
        phase_id=phase_id,
        group="Engineering",
        status=status,
        updated_at=T0 + timedelta(days=day),
    )


def rating(
    employee_id: str,
    computed: int | None,
    *,
    calibrated: int | None = None,
    final: int | None = None,
) -> Rating:
    return Rating(
        cycle_id=CYCLE_ID,
        employee_id=employee_id,
        score=float(computed) if computed is not None else None,
        rating=computed,
        calibrated_rating=calibrated,
        final_rating=final,
    )


def proposal(employee_id: str, box: str | None, *, group: str = "Engineering") -> ResultProposal:
    return ResultProposal(cycle_id=CYCLE_ID, employee_id=employee_id, group=group, nine_box=box)


def add(session: Session, *rows: object) -> None:
    session.add_all(rows)
    session.commit()
