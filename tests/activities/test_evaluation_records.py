"""Evaluation through the store: scores honour the rater groups' thresholds, and the
calibration task opens with the guideline, outliers and managers' bias statistics."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from activities import evaluation_store
from activities.records import RecordActivities
from activities.types import BuildPrefillInput, ScoreParticipantInput
from definitions.loader import load_file
from definitions.models import EvaluationPhase
from definitions.pinned import PinnedDefinition
from definitions.registry import publish
from store.models import Goal, PerformanceEvent, Review
from tests.activities.conftest import CYCLE, START, STOCK, launched


def evaluation(pinned: PinnedDefinition) -> EvaluationPhase:
    phase = pinned.definition.phase("evaluation")
    assert isinstance(phase, EvaluationPhase)
    return phase


def review(subject: str, reviewer: str, kind: str, overall: float, **extra: object) -> Review:
    return Review(
        task_id=f"{subject}/{kind}/{reviewer}",
        cycle_id=CYCLE,
        subject_id=subject,
        reviewer_id=reviewer,
        kind=kind,
        overall=overall,
        ratings=extra.pop("ratings", {}),
        comments={"strengths": f"from {reviewer}"},
        at=START + timedelta(days=300),
    )


async def test_scores_count_only_the_groups_their_thresholds_show(
    records: RecordActivities, pinned: PinnedDefinition, session: Session
) -> None:
    await launched(records, pinned)
    with session.begin():
        session.add_all(
            [
                review("E100", "E001", "manager", 3),
                # Two peers: under the peers' threshold of 3, dropped.
                review("E100", "E200", "peer", 1),
                review("E100", "E102", "peer", 1),
                # Three direct reports: their group shows (threshold 3).
                review("E100", "E101", "upward", 5),
                review("E100", "E102", "upward", 5),
                review("E100", "E103", "upward", 4),
            ]
        )
    result = await records.score_participant(
        ScoreParticipantInput(cycle_id=CYCLE, employee_id="E100", phase=evaluation(pinned))
    )
    # (35*3 + 10*14/3) / 45 = (105 + 46.667) / 45 = 3.3704 -> 3
    assert result.sources == {"manager_review": 3.0, "upward_review": pytest.approx(4.6667)}
    assert result.score == pytest.approx(3.3704, abs=1e-4)
    assert result.rating == 3


async def test_the_calibration_task_opens_with_guideline_outliers_and_bias(
    records: RecordActivities, pinned: PinnedDefinition, session: Session
) -> None:
    with session.begin():
        publish(session, load_file(STOCK / "annual-review" / "v1.yaml"))
    await launched(records, pinned)
    with session.begin():
        session.add_all(
            [
                review("E101", "E100", "manager", 5, ratings={"a": 5, "b": 5, "c": 5}),
                review("E102", "E100", "manager", 5, ratings={"a": 5, "b": 5, "c": 5}),
                review("E100", "E001", "manager", 2, ratings={"a": 1, "b": 2, "c": 3}),
            ]
        )
    phase = evaluation(pinned)
    for employee in ("E100", "E101", "E102"):
        await records.score_participant(
            ScoreParticipantInput(cycle_id=CYCLE, employee_id=employee, phase=phase)
        )

    prefill = await records.build_prefill(
        BuildPrefillInput(
            cycle_id=CYCLE,
            employee_id=None,
            phase_id="evaluation",
            kind="calibration",
            group="Engineering",
        )
    )

    assert prefill["distribution"] == {"2": 1, "5": 2}
    guideline = {row["rating"]: row for row in prefill["guideline"]}
    assert guideline[5]["percent"] == pytest.approx(66.67)
    assert guideline[5]["flagged"] is True  # guideline 5%, tolerance 10 points
    assert prefill["tolerance_points"] == 10
    bias = {row["reviewer_id"]: row for row in prefill["bias"]}
    assert set(bias) == {"E001", "E100"}
    assert "halo" in bias["E100"]["flags"]
    assert bias["E100"]["mean"] == 5.0
    members = {m["employee_id"]: m for m in prefill["members"]}
    assert members["E101"]["bias_flags"] == bias["E100"]["flags"]
    # The same picture as the API's, from the same functions.
    picture = evaluation_store.calibration_picture(session, CYCLE, "Engineering", phase)
    assert picture["distribution"] == prefill["guideline"]


async def test_review_tasks_open_with_the_evidence_about_the_person(
    records: RecordActivities, pinned: PinnedDefinition, session: Session
) -> None:
    await launched(records, pinned)
    with session.begin():
        session.add_all(
            [
                Goal(
                    id="E101-0", cycle_id=CYCLE, owner_id="E101", task_id="t", title="g",
                    type="okr", weight=60, progress=0.5, status="approved",
                    target={"milestones": [{"done": True}, {"done": False}]},
                ),
                Goal(
                    id="E101-1", cycle_id=CYCLE, owner_id="E101", task_id="t", title="h",
                    type="okr", weight=40, progress=1.0, status="approved",
                ),
                PerformanceEvent(
                    event_key="a", employee_id="E101", cycle_id=CYCLE, at=START,
                    kind="achievement", summary="shipped",
                ),
                review("E101", "E102", "peer", 4),
                review("E102", "E101", "peer", 4),
            ]
        )  # fmt: skip

    prefill = await records.build_prefill(
        BuildPrefillInput(
            cycle_id=CYCLE, employee_id="E101", phase_id="evaluation", kind="manager_review"
        )
    )

    evidence = prefill["evidence"]
    assert evidence["goal_attainment"] == 0.7  # (60*0.5 + 40*1) / 100
    assert evidence["milestone_rate"] == 0.5
    assert evidence["significant_events"] == {"achievement": 1}
    assert evidence["collaboration"]["feedback_given"] == 1
    assert evidence["collaboration"]["feedback_received"] == 1
    assert evidence["checkin_regularity"] is None  # no check-in was due
    assert "E102" not in str(prefill)
