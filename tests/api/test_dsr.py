"""Data-subject requests: export everything about a person with others redacted, and
erase it except what the retention rule keeps. Both audited."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from httpx import AsyncClient
from sqlalchemy import func, select

from perfloop.settings import Settings
from store.db import session_scope
from store.models import (
    AuditEvent,
    CycleParticipant,
    Employee,
    HrisOutbox,
    InterviewMinutes,
    Notification,
    PerformanceEvent,
    Rating,
    ResultProposal,
    Review,
    Task,
    TaskEvent,
)
from tests.api.conftest import (
    CYCLE_ID,
    T0,
    FakeTemporal,
    Token,
    add_tasks,
    app_for,
    make_task,
    serve,
)
from tests.api.org import SUBJECT, add_org

OTHERS = {
    "E001": "Ada Chief",
    "E002": "Grace Head",
    "E003": "Linus Lead",
    "E005": "Pat Peer",
    "E010": "Sally Sales",
}
MANAGER_REVIEW = f"{CYCLE_ID}/{SUBJECT}/evaluation/manager_review"
PEER_REVIEW_ABOUT = f"{CYCLE_ID}/{SUBJECT}/evaluation/peer_review"
PEER_REVIEW_BY = f"{CYCLE_ID}/E005/evaluation/peer_review"


@pytest.fixture
def file(seeded: str) -> str:
    """The subject's performance file, with other people all over it."""
    add_org(seeded)
    add_tasks(
        seeded,
        make_task(
            SUBJECT,
            phase="evaluation",
            kind="self_review",
            payload={"achievements": "Shipped search with Pat Peer; E005 reviewed it."},
        ),
        make_task(
            "E003",
            subject=SUBJECT,
            phase="evaluation",
            kind="manager_review",
            payload={"overall": 4},
            submitted_by="E003",
        ),
        make_task("E005", subject=SUBJECT, phase="evaluation", kind="peer_review"),
        make_task(SUBJECT, subject="E005", phase="evaluation", kind="peer_review"),
    )
    with session_scope(seeded) as session:
        at = T0 + timedelta(days=200)
        session.add_all(
            [
                TaskEvent(
                    task_id=MANAGER_REVIEW, event_key="s1", at=at, what="submitted", who="E003"
                ),
                CycleParticipant(
                    cycle_id=CYCLE_ID,
                    employee_id=SUBJECT,
                    group="Engineering",
                    manager_id="E003",
                    joined_at=T0,
                    profile={"employee_id": SUBJECT, "manager_id": "E003"},
                ),
                Review(
                    task_id=MANAGER_REVIEW,
                    cycle_id=CYCLE_ID,
                    subject_id=SUBJECT,
                    reviewer_id="E003",
                    kind="manager",
                    overall=4.0,
                    comments={"strengths": "Mentored E005 and Sally Sales's team"},
                    at=at,
                ),
                Review(
                    task_id=PEER_REVIEW_ABOUT,
                    cycle_id=CYCLE_ID,
                    subject_id=SUBJECT,
                    reviewer_id="E005",
                    kind="peer",
                    overall=5.0,
                    at=at,
                ),
                Review(
                    task_id=PEER_REVIEW_BY,
                    cycle_id=CYCLE_ID,
                    subject_id="E005",
                    reviewer_id=SUBJECT,
                    kind="peer",
                    overall=3.0,
                    comments={"improvements": "Pat could document more"},
                    at=at,
                ),
                Rating(
                    cycle_id=CYCLE_ID,
                    employee_id=SUBJECT,
                    rating=4,
                    final_rating=4,
                    calibrated_by="E002",
                ),
                InterviewMinutes(
                    task_id=f"{CYCLE_ID}/{SUBJECT}/interview/interview_minutes",
                    cycle_id=CYCLE_ID,
                    employee_id=SUBJECT,
                    recorded_by="E003",
                    strengths="Ownership",
                    at=at,
                ),
                ResultProposal(
                    cycle_id=CYCLE_ID,
                    employee_id=SUBJECT,
                    group="Engineering",
                    rating=4,
                    merit_amount=Decimal("2400.00"),
                ),
                HrisOutbox(
                    business_key=f"{CYCLE_ID}/{SUBJECT}/merit",
                    cycle_id=CYCLE_ID,
                    employee_id=SUBJECT,
                    kind="merit",
                    data={"amount": "2400.00"},
                ),
                Notification(
                    business_key="n1", recipient_id=SUBJECT, kind="info", subject="Your review"
                ),
                Notification(business_key="n2", recipient_id="E005", kind="info", subject="Hi"),
                PerformanceEvent(
                    event_key="pe1",
                    employee_id=SUBJECT,
                    cycle_id=CYCLE_ID,
                    at=at,
                    kind="review",
                    summary="Manager review by E003",
                ),
            ]
        )
    return seeded


HR = ("H003", "hr-admin")


