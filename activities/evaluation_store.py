"""What evaluation reads from the store, for the activities and the API alike.

Thin: each function runs a query or two and hands the rows to the pure functions of
`activities.evaluation`, so a calibrator's page, a task's prefill and the scores are
built by the same rules. Nothing here writes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from activities import evaluation
from definitions.durations import resolve_point
from definitions.models import Calibration, EvaluationPhase
from definitions.pinned import PinnedDefinition
from definitions.registry import DefinitionNotFoundError, get_version
from store.models import (
    CheckIn,
    Cycle,
    CycleParticipant,
    Goal,
    PerformanceEvent,
    Rating,
    Review,
    Task,
)

EVIDENCE_EVENT_KINDS = ("significant_event", "achievement", "setback", "recognition", "feedback")
"""The timeline events that count as evidence for recency (check-ins count too)."""


def definition_of(session: Session, cycle_id: str) -> PinnedDefinition | None:
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        return None
    try:
        row = get_version(session, cycle.definition_ref)
    except DefinitionNotFoundError:
        return None  # launched from an unpublished file (tests, a removed version)
    return PinnedDefinition.from_canonical(row.ref, row.sha256, row.canonical)


def evaluation_phase(
    pinned: PinnedDefinition | None, phase_id: str | None = None
) -> EvaluationPhase | None:
    """The cycle's evaluation phase (`phase_id`, or the first one)."""
    if pinned is None:
        return None
    for phase in pinned.definition.phases:
        if isinstance(phase, EvaluationPhase) and phase_id in (None, phase.id):
            return phase
    return None


def reviews_of(
    session: Session, cycle_id: str | None, employee_id: str
) -> list[evaluation.ReviewIn]:
    """A person's submitted reviews (in one cycle, or all), oldest first."""
    query = select(Review).where(Review.subject_id == employee_id)
    if cycle_id is not None:
        query = query.where(Review.cycle_id == cycle_id)
    rows = session.scalars(query.order_by(Review.at, Review.id))
    return [evaluation.review_in(row) for row in rows]


def cycle_reviews(session: Session, cycle_id: str) -> list[evaluation.ReviewLike]:
    """Every review of a cycle: the rows themselves, which the pure functions read."""
    rows = session.execute(
        select(
            Review.reviewer_id,
            Review.subject_id,
            Review.kind,
            Review.overall,
            Review.ratings,
            Review.comments,
            Review.at,
        ).where(Review.cycle_id == cycle_id)
    )
    return list(rows)


def evidence_times(
    session: Session, cycle_id: str, employee_ids: Iterable[str] | None = None
) -> dict[str, list[datetime]]:
    """When each person's evidence (check-ins, significant events) was recorded."""
    times: dict[str, list[datetime]] = defaultdict(list)
    wanted = list(employee_ids) if employee_ids is not None else None
    checkins = select(CheckIn.employee_id, CheckIn.at).where(CheckIn.cycle_id == cycle_id)
    events = select(PerformanceEvent.employee_id, PerformanceEvent.at).where(
        PerformanceEvent.cycle_id == cycle_id,
        PerformanceEvent.kind.in_(EVIDENCE_EVENT_KINDS),
    )
    if wanted is not None:
        checkins = checkins.where(CheckIn.employee_id.in_(wanted))
        events = events.where(PerformanceEvent.employee_id.in_(wanted))
    for employee_id, at in [*session.execute(checkins), *session.execute(events)]:
        times[employee_id].append(at)
    return times


def evaluation_opens(session: Session, cycle_id: str, phase: EvaluationPhase) -> datetime | None:
    """When the evaluation opens: the end of the evidence window recency looks at."""
    cycle = session.get(Cycle, cycle_id)
    return resolve_point(cycle.nominal_start, phase.window.opens) if cycle else None


def bias_statistics(
    session: Session, cycle_id: str, phase: EvaluationPhase
) -> evaluation.BiasReport:
    reviews = cycle_reviews(session, cycle_id)
    return evaluation.bias_report(
        reviews,
        phase.bias_checks,
        evidence_at=evidence_times(session, cycle_id),
        end=evaluation_opens(session, cycle_id, phase),
    )


