"""Record activities of evaluation and results: scores, calibration, proposals, budgets.

Amounts are worked out by hand in the comments from the stock annual-review cycle and
the org of `conftest`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from activities.records import RecordActivities
from activities.types import (
    ApplyBudgetInput,
    ApplyCalibrationInput,
    FinalRatingInput,
    OpenTaskInput,
    ProposeResultsInput,
    RecordSubmissionInput,
    ScoreParticipantInput,
)
from definitions.models import Bonus, Budget, EvaluationPhase, ResultsPhase
from definitions.pinned import PinnedDefinition
from store.base import Base
from store.models import (
    CalibrationChange,
    Goal,
    PerformanceEvent,
    Rating,
    ResultProposal,
    Review,
)
from tests.activities.conftest import CYCLE, START, launched, open_input
from workflows.messages import group_task_id

SUCCESSOR = "succession_candidate"


def fresh(session: Session) -> Session:
    session.rollback()
    return session


def count(session: Session, model: type[Base]) -> int:
    return fresh(session).scalar(select(func.count()).select_from(model)) or 0


def evaluation(pinned: PinnedDefinition) -> EvaluationPhase:
    phase = pinned.definition.phase("evaluation")
    assert isinstance(phase, EvaluationPhase)
    return phase


def results_phase(pinned: PinnedDefinition, **changes: Any) -> ResultsPhase:
    phase = pinned.definition.phase("results")
    assert isinstance(phase, ResultsPhase)
    return phase.model_copy(update=changes)


def add_goals(session: Session, owner: str, progress: list[tuple[int, float]]) -> None:
    for index, (weight, done) in enumerate(progress):
        session.add(
            Goal(id=f"{owner}-{index}", cycle_id=CYCLE, owner_id=owner, task_id="t", title="g",
                 type="okr", weight=weight, progress=done, position=index)
        )  # fmt: skip


def add_review(session: Session, subject: str, kind: str, overall: float) -> None:
    session.add(
        Review(task_id=f"{subject}/{kind}", cycle_id=CYCLE, subject_id=subject,
               reviewer_id="E100", kind=kind, overall=overall, at=START)
    )  # fmt: skip


def add_ratings(session: Session, ratings: dict[str, int]) -> None:
    for employee, rating in ratings.items():
        session.add(
            Rating(cycle_id=CYCLE, employee_id=employee, score=float(rating), rating=rating)
        )


# --- scoring --------------------------------------------------------------------------------


async def test_score_weights_the_sources_a_participant_has(
    records: RecordActivities, pinned: PinnedDefinition, session: Session
) -> None:
    await launched(records, pinned)
    with session.begin():
        # E101: attainment (50*.8 + 30*.5 + 20*0) / 100 = 0.55 -> 1 + 4*0.55 = 3.2
        add_goals(session, "E101", [(50, 0.8), (30, 0.5), (20, 0.0)])
        add_review(session, "E101", "self", 4)
        add_review(session, "E101", "manager", 3)
        add_review(session, "E100", "manager", 5)

    def score(employee: str) -> ScoreParticipantInput:
        return ScoreParticipantInput(cycle_id=CYCLE, employee_id=employee, phase=evaluation(pinned))

    first = await records.score_participant(score("E101"))
    again = await records.score_participant(score("E101"))
    manager = await records.score_participant(score("E100"))
    nothing = await records.score_participant(score("E200"))

    # Peer and upward reviews are missing: (30*3.2 + 10*4 + 35*3) / 75 = 3.2133
    assert first == again
    assert first.score == pytest.approx(241 / 75, abs=1e-4)
    assert (first.rating, first.label) == (3, "Meets expectations")
    assert first.sources == {"goal_attainment": 3.2, "self_review": 4.0, "manager_review": 3.0}
    assert (manager.score, manager.rating, manager.label) == (5.0, 5, "Outstanding")
    assert (nothing.score, nothing.rating, nothing.sources) == (None, None, {})
    assert count(session, Rating) == 3
    row = session.scalars(select(Rating).where(Rating.employee_id == "E101")).one()
    assert (row.rating, row.final_rating) == (3, None)


async def test_rescoring_keeps_a_calibration(
    records: RecordActivities, pinned: PinnedDefinition, session: Session
) -> None:
    await launched(records, pinned)
    with session.begin():
        add_review(session, "E101", "manager", 3)
    score = ScoreParticipantInput(cycle_id=CYCLE, employee_id="E101", phase=evaluation(pinned))
    await records.score_participant(score)
    await records.apply_calibration(
        ApplyCalibrationInput(
            cycle_id=CYCLE, phase_id="evaluation", group="Engineering", task_id="cal",
            calibrator_id="E010",
            adjustments=({"employee_id": "E101", "rating": 4, "reason": "Carried the team"},),
        )
    )  # fmt: skip

    await records.score_participant(score)

    assert await records.final_rating(FinalRatingInput(cycle_id=CYCLE, employee_id="E101")) == 4


async def test_rescoring_an_uncalibrated_rating_moves_the_final_rating(
    records: RecordActivities, pinned: PinnedDefinition, session: Session
) -> None:
    await launched(records, pinned)
    with session.begin():
        add_review(session, "E101", "manager", 3)
    score = ScoreParticipantInput(cycle_id=CYCLE, employee_id="E101", phase=evaluation(pinned))
    await records.score_participant(score)
    await records.apply_calibration(
        ApplyCalibrationInput(
            cycle_id=CYCLE, phase_id="evaluation", group="Engineering", task_id="cal",
            calibrator_id="E010",
        )
    )  # fmt: skip
    with fresh(session).begin():
        session.execute(update(Review).values(overall=5.0))

    await records.score_participant(score)

    assert await records.final_rating(FinalRatingInput(cycle_id=CYCLE, employee_id="E101")) == 5


# --- calibration ------------------------------------------------------------------------------


async def test_calibration_sets_every_final_rating_and_records_changes_once(
    records: RecordActivities, pinned: PinnedDefinition, session: Session
) -> None:
    await launched(records, pinned)
    with session.begin():
        add_ratings(session, {"E001": 3, "E100": 5, "E101": 3, "E200": 2})
    task_id = group_task_id(CYCLE, "evaluation", "calibration", "Engineering")
    await records.open_task(
        OpenTaskInput(
            task_id=task_id, cycle_id=CYCLE, workflow_id=f"cycle/{CYCLE}",
            subject_id="@Engineering", assignee_id="E010", phase_id="evaluation",
            kind="calibration", form_id="builtin-calibration", title="Calibrate Engineering",
            due_at=START, opened_at=START,
        )
    )  # fmt: skip
    adjustments = (
        {"employee_id": "E100", "rating": 4, "reason": "Strong, but not above the bar"},
        {"employee_id": "E101", "rating": 3, "reason": "Unchanged"},
        {"employee_id": "E200", "rating": 3, "reason": "Another group"},
        {"employee_id": "E999", "rating": 3, "reason": "Nobody"},
    )
    submitted_at = START.replace(month=11)
    await records.record_submission(
        RecordSubmissionInput(
            task_id=task_id, cycle_id=CYCLE, subject_id="@Engineering", phase_id="evaluation",
            kind="calibration", submitter_id="E010", payload={"adjustments": list(adjustments)},
            submitted_at=submitted_at, late=False,
        )
    )  # fmt: skip
    calibration = ApplyCalibrationInput(
        cycle_id=CYCLE, phase_id="evaluation", group="Engineering", task_id=task_id,
        calibrator_id="E010", adjustments=adjustments,
    )  # fmt: skip

    await records.apply_calibration(calibration)
    await records.apply_calibration(calibration)

    ratings = {r.employee_id: r for r in fresh(session).scalars(select(Rating))}
    assert {e: (r.rating, r.final_rating) for e, r in ratings.items()} == {
        "E001": (3, 3),
        "E100": (5, 4),
        "E101": (3, 3),
        "E200": (2, None),
    }
    assert (ratings["E100"].calibrated_by, ratings["E100"].calibration_reason) == (
        "E010",
        "Strong, but not above the bar",
    )
    change = session.scalars(select(CalibrationChange)).one()
    assert (change.employee_id, change.from_rating, change.to_rating, change.group) == (
        "E100",
        5,
        4,
        "Engineering",
    )
    assert change.at == submitted_at
    calibrated = session.scalars(
        select(PerformanceEvent).where(PerformanceEvent.kind == "rating_calibrated")
    ).one()
    assert (calibrated.employee_id, calibrated.data) == ("E100", {"from_rating": 5, "to_rating": 4})


async def test_a_later_calibration_can_undo_an_earlier_one(
    records: RecordActivities, pinned: PinnedDefinition, session: Session
) -> None:
    await launched(records, pinned)
    with session.begin():
        add_ratings(session, {"E100": 5})

    async def calibrate(task_id: str, rating: int) -> None:
        await records.apply_calibration(
            ApplyCalibrationInput(
                cycle_id=CYCLE, phase_id="evaluation", group="Engineering", task_id=task_id,
                calibrator_id="E010",
                adjustments=({"employee_id": "E100", "rating": rating, "reason": "Discussed"},),
            )
        )  # fmt: skip

    await calibrate("first", 4)
    await calibrate("second", 5)

    row = fresh(session).scalars(select(Rating)).one()
    assert (row.rating, row.calibrated_rating, row.final_rating) == (5, None, 5)
    changes = session.scalars(select(CalibrationChange).order_by(CalibrationChange.id)).all()
    assert [(c.task_id, c.from_rating, c.to_rating) for c in changes] == [
        ("first", 5, 4),
        ("second", 4, 5),
    ]


async def test_final_rating_falls_back_to_the_computed_rating(
    records: RecordActivities, pinned: PinnedDefinition, session: Session
) -> None:
    await launched(records, pinned)
    with session.begin():
        add_ratings(session, {"E200": 2})

    assert await records.final_rating(FinalRatingInput(cycle_id=CYCLE, employee_id="E200")) == 2
    assert await records.final_rating(FinalRatingInput(cycle_id=CYCLE, employee_id="E1")) is None


# --- proposals ------------------------------------------------------------------------------


async def propose(
    records: RecordActivities, phase: ResultsPhase, employee: str, rating: int | None
) -> Any:
    proposal = ProposeResultsInput(cycle_id=CYCLE, employee_id=employee, phase=phase, rating=rating)
    first = await records.propose_results(proposal)
    assert await records.propose_results(proposal) == first
    return first


async def test_proposals_follow_the_matrix_the_bonus_formula_and_the_nine_box(
    records: RecordActivities, pinned: PinnedDefinition, session: Session, employees: None
) -> None:
    await launched(records, pinned)
    phase = results_phase(pinned)
    # E100's manager assessed a high potential.
    potential = open_input("E100", "results", "potential", assignee="E001",
                           form="potential-assessment")  # fmt: skip
    await records.open_task(potential)
    await records.record_submission(
        RecordSubmissionInput(
            task_id=potential.task_id, cycle_id=CYCLE, subject_id="E100", phase_id="results",
            kind="potential", submitter_id="E001", submitted_at=START, late=False,
            payload={"potential": "high", "rationale": "Grows every quarter"},
        )
    )  # fmt: skip

    # E101: 50,000 / 60,000 = 0.83 (below range), rating 4: 6.0..7.5 -> 6.75% = 3,375.00;
    # bonus 50,000 * 10% * 1.5 = 7,500.00; high performance, medium potential.
    below = await propose(records, phase, "E101", 4)
    assert (below.merit_percent, below.merit_amount, below.lump_sum, below.bonus) == (
        6.75,
        3375.0,
        0.0,
        7500.0,
    )
    assert below.nine_box == "high/medium"
    assert below.flags == ("succession_candidate",)

    # E100: in range, rating 3: 2.5..4.0 -> 3.25% = 2,925.00; bonus 90,000 * 10% = 9,000.
    middle = await propose(records, phase, "E100", 3)
    assert (middle.merit_percent, middle.merit_amount, middle.bonus) == (3.25, 2925.0, 9000.0)
    assert middle.nine_box == "medium/high"
    assert middle.flags == ("succession_candidate",)

    # E001: 150,000 is above the range maximum (120,000 x 1.1 = 132,000): the whole 4%
    # increase (6,000.00) is paid once.
    above = await propose(records, phase, "E001", 5)
    assert (above.merit_percent, above.merit_amount, above.lump_sum, above.bonus) == (
        0.0,
        0.0,
        6000.0,
        22500.0,
    )
    assert above.flags == ("above_range_lump_sum", "succession_candidate")

    unpaid = await propose(records, phase, "E102", 3)
    assert (unpaid.merit_amount, unpaid.bonus, unpaid.flags) == (0.0, 0.0, ("no_pay_data",))
    unrated = await propose(records, phase, "E200", None)
    assert (unrated.merit_amount, unrated.nine_box, unrated.flags) == (0.0, None, ("no_rating",))

    rows = {p.employee_id: p for p in fresh(session).scalars(select(ResultProposal))}
    assert len(rows) == 5
    row = rows["E101"]
    assert (row.group, row.currency, row.rating, row.status) == (
        "Engineering",
        "EUR",
        4,
        "proposed",
    )
    assert (row.base_merit_amount, row.merit_amount) == (Decimal("3375.00"), Decimal("3375.00"))
    assert row.base_merit_percent == Decimal("6.7500")


async def test_a_failing_bonus_formula_flags_the_proposal(
    records: RecordActivities, pinned: PinnedDefinition, employees: None
) -> None:
    await launched(records, pinned)
    phase = results_phase(pinned, bonus=Bonus(formula="base_salary / (rating - rating)"))

    proposal = await propose(records, phase, "E101", 4)

    assert proposal.bonus == 0.0
    assert "bonus_failed" in proposal.flags
    assert proposal.merit_amount == 3375.0


async def test_an_approved_proposal_is_never_recomputed(
    records: RecordActivities, pinned: PinnedDefinition, session: Session, employees: None
) -> None:
    await launched(records, pinned)
    phase = results_phase(pinned)
    await propose(records, phase, "E101", 4)
    with fresh(session).begin():
        session.execute(update(ResultProposal).values(status="approved"))

    again = await records.propose_results(
        ProposeResultsInput(cycle_id=CYCLE, employee_id="E101", phase=phase, rating=1)
    )

    assert again.merit_amount == 3375.0


# --- budget ---------------------------------------------------------------------------------


async def proposals_for_engineering(records: RecordActivities, phase: ResultsPhase) -> None:
    # Merit: E001 0 (lump sum), E100 2,925.00, E101 3,375.00, E102 0: 6,300.00 in all.
    # Payroll with pay data: 150,000 + 90,000 + 50,000 = 290,000.
    for employee, rating in (("E001", 5), ("E100", 3), ("E101", 4), ("E102", 3), ("E200", 5)):
        await records.propose_results(
            ProposeResultsInput(cycle_id=CYCLE, employee_id=employee, phase=phase, rating=rating)
        )


def merit(session: Session) -> dict[str, tuple[Decimal, Decimal, list[str]]]:
    return {
        p.employee_id: (p.merit_amount, p.merit_percent, p.flags)
        for p in fresh(session).scalars(select(ResultProposal))
    }


async def test_budget_within_reach_changes_nothing(
    records: RecordActivities, pinned: PinnedDefinition, session: Session, employees: None
) -> None:
    await launched(records, pinned)
    phase = results_phase(pinned)
    await proposals_for_engineering(records, phase)

    # 3.5% of 290,000 = 10,150.00 >= 6,300.00
    figures = await records.apply_budget(
        ApplyBudgetInput(cycle_id=CYCLE, phase=phase, group="Engineering")
    )

    assert figures["budget"] == "10150.00"
    assert figures["requested"] == "6300.00"
    assert figures["exceeded"] is False
    assert merit(session)["E101"] == (Decimal("3375.00"), Decimal("6.7500"), [SUCCESSOR])


async def test_over_budget_scales_down_to_fit_and_applying_again_changes_nothing(
    records: RecordActivities, pinned: PinnedDefinition, session: Session, employees: None
) -> None:
    await launched(records, pinned)
    phase = results_phase(pinned, budget=Budget(percent_of_payroll=1.0))
    await proposals_for_engineering(records, phase)
    budget = ApplyBudgetInput(cycle_id=CYCLE, phase=phase, group="Engineering")

    figures = await records.apply_budget(budget)
    assert await records.apply_budget(budget) == figures

    # 1% of 290,000 = 2,900.00 for 6,300.00: each amount x 2,900 / 6,300, rounded down.
    assert (figures["budget"], figures["exceeded"]) == ("2900.00", True)
    after = merit(session)
    assert after["E100"] == (Decimal("1346.42"), Decimal("1.4960"), ["budget_scaled"])
    assert after["E101"] == (Decimal("1553.57"), Decimal("3.1071"), [SUCCESSOR, "budget_scaled"])
    assert sum(after[e][0] for e in ("E001", "E100", "E101", "E102")) == Decimal("2899.99")
    assert after["E001"][2] == ["above_range_lump_sum", "succession_candidate", "budget_scaled"]
    assert after["E200"][2] == ["succession_candidate"]  # another group: untouched

    # A larger budget restores the matrix amounts.
    generous = results_phase(pinned, budget=Budget(percent_of_payroll=10.0))
    await records.apply_budget(
        ApplyBudgetInput(cycle_id=CYCLE, phase=generous, group="Engineering")
    )
    assert merit(session)["E101"] == (Decimal("3375.00"), Decimal("6.7500"), [SUCCESSOR])


async def test_over_budget_can_be_flagged_instead(
    records: RecordActivities, pinned: PinnedDefinition, session: Session, employees: None
) -> None:
    await launched(records, pinned)
    phase = results_phase(pinned, budget=Budget(percent_of_payroll=1.0, when_exceeded="flag"))
    await proposals_for_engineering(records, phase)

    await records.apply_budget(ApplyBudgetInput(cycle_id=CYCLE, phase=phase, group="Engineering"))

    after = merit(session)
    assert after["E101"] == (Decimal("3375.00"), Decimal("6.7500"), [SUCCESSOR, "budget_exceeded"])


async def test_a_company_budget_counts_every_group(
    records: RecordActivities, pinned: PinnedDefinition, employees: None
) -> None:
    await launched(records, pinned)
    phase = results_phase(pinned, budget=Budget(percent_of_payroll=1.0, scope="company"))
    await proposals_for_engineering(records, phase)

    figures = await records.apply_budget(
        ApplyBudgetInput(cycle_id=CYCLE, phase=phase, group="Engineering")
    )

    # Sales adds E200: 80,000 of payroll and, in range with rating 5 (6..8% -> 7%),
    # 5,600.00 of merit: 370,000 payroll, 11,900.00 requested.
    assert (figures["payroll"], figures["budget"], figures["requested"]) == (
        "370000.00",
        "3700.00",
        "11900.00",
    )


async def test_no_budget_no_change(
    records: RecordActivities, pinned: PinnedDefinition, employees: None
) -> None:
    await launched(records, pinned)
    phase = results_phase(pinned, budget=None)

    figures = await records.apply_budget(
        ApplyBudgetInput(cycle_id=CYCLE, phase=phase, group="Engineering")
    )

    assert figures == {"group": "Engineering", "applied": False}
