"""Cycle analytics for HR, from the performance file.

- The rating distribution: each rated participant's final rating (the calibrated one
  when calibration changed it, else the computed one), against the calibration
  guideline of the cycle's evaluation phase and its tolerance.
- The 9-box grid: the cell of each result proposal (`<performance>/<potential>`).
- What the results phase adds: per-group distributions, calibration shifts, the
  high-performer profile, pay spend against the budget, succession slates and talent
  decisions (`api.services.results_analytics`).
"""

from __future__ import annotations

from collections import Counter
from typing import get_args

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.errors import NotFound
from api.permissions import Access
from api.schemas.analytics import CycleAnalytics, Level, NineBoxCell, RatingBand
from api.services import audit
from api.services.results_analytics import results_analytics
from definitions.models import EvaluationPhase, ResultsPhase
from perfloop.cycles import resolve_pinned
from store.models import Cycle, CycleParticipant, Rating, ResultProposal

LEVELS: tuple[Level, ...] = get_args(Level)


def _phases(session: Session, ref: str) -> tuple[EvaluationPhase | None, ResultsPhase | None]:
    phases = resolve_pinned(session, ref).definition.phases
    evaluation = next((p for p in phases if isinstance(p, EvaluationPhase)), None)
    results = next((p for p in phases if isinstance(p, ResultsPhase)), None)
    return evaluation, results


def _final_ratings(session: Session, cycle_id: str, members: set[str] | None) -> list[int | None]:
    rows = session.execute(
        select(Rating.employee_id, Rating.final_rating, Rating.calibrated_rating, Rating.rating)
        .where(Rating.cycle_id == cycle_id)
        .order_by(Rating.employee_id)
    ).all()
    return [
        final if final is not None else calibrated if calibrated is not None else rating
        for employee_id, final, calibrated, rating in rows
        if members is None or employee_id in members
    ]


def _distribution(phase: EvaluationPhase | None, ratings: list[int | None]) -> list[RatingBand]:
    counts = Counter(value for value in ratings if value is not None)
    rated = sum(counts.values())
    labels = (
        {level.value: level.label for level in phase.rating_scale.levels}
        if phase is not None
        else {value: str(value) for value in sorted(counts)}
    )
    calibration = phase.calibration if phase is not None else None
    guideline = (
        {band.rating: float(band.percent) for band in calibration.guideline} if calibration else {}
    )
    tolerance = float(calibration.tolerance_points) if calibration else None
    bands = []
    for value in sorted(set(labels) | set(counts), reverse=True):
        percent = round(100.0 * counts[value] / rated, 1) if rated else 0.0
        expected = guideline.get(value)
        bands.append(
            RatingBand(
                rating=value,
                label=labels.get(value, str(value)),
                count=counts[value],
                percent=percent,
                guideline_percent=expected,
                outside_tolerance=bool(
                    rated
                    and expected is not None
                    and tolerance is not None
                    and abs(percent - expected) > tolerance
                ),
            )
        )
    return bands


def _nine_box(session: Session, cycle_id: str, members: set[str] | None) -> list[NineBoxCell]:
    rows = session.execute(
        select(ResultProposal.employee_id, ResultProposal.nine_box).where(
            ResultProposal.cycle_id == cycle_id, ResultProposal.nine_box.is_not(None)
        )
    ).all()
    cells = Counter(box for employee_id, box in rows if members is None or employee_id in members)
    return [
        NineBoxCell(
            performance=performance, potential=potential, count=cells[f"{performance}/{potential}"]
        )
        for performance in reversed(LEVELS)
        for potential in LEVELS
    ]


def cycle_analytics(
    session: Session, cycle_id: str, group: str | None = None, access: Access | None = None
) -> CycleAnalytics:
    """The analytics of the cycle (one group's, given one). Pay spend is pay data: with
    `access`, the read is audited (`pay.read` of `cycle_analytics`)."""
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        raise NotFound(f"no cycle {cycle_id}", type="CycleNotFound")
    membership = session.execute(
        select(CycleParticipant.employee_id, CycleParticipant.group).where(
            CycleParticipant.cycle_id == cycle_id
        )
    ).all()
    groups = sorted({g for _, g in membership})
    if group is not None and group not in groups:
        raise NotFound(f"cycle {cycle_id} has no group {group}", type="GroupNotFound")
    members = {e for e, g in membership if g == group} if group is not None else None
    phase, results_phase = _phases(session, cycle.definition_ref)
    ratings = _final_ratings(session, cycle_id, members)
    nine_box = _nine_box(session, cycle_id, members)
    rated = sum(1 for value in ratings if value is not None)
    participants = len(members) if members is not None else len(membership)
    analytics = CycleAnalytics(
        cycle_id=cycle_id,
        definition=cycle.definition_ref,
        group=group,
        groups=groups,
        participants=participants,
        rated=rated,
        unrated=max(participants - rated, 0),
        tolerance_points=(
            float(phase.calibration.tolerance_points)
            if phase is not None and phase.calibration is not None
            else None
        ),
        distribution=_distribution(phase, ratings),
        nine_box=nine_box,
        nine_box_placed=sum(cell.count for cell in nine_box),
        results=results_analytics(
            session,
            cycle,
            {e: g for e, g in membership},
            members,
            phase,
            results_phase,
            lambda finals: _distribution(phase, finals),
        ),
    )
    if access is not None:
        audit.record(
            session,
            access,
            "pay.read",
            resource_type="cycle_analytics",
            resource_id=cycle_id,
            subject_id=f"@{group}" if group is not None else None,
        )
        session.commit()
    return analytics