def calibration_picture(
    session: Session,
    cycle_id: str,
    group: str,
    phase: EvaluationPhase,
    bias: evaluation.BiasReport | None = None,
) -> dict[str, Any]:
    """A calibration group: its members' scores and ratings, the distribution against the
    guideline, outliers and their managers' bias flags (manager reviews only: peer and
    upward reviewers stay out of every calibration view)."""
    members = session.execute(
        select(CycleParticipant.employee_id, CycleParticipant.manager_id, Rating)
        .join(
            Rating,
            (Rating.cycle_id == CycleParticipant.cycle_id)
            & (Rating.employee_id == CycleParticipant.employee_id),
        )
        .where(CycleParticipant.cycle_id == cycle_id, CycleParticipant.group == group)
        .order_by(CycleParticipant.employee_id)
    ).all()
    report = bias if bias is not None else bias_statistics(session, cycle_id, phase)
    calibration = phase.calibration or Calibration()
    picture = evaluation.prepare_calibration(
        [
            evaluation.Member(
                employee_id,
                rating.score,
                rating.rating,
                rating.final_rating,
                manager_id,
                {k: float(v) for k, v in (rating.sources or {}).items()},
            )
            for employee_id, manager_id, rating in members
        ],
        calibration,
        report,
    )
    managers = {m["manager_id"] for m in picture["members"] if m["manager_id"]}
    return {
        "group": group,
        **picture,
        "tolerance_points": calibration.tolerance_points,
        "managers": [
            report.managers[m].as_json() for m in sorted(managers) if m in report.managers
        ],
    }


def evidence_of(session: Session, cycle_id: str, employee_id: str) -> dict[str, Any]:
    """The evidence about one person that their reviewers see (a review task's prefill):
    weighted goal attainment and milestone rate, check-in regularity (submitted over
    check-ins due so far), significant events by category, and collaboration counts
    (peer and upward feedback given and received, progress events). Counts only: who
    gave feedback is never part of it."""
    goals = session.execute(
        select(Goal.weight, Goal.progress, Goal.target).where(
            Goal.cycle_id == cycle_id, Goal.owner_id == employee_id, Goal.status != "closed"
        )
    ).all()
    checkins = session.execute(
        select(Task.status, func.count())
        .where(
            Task.cycle_id == cycle_id,
            Task.subject_id == employee_id,
            Task.kind == "checkin",
            Task.status.in_(("submitted", "overdue", "closed")),
        )
        .group_by(Task.status)
    ).all()
    by_status = {status: int(count) for status, count in checkins}
    events = session.scalars(
        select(PerformanceEvent.kind).where(
            PerformanceEvent.cycle_id == cycle_id,
            PerformanceEvent.employee_id == employee_id,
        )
    ).all()

    def reviews(column: Any) -> int:
        return int(
            session.scalar(
                select(func.count())
                .select_from(Review)
                .where(
                    Review.cycle_id == cycle_id,
                    column == employee_id,
                    Review.kind.in_(tuple(evaluation.ANONYMOUS_KINDS)),
                )
            )
            or 0
        )

    return evaluation.evidence(
        goals=[(float(w), float(p), dict(t or {})) for w, p, t in goals],
        checkins_done=by_status.get("submitted", 0),
        checkins_expected=sum(by_status.values()),
        events=[kind for kind in events if kind in EVIDENCE_EVENT_KINDS],
        feedback_given=reviews(Review.reviewer_id),
        feedback_received=reviews(Review.subject_id),
        progress_events=sum(1 for kind in events if kind.startswith("progress")),
    )


def feedback_themes_of(
    session: Session, cycle_id: str, employee_id: str, pinned: PinnedDefinition | None
) -> dict[str, Any]:
    """A person's 360 themes in one cycle for their interview agenda
    (`activities.evaluation.feedback_themes`): all their peer and upward reviews of the
    cycle, under the thresholds of the cycle's evaluation phase (`pinned`, from
    `definition_of`; the defaults without one), as scoring and the performance file count
    them."""
    phase = evaluation_phase(pinned)
    rows = session.scalars(
        select(Review)
        .where(
            Review.cycle_id == cycle_id,
            Review.subject_id == employee_id,
            Review.kind.in_(sorted(evaluation.ANONYMOUS_KINDS)),
        )
        .order_by(Review.id)
    ).all()
    questions: dict[str, str] = {}
    if pinned is not None and phase is not None:
        for form_id in (phase.forms.peer_review, phase.forms.upward_review):
            properties = (pinned.form_schemas.get(form_id or "") or {}).get("properties") or {}
            for key, spec in properties.items():
                if isinstance(spec, dict) and isinstance(spec.get("title"), str):
                    questions.setdefault(str(key), str(spec["title"]))
    return evaluation.feedback_themes(
        rows,
        phase.anonymity if phase is not None else {},
        competency_titles={c.id: c.title for c in phase.competencies} if phase else {},
        question_titles=questions,
    )
