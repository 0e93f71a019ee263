"""The audit trail: sensitive reads and changes write a row; HR admins read them back;
the rows cannot be changed (on PostgreSQL, not even by hand)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from httpx import AsyncClient
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from store.db import is_sqlite, session_scope
from store.models import AuditEvent
from tests.api.conftest import T0, FakeTemporal, Token, add_tasks, make_task
from tests.api.org import SUBJECT, add_org
from workflows.messages import SubmitTaskInput, SubmitTaskResult

SELF_REVIEW = f"annual-2027/{SUBJECT}/evaluation/self_review"
GOALS = f"annual-2027/{SUBJECT}/goals/goal_draft"
MINUTES = f"annual-2027/{SUBJECT}/interview/interview_minutes"


@pytest.fixture
def world(seeded: str, temporal: FakeTemporal) -> str:
    add_org(seeded)
    add_tasks(
        seeded,
        make_task(SUBJECT, phase="evaluation", kind="self_review", form="self-review"),
        make_task(SUBJECT),
        make_task(
            "E003",
            subject=SUBJECT,
            phase="interview",
            kind="interview_minutes",
            form="interview-minutes",
        ),
    )

    def accepted(submission: SubmitTaskInput) -> SubmitTaskResult:
        return SubmitTaskResult(
            task_id=submission.task_id, status="submitted", late=False, accepted_at=T0
        )

    temporal.update_outcomes["submit_task"] = accepted
    return seeded


def events(url: str) -> list[AuditEvent]:
    with session_scope(url) as session:
        return list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all())


async def test_reading_a_review_writes_who_what_when_why(
    client: AsyncClient, world: str, auth: Token
) -> None:
    before = datetime.now(UTC)
    response = await client.get(
        f"/v1/tasks/{SELF_REVIEW}",
        headers={
            **auth("H001", "hrbp", departments=["Engineering"]),
            "X-Perfloop-Reason": "grievance case 12",
            "X-Request-ID": "req-abc-1",
        },
    )

    assert response.status_code == 200, response.text
    [event] = events(world)
    assert event.actor_id == "H001"
    assert event.actor_roles == ["employee", "hrbp"]
    assert event.action == "review.read"
    assert (event.resource_type, event.resource_id) == ("task", SELF_REVIEW)
    assert event.subject_id == SUBJECT
    assert event.reason == "grievance case 12"
    assert event.request_id == "req-abc-1"
    assert before - timedelta(seconds=1) <= event.at <= datetime.now(UTC)


async def test_what_is_not_sensitive_is_not_audited(
    client: AsyncClient, world: str, auth: Token
) -> None:
    response = await client.get(f"/v1/tasks/{GOALS}", headers=auth(SUBJECT))

    assert response.status_code == 200
    assert events(world) == []


async def test_a_refused_read_writes_nothing(client: AsyncClient, world: str, auth: Token) -> None:
    response = await client.get(f"/v1/tasks/{SELF_REVIEW}", headers=auth("E005"))

    assert response.status_code == 404
    assert events(world) == []


async def test_submitting_minutes_is_audited_once_accepted(
    client: AsyncClient, world: str, auth: Token, temporal: FakeTemporal
) -> None:
    response = await client.post(
        f"/v1/tasks/{MINUTES}/submit", json={"payload": {}}, headers=auth("E003")
    )

    assert response.status_code == 200, response.text
    [event] = events(world)
    assert (event.action, event.actor_id, event.subject_id) == ("minutes.submit", "E003", SUBJECT)
    assert len(event.request_id or "") == 32, "a request id is made when none is sent"


async def test_hr_admins_read_the_trail_with_filters_and_pages(
    client: AsyncClient, world: str, auth: Token
) -> None:
    hrbp = auth("H001", "hrbp", departments=["Engineering"])
    admin = auth("H003", "hr-admin")
    await client.get(f"/v1/tasks/{SELF_REVIEW}", headers=hrbp)
    await client.get(f"/v1/tasks/{MINUTES}", headers=hrbp)
    await client.get(f"/v1/employees/{SUBJECT}", headers=admin)
    await client.get("/v1/employees/E005", headers=admin)

    everything = (await client.get("/v1/audit", headers=admin)).json()
    by_subject = (await client.get(f"/v1/audit?subject={SUBJECT}", headers=admin)).json()
    by_actor = (await client.get("/v1/audit?actor=H001", headers=admin)).json()
    by_action = (await client.get("/v1/audit?action=pay.read", headers=admin)).json()
    future = (await client.get("/v1/audit?since=2999-01-01T00:00:00Z", headers=admin)).json()

    assert [e["action"] for e in everything["items"]] == [
        "pay.read",
        "pay.read",
        "minutes.read",
        "review.read",
    ], "newest first"
    assert len(by_subject["items"]) == 3
    assert {e["actor_id"] for e in by_actor["items"]} == {"H001"}
    assert {e["subject_id"] for e in by_action["items"]} == {SUBJECT, "E005"}
    assert future["items"] == []

    pages: list[int] = []
    cursor = None
    while True:
        url = "/v1/audit?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = (await client.get(url, headers=admin)).json()
        pages += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == [e["id"] for e in everything["items"]]


@pytest.mark.parametrize("query", ["since=2027-01-01T00:00:00", "cursor=garbage"])
async def test_bad_filters_are_422(
    client: AsyncClient, world: str, auth: Token, query: str
) -> None:
    response = await client.get(f"/v1/audit?{query}", headers=auth("H003", "hr-admin"))

    assert response.status_code == 422


async def test_only_hr_admins_read_the_trail(client: AsyncClient, world: str, auth: Token) -> None:
    for caller in (auth("H001", "hrbp", departments=["Engineering"]), auth("O001", "ops")):
        assert (await client.get("/v1/audit", headers=caller)).status_code == 403


def test_postgres_refuses_to_change_or_delete_audit_rows(db: str) -> None:
    if is_sqlite(db):
        pytest.skip("the append-only trigger is PostgreSQL's (SQLite: no code path changes rows)")
    with session_scope(db) as session:
        session.add(
            AuditEvent(actor_id="H003", actor_roles=[], action="pay.read", resource_type="x")
        )
    for statement in ("UPDATE audit_events SET reason = 'tampered'", "DELETE FROM audit_events"):
        with pytest.raises(DBAPIError, match="append-only"), session_scope(db) as session:
            session.execute(text(statement))
    assert len(events(db)) == 1
