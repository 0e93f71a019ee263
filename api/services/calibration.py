"""Calibration for the people who run it, and bias statistics for HR.

A calibration group's picture (`activities.evaluation_store.calibration_picture`): the
distribution of final ratings against the guideline, each member's score, sources and
outlier reasons, their managers' bias statistics (from manager reviews only: peer and
upward reviewers never appear), the changes made so far and the group's calibration
task, whose form records changes (each with its mandatory reason). Calibrators are the
holders of the group's task, its HRBPs and HR admins; anyone else gets the 404 of a
missing group. Both reads are audited (`rating.read`; `review.read` for the bias list,
which names peer and upward reviewers: HR admins only).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from activities import evaluation_store
from api.errors import NotFound
from api.permissions import Access
from api.schemas.calibration import (
    BiasStatistics,
    CalibrationChangePublic,
    CalibrationGroup,
    CalibrationTaskRef,
    ReviewerBias,
)
from api.services import audit
from definitions.models import EvaluationPhase
from store.models import CalibrationChange, Cycle, CycleParticipant, Employee, Task


def _phase(session: Session, cycle_id: str) -> EvaluationPhase:
    if session.get(Cycle, cycle_id) is None:
        raise NotFound(f"no cycle {cycle_id}", type="CycleNotFound")
    phase = evaluation_store.evaluation_phase(evaluation_store.definition_of(session, cycle_id))
    if phase is None:
        raise NotFound(f"cycle {cycle_id} has no evaluation phase", type="PhaseNotFound")
    return phase


def calibration_group(
    session: Session, access: Access, cycle_id: str, group: str
) -> CalibrationGroup:
    missing = NotFound(f"cycle {cycle_id} has no group {group}", type="GroupNotFound")
    access.check(session, f"@{group}", not_found=missing)
    phase = _phase(session, cycle_id)
    members = select(CycleParticipant.id).where(
        CycleParticipant.cycle_id == cycle_id, CycleParticipant.group == group
    )
    group_tasks = select(Task.task_id).where(
        Task.cycle_id == cycle_id, Task.subject_id == f"@{group}"
    )
    if session.scalar(members.limit(1)) is None and session.scalar(group_tasks.limit(1)) is None:
        raise missing
    picture = evaluation_store.calibration_picture(session, cycle_id, group, phase)
    names = dict(
        session.execute(
            select(Employee.employee_id, Employee.name).where(
                Employee.employee_id.in_([m["employee_id"] for m in picture["members"]])
            )
        ).all()
    )
    changes = session.scalars(
        select(CalibrationChange)
        .where(CalibrationChange.cycle_id == cycle_id, CalibrationChange.group == group)
        .order_by(CalibrationChange.at, CalibrationChange.id)
    ).all()
    task = session.scalar(
        select(Task)
        .where(
            Task.cycle_id == cycle_id,
            Task.subject_id == f"@{group}",
            Task.kind == "calibration",
        )
        .order_by(Task.opened_at.desc())
        .limit(1)
    )
    audit.record(
        session,
        access,
        "rating.read",
        resource_type="calibration",
        resource_id=f"{cycle_id}/{group}",
        subject_id=f"@{group}",
    )
    session.commit()
    return CalibrationGroup(
        cycle_id=cycle_id,
        group=group,
        tolerance_points=picture["tolerance_points"],
        distribution=picture["distribution"],
        members=[{**m, "name": names.get(m["employee_id"])} for m in picture["members"]],
        outliers=picture["outliers"],
        managers=picture["managers"],
        score_mean=picture["score_mean"],
        score_stddev=picture["score_stddev"],
        changes=[CalibrationChangePublic.model_validate(c) for c in changes],
        task=CalibrationTaskRef.model_validate(task) if task else None,
    )


def bias_statistics(session: Session, access: Access, cycle_id: str) -> BiasStatistics:
    phase = _phase(session, cycle_id)
    report = evaluation_store.bias_statistics(session, cycle_id, phase)
    audit.record(
        session,
        access,
        "review.read",
        resource_type="bias",
        resource_id=cycle_id,
        subject_id=None,
    )
    session.commit()
    return BiasStatistics(
        cycle_id=cycle_id,
        population_mean=report.population_mean,
        population_stddev=report.population_stddev,
        reviewers=[ReviewerBias(**s.as_json()) for s in report.reviewers.values()],
        managers=[ReviewerBias(**s.as_json()) for s in report.managers.values()],
    )
