"""The interview agenda's 360 themes under the anonymity rules of the evaluation.

annual-review@1: peers need 3 answers (scores and comments) and are dropped below;
direct reports need 3 for scores and 4 for comments, and roll into the peers below 3.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from activities.records import RecordActivities
from activities.types import BuildPrefillInput
from definitions.loader import load_file
from definitions.pinned import PinnedDefinition
from definitions.registry import publish
from store.models import Review
from tests.activities.conftest import CYCLE, START, STOCK, launched

REVIEWERS = ("R-ANNA", "R-BORIS", "R-CARLA", "R-DIRK", "R-EMMA", "R-FRANZ")


def review(
    subject: str,
    reviewer: str,
    kind: str,
    day: int,
    *,
    overall: float,
    collaboration: int,
    strengths: str,
    improvements: str,
) -> Review:
    return Review(
        task_id=f"ar-2027/{subject}/evaluation/{kind}_review/{reviewer}",
        cycle_id=CYCLE,
        subject_id=subject,
        reviewer_id=reviewer,
        kind=kind,
        overall=overall,
        ratings={"collaboration": collaboration, "ownership": 4},
        comments={"strengths": strengths, "improvements": improvements},
        at=START + timedelta(days=day),
    )


async def themes_of(records: RecordActivities, employee_id: str) -> dict[str, Any]:
    agenda = await records.build_prefill(
        BuildPrefillInput(
            cycle_id=CYCLE,
            employee_id=employee_id,
            phase_id="interview",
            kind="interview_minutes",
            sections=("rating", "feedback_themes"),
        )
    )
    themes: dict[str, Any] = agenda["feedback_themes"]
    return themes


async def seeded(records: RecordActivities, pinned: PinnedDefinition, session: Session) -> None:
    with session.begin():
        publish(session, load_file(STOCK / "annual-review" / "v1.yaml"))
    await launched(records, pinned)
    with session.begin():
        session.add_all(
            [
                # E100: three peers and two direct reports, who roll into the peers.
                review("E100", "R-ANNA", "peer", 30, overall=4, collaboration=5,
                       strengths="Zealous reviewer of designs", improvements="Delegate more"),
                review("E100", "R-BORIS", "peer", 10, overall=3, collaboration=3,
                       strengths="Calm in incidents", improvements="Write things down"),
                review("E100", "R-CARLA", "peer", 20, overall=5, collaboration=4,
                       strengths="Mentors new joiners", improvements="Say no sometimes"),
                review("E100", "R-DIRK", "upward", 5, overall=2, collaboration=2,
                       strengths="Clear priorities", improvements="More one-to-ones"),
                review("E100", "R-EMMA", "upward", 25, overall=4, collaboration=4,
                       strengths="Backs the team", improvements="Faster decisions"),
                # E101: two peers (dropped) and three direct reports (scores, no comments).
                review("E101", "R-ANNA", "peer", 40, overall=1, collaboration=1,
                       strengths="Punctual", improvements="Everything else"),
                review("E101", "R-BORIS", "peer", 41, overall=2, collaboration=2,
                       strengths="Friendly", improvements="Focus"),
                review("E101", "R-CARLA", "upward", 42, overall=4, collaboration=5,
                       strengths="Listens", improvements="Plan ahead"),
                review("E101", "R-DIRK", "upward", 43, overall=5, collaboration=4,
                       strengths="Protects our time", improvements="Share context"),
                review("E101", "R-FRANZ", "upward", 44, overall=3, collaboration=3,
                       strengths="Fair", improvements="Celebrate wins"),
            ]
        )  # fmt: skip


async def test_themes_show_groups_above_their_thresholds_and_why_others_are_not(
    records: RecordActivities, pinned: PinnedDefinition, session: Session
) -> None:
    await seeded(records, pinned, session)

    rolled = await themes_of(records, "E100")
    split = await themes_of(records, "E101")

    # E100: the two direct reports are counted with the peers, comments shown (5 >= 3).
    (peers,) = rolled["groups"]
    assert peers["group"] == "peers"
    assert peers["responses"] == 5
    assert peers["includes"] == ["peers", "direct_reports"]
    assert peers["score"] == 3.6
    assert peers["competencies"] == [
        {"id": "collaboration", "title": "Collaboration", "score": 3.6},
        {"id": "ownership", "title": "Ownership", "score": 4.0},
    ]
    assert peers["comments_shown"] is True
    assert [(c["question"], c["title"]) for c in peers["comments"]] == [
        ("improvements", "Areas to improve"),
        ("strengths", "Strengths"),
    ]
    # Sorted, not in the order of submission (Dirk first, Anna last).
    assert peers["comments"][1]["texts"] == [
        "Backs the team",
        "Calm in incidents",
        "Clear priorities",
        "Mentors new joiners",
        "Zealous reviewer of designs",
    ]
    assert rolled["notices"] == [
        {
            "group": "direct_reports",
            "responses": 2,
            "action": "rolled_into",
            "reason": "2 answer(s), fewer than the 3 needed: counted with peers",
            "into": "peers",
        }
    ]

    # E101: the peers are dropped; the direct reports show scores but no comments (3 < 4).
    (reports,) = split["groups"]
    assert reports["group"] == "direct_reports"
    assert reports["responses"] == 3
    assert reports["score"] == 4.0
    assert reports["comments_shown"] is False
    assert reports["comments"] == []
    assert reports["withheld"] == "3 answer(s), fewer than the 4 needed to show comments"
    assert [(n["group"], n["action"]) for n in split["notices"]] == [
        ("peers", "dropped"),
        ("direct_reports", "comments_withheld"),
    ]
    assert "left out of the scores and the views" in split["notices"][0]["reason"]


async def test_a_suppressed_answer_changes_nothing_in_the_agenda(
    records: RecordActivities, pinned: PinnedDefinition, session: Session
) -> None:
    """Differencing: whoever reads the agenda twice learns nothing from an answer its
    group's thresholds suppress, nor from when the shown answers came in."""
    await seeded(records, pinned, session)
    before = await themes_of(records, "E101")

    with session.begin():
        # A dropped peer changes every answer; a direct report rewrites the withheld
        # comments; the shown answers arrive in another order.
        session.execute(
            update(Review)
            .where(Review.subject_id == "E101", Review.reviewer_id == "R-ANNA")
            .values(
                overall=5,
                ratings={"collaboration": 5, "ownership": 1},
                comments={"strengths": "Changed", "improvements": "Changed too"},
            )
        )
        session.execute(
            update(Review)
            .where(Review.subject_id == "E101", Review.reviewer_id == "R-CARLA")
            .values(comments={"strengths": "Rewritten", "improvements": "Rewritten"})
        )
        session.execute(
            update(Review)
            .where(Review.subject_id == "E101", Review.reviewer_id == "R-FRANZ")
            .values(at=START + timedelta(days=1))
        )
    after = await themes_of(records, "E101")

    assert after == before


async def test_the_agenda_names_no_reviewer_task_or_time(
    records: RecordActivities, pinned: PinnedDefinition, session: Session
) -> None:
    await seeded(records, pinned, session)
    agenda = await records.build_prefill(
        BuildPrefillInput(
            cycle_id=CYCLE, employee_id="E100", phase_id="interview", kind="interview_minutes"
        )
    )
    text = json.dumps(agenda["feedback_themes"])

    for reviewer in REVIEWERS:
        assert reviewer not in text
    assert "_review/" not in text  # no task id
    for day in range(0, 60):
        assert (START + timedelta(days=day)).date().isoformat() not in text
    # The conversation guide's sections, in the definition's order, head the agenda.
    assert [(s["id"], s["items"]) for s in agenda["agenda"]] == [
        ("look-back", ["rating", "goal_attainment"]),
        ("contributions", ["significant_events", "checkin_highlights"]),
        ("feedback", ["feedback_themes"]),
        ("growth", ["development_goals"]),
    ]
    assert agenda["agenda"][2]["prompt"].startswith("Discuss the themes")
