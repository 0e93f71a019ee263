"""360 activities through the store: candidates, assignment under the cap counted over
the cycle's peer-review tasks (a decline frees a slot), the outcome on the timeline, a
replacement proposal, and a declined request that never becomes a review."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from activities.records import RecordActivities
from activities.reviews360 import Review360Activities
from activities.types import (
    AssignReviewersInput,
    PeerCandidatesInput,
    ProposeReviewerInput,
    RecordSubmissionInput,
)
from definitions.pinned import PinnedDefinition
from store.models import PerformanceEvent, Review
from tests.activities.conftest import CYCLE, START, launched, open_input

pytestmark = pytest.mark.usefixtures("employees")


async def test_assignment_cap_decline_and_replacement(
    records: RecordActivities,
    sessions: sessionmaker[Session],
    pinned: PinnedDefinition,
) -> None:
    reviews = Review360Activities(sessions)
    await launched(records, pinned)
    # Teammates first (same manager E100), then the department; never E101's manager
    # (E100); inactive E104 out.
    candidates = await reviews.peer_candidates(
        PeerCandidatesInput(cycle_id=CYCLE, employee_id="E101")
    )
    assert candidates == ("E102", "E103", "E001")
    # E102 already carries one request of this cycle (for E100): with a cap of 1 it is
    # capped for E101; E103 is not.
    await records.open_task(open_input("E100", "evaluation", "peer_review", assignee="E102"))
    first = open_input("E101", "evaluation", "peer_review", assignee="E103")
    result = await reviews.assign_reviewers(
        AssignReviewersInput(
            cycle_id=CYCLE,
            employee_id="E101",
            requested=("E102", "E103", "E999"),
            min_peers=2,
            max_peers=4,
            max_per_reviewer=1,
            at=START,
        )
    )
    assert result.peers == ("E103",)
    assert result.capped == ("E102",)
    assert result.short == 1
    await records.open_task(first)
    with sessions() as session:
        (event,) = session.scalars(
            select(PerformanceEvent).where(PerformanceEvent.kind == "peer_reviewers")
        )
        assert event.employee_id == "E101"
        assert event.data["capped"] == ["E102"]
        assert event.data["unknown"] == ["E999"]
        assert "at capacity: E102" in event.summary

    # E103 declines: the submission is recorded, no review row, and the slot is free.
    await records.record_submission(
        RecordSubmissionInput(
            task_id=first.task_id,
            cycle_id=CYCLE,
            subject_id="E101",
            phase_id="evaluation",
            kind="peer_review",
            submitter_id="E103",
            payload={"decline": True, "reason": "Not enough contact."},
            submitted_at=START + timedelta(days=1),
            late=False,
            revision=1,
        )
    )
    with sessions() as session:
        assert session.scalars(select(Review)).all() == []
    # The preferred E102 is at the cap: a colleague under it, E001, is proposed...
    proposal = await reviews.propose_reviewer(
        ProposeReviewerInput(
            cycle_id=CYCLE,
            employee_id="E101",
            declined_by="E103",
            declined_task_id=first.task_id,
            candidates=("E102",),
            asked=("E103",),
            declined=("E103",),
            max_per_reviewer=1,
            at=START,
        )
    )
    assert proposal == "E001"
    # ... and when E001 declined too and the cap is 2, E102 can take it.
    proposal = await reviews.propose_reviewer(
        ProposeReviewerInput(
            cycle_id=CYCLE,
            employee_id="E101",
            declined_by="E103",
            declined_task_id=first.task_id,
            candidates=("E102",),
            asked=("E103", "E001"),
            declined=("E103", "E001"),
            max_per_reviewer=2,
            at=START,
        )
    )
    assert proposal == "E102"

    # Upward: the direct reports of a manager, active only.
    upward = await reviews.assign_reviewers(
        AssignReviewersInput(
            cycle_id=CYCLE, employee_id="E100", requested=(), upward=True, at=START
        )
    )
    assert upward.direct_reports == ("E101", "E102", "E103")