async def test_the_export_holds_everything_and_names_nobody_else(
    client: AsyncClient, file: str, auth: Token
) -> None:
    response = await client.get(
        f"/v1/employees/{SUBJECT}/export",
        headers={**auth(*HR), "X-Perfloop-Reason": "DSR-2027-001"},
    )

    assert response.status_code == 200, response.text
    export = response.json()
    sections = export["sections"]
    assert export["employee_id"] == SUBJECT
    assert sections["employee"]["name"] == "Sam Subject"
    assert sections["employee"]["salary"] == "80000.00"
    assert sections["employee"]["manager_id"] == "redacted"
    assert {t["kind"] for t in sections["tasks_about"]} == {
        "self_review",
        "manager_review",
        "peer_review",
    }
    assert {t["assignee_id"] for t in sections["tasks_about"]} == {SUBJECT, "redacted"}
    [written] = sections["tasks_assigned"]
    assert written["task_id"] == f"{CYCLE_ID}/redacted/evaluation/peer_review"
    assert {r["reviewer_id"] for r in sections["reviews_about"]} == {"redacted"}
    [mine] = sections["reviews_written"]
    assert mine["reviewer_id"] == SUBJECT
    assert mine["subject_id"] == "redacted"
    [self_review] = [t for t in sections["tasks_about"] if t["kind"] == "self_review"]
    assert self_review["payload"]["achievements"] == (
        "Shipped search with redacted; redacted reviewed it."
    )
    assert len(sections["ratings"]) == len(sections["results"]) == 1
    assert len(sections["notifications"]) == 1
    assert sections["performance_events"][0]["summary"] == "Manager review by redacted"
    assert len(sections["interview_minutes"]) == 1
    assert sections["task_events"][0]["who"] == "redacted"
    dumped = json.dumps(export)
    for other_id, name in OTHERS.items():
        assert other_id not in dumped
        assert name not in dumped

    with session_scope(file) as session:
        [event] = session.scalars(select(AuditEvent)).all()
    assert (event.action, event.actor_id, event.subject_id, event.reason) == (
        "employee.export",
        "H003",
        SUBJECT,
        "DSR-2027-001",
    )


def count(url: str, model: type, **where: str) -> int:
    with session_scope(url) as session:
        query = select(func.count()).select_from(model)
        for column, value in where.items():
            query = query.where(getattr(model, column) == value)
        return int(session.scalar(query) or 0)


async def test_erasure_keeps_results_and_audit_and_anonymises_what_others_need(
    client: AsyncClient, file: str, auth: Token
) -> None:
    await client.get(f"/v1/employees/{SUBJECT}", headers=auth(*HR))  # an audited pay read

    response = await client.post(
        f"/v1/employees/{SUBJECT}/erase", json={"reason": "DSR-2027-002"}, headers=auth(*HR)
    )

    assert response.status_code == 200, response.text
    report = response.json()
    assert report["kept"] == ["results", "audit"]
    assert set(report["erased"]) == {
        "profile",
        "participation",
        "tasks",
        "goals",
        "reviews",
        "minutes",
        "ratings",
        "notifications",
        "timeline",
    }
    assert report["erased"]["reviews"] == 3, "two deleted, one anonymised"
    with session_scope(file) as session:
        employee = session.get(Employee, SUBJECT)
        assert employee is not None
        assert (employee.name, employee.salary, employee.active) == ("erased", None, False)
        assert session.get(Employee, "E005") is not None
        [kept_review] = session.scalars(select(Review)).all()
        assert (kept_review.subject_id, kept_review.reviewer_id) == ("E005", "erased")
        [kept_task] = session.scalars(select(Task)).all()
        assert (kept_task.subject_id, kept_task.assignee_id) == ("E005", "erased")
        actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
        erasure = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "employee.erase")
        ).one()
    assert count(file, Review, subject_id=SUBJECT) == 0
    assert count(file, Task, subject_id=SUBJECT) == 0
    assert count(file, TaskEvent) == 0
    assert count(file, Rating, employee_id=SUBJECT) == 0
    assert count(file, InterviewMinutes) == 0
    assert count(file, CycleParticipant) == 0
    assert count(file, PerformanceEvent) == 0
    assert count(file, Notification, recipient_id=SUBJECT) == 0
    assert count(file, Notification, recipient_id="E005") == 1
    assert count(file, ResultProposal, employee_id=SUBJECT) == 1, "results are kept"
    assert count(file, HrisOutbox, employee_id=SUBJECT) == 1
    assert list(actions) == ["pay.read", "employee.erase"], "the audit trail is kept"
    assert erasure.reason == "DSR-2027-002"


async def test_retention_follows_the_settings(settings: Settings, file: str, auth: Token) -> None:
    keep_ratings = settings.model_copy(update={"retention_keep": ("ratings", "audit")})
    async for client in serve(app_for(keep_ratings, FakeTemporal())):
        response = await client.post(
            f"/v1/employees/{SUBJECT}/erase", json={"reason": "DSR-3"}, headers=auth(*HR)
        )

    assert response.status_code == 200, response.text
    assert response.json()["kept"] == ["ratings", "audit"]
    assert count(file, Rating, employee_id=SUBJECT) == 1
    assert count(file, ResultProposal, employee_id=SUBJECT) == 0


@pytest.mark.parametrize(
    "body",
    [{}, {"reason": ""}, {"reason": "DSR-4", "keep": ["reviews"]}],
)
async def test_an_erasure_needs_a_reason_and_nothing_else(
    client: AsyncClient, file: str, auth: Token, body: dict[str, object]
) -> None:
    response = await client.post(f"/v1/employees/{SUBJECT}/erase", json=body, headers=auth(*HR))

    assert response.status_code == 422
    assert count(file, Review, subject_id=SUBJECT) == 2


async def test_requests_about_nobody_are_404(client: AsyncClient, file: str, auth: Token) -> None:
    export = await client.get("/v1/employees/E999/export", headers=auth(*HR))
    erase = await client.post(
        "/v1/employees/E999/erase", json={"reason": "DSR-5"}, headers=auth(*HR)
    )

    assert export.status_code == erase.status_code == 404
    assert count(file, AuditEvent) == 0
