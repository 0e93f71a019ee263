"""`GET /v1/dashboards/teams/{manager_id}`: per report, goals against the plan, last
check-in, open anomalies, overdue tasks and milestone achievement; a submission shows at
once."""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from httpx import AsyncClient
from sqlalchemy import select

from activities.records import RecordActivities
from activities.types import RecordSubmissionInput
from api.signatures import SIGNATURE_HEADER, sign
from perfloop.settings import Settings
from store.db import session_factory, session_scope
from store.models import Anomaly, AuditEvent, CheckIn, Goal, ProgressEvent, Task
from tests.api.conftest import CYCLE_ID, Token, add_tasks, make_task
from tests.api.seed import add, participant, person

# annual-review@1 monitors from 2027-02-01 to 2027-10-29; on NOW a linear plan expects
# 120 of 270 days done.
NOW = datetime(2027, 6, 1, tzinfo=UTC)
EXPECTED = round(120 / 270, 4)
SECRET = "dashboard-secret-0123456789"


@pytest.fixture
def settings(db: str, tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", database_url=db, progress_webhook_secret=SECRET)


@pytest.fixture(autouse=True)
def frozen_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("api.services.dashboards.utc_now", lambda: NOW)


def goal(goal_id: str, owner: str, weight: int, progress: float) -> Goal:
    return Goal(
        id=goal_id, cycle_id=CYCLE_ID, owner_id=owner, task_id=f"t-{owner}", title=goal_id,
        type="okr", weight=weight, status="approved", progress=progress, confidence=3,
    )  # fmt: skip


def anomaly(n: int, rule: str, *, task: str | None, rests_days: int) -> Anomaly:
    fired = NOW - timedelta(days=5)
    return Anomaly(
        anomaly_key=f"{CYCLE_ID}/A1/{rule}/{n}", cycle_id=CYCLE_ID, employee_id="A1",
        manager_id="M1", phase_id="monitoring", rule_id=rule,
        action="coach" if task else "notify", description=rule,
        evidence={"progress": 0.3, "expected_by_now": 0.44}, task_id=task, fired_at=fired,
        rests_until=fired + timedelta(days=rests_days),
    )  # fmt: skip


def milestone(event: str, *, achieved: bool, at: str) -> ProgressEvent:
    return ProgressEvent(
        source_id="roadmap", event_id=event, employee_id="A1", cycle_id=CYCLE_ID,
        kind="milestone", milestone_id=event, due_on=date(2027, 5, 1), achieved=achieved,
        occurred_at=datetime.fromisoformat(at).replace(tzinfo=UTC),
    )  # fmt: skip


def checkin(who: str, *, due: datetime) -> Task:
    return make_task(who, phase="monitoring", kind="checkin", form="checkin", due=due)


@pytest.fixture
def team(seeded: str) -> str:
    return seed_team(seeded)


def seed_team(seeded: str) -> str:
    """M1 manages A1 (behind plan, anomalies, an overdue check-in, milestones) and B1, in
    the running cycle of a store seeded with annual-review@1."""
    coaching_open = make_task(
        "M1", subject="A1", phase="monitoring", kind="coaching", form="coaching",
        due=NOW + timedelta(days=3),
    )  # fmt: skip
    coaching_done = make_task(
        "M1", subject="A1", phase="monitoring", kind="coaching", form="coaching", seq=2,
        status="submitted",
    )  # fmt: skip
    with session_scope(seeded) as session:
        add(
            session,
            person("M1", "Maja Holm", title="Engineering Manager"),
            person("A1", "Ada Lund", manager="M1"),
            person("B1", "Bo Nyström", manager="M1"),
            person("X1", "Xia Berg"),
            participant("M1", manager=None),
            participant("A1", manager="M1"),
            participant("B1", manager="M1"),
            participant("X1", manager=None),
            goal("a-1", "A1", 60, 0.1),
            goal("a-2", "A1", 40, 0.9),
            goal("b-1", "B1", 100, 0.5),
            CheckIn(
                task_id="c-a1", cycle_id=CYCLE_ID, employee_id="A1", at=NOW - timedelta(days=9),
                payload={"goals": [{"goal_id": "a-1", "progress": 0.1, "confidence": 2}]},
            ),
            milestone("m1", achieved=True, at="2027-04-20T00:00:00"),
            milestone("m2", achieved=False, at="2027-05-01T00:00:00"),
        )  # fmt: skip
    add_tasks(
        seeded,
        coaching_open,
        coaching_done,
        checkin("A1", due=NOW - timedelta(days=2)),
        checkin("B1", due=NOW + timedelta(days=2)),
    )
    with session_scope(seeded) as session:
        session.add_all(
            [
                anomaly(1, "behind-plan", task=coaching_open.task_id, rests_days=28),
                anomaly(2, "behind-plan", task=coaching_done.task_id, rests_days=28),
                anomaly(3, "silent", task=None, rests_days=14),
                anomaly(4, "old-silent", task=None, rests_days=2),
            ]
        )
    return seeded


async def test_a_manager_sees_each_report_against_the_plan(
    client: AsyncClient, team: str, auth: Token
) -> None:
    response = await client.get("/v1/dashboards/teams/M1", headers=auth("M1"))

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["manager_id"], body["cycle_id"], body["cycles"]) == ("M1", CYCLE_ID, [CYCLE_ID])
    people = {p["employee_id"]: p for p in body["people"]}
    assert list(people) == ["A1", "B1"], "reports only, by name"
    ada = people["A1"]
    assert ada["progress"] == pytest.approx(0.6 * 0.1 + 0.4 * 0.9)
    assert ada["expected_by_now"] == EXPECTED
    assert [(g["goal_id"], g["behind_plan"]) for g in ada["goals"]] == [
        ("a-1", True),
        ("a-2", False),
    ]
    assert ada["last_checkin_at"] == (NOW - timedelta(days=9)).isoformat().replace("+00:00", "Z")
    assert ada["last_confidence"] == 2.0
    assert [(a["rule_id"], a["action"]) for a in ada["open_anomalies"]] == [
        ("behind-plan", "coach"),
        ("silent", "notify"),
    ], "the coached one whose task is done and the rested one are no longer open"
    assert ada["open_anomalies"][0]["evidence"] == {"progress": 0.3, "expected_by_now": 0.44}
    assert [t["kind"] for t in ada["overdue_tasks"]] == ["checkin"]
    assert ada["milestones"] == {"achieved": 1, "total": 2, "rate": 0.5}
    bo = people["B1"]
    assert (bo["open_anomalies"], bo["overdue_tasks"], bo["last_checkin_at"]) == ([], [], None)
    assert bo["milestones"] == {"achieved": 0, "total": 0, "rate": None}

    with session_scope(team) as session:
        audit = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "team-dashboard.read")
        ).one()
        assert (audit.actor_id, audit.subject_id) == ("M1", "M1")


async def test_a_check_in_submission_shows_on_the_dashboard_at_once(
    client: AsyncClient, team: str, auth: Token
) -> None:
    [task_id] = add_tasks(
        team, make_task("A1", phase="monitoring", kind="checkin", form="checkin", seq=2)
    )
    before = await client.get("/v1/dashboards/teams/M1", headers=auth("M1"))
    # What the participant workflow records when the check-in's Update is accepted.
    records = RecordActivities(session_factory(team), hris=None, notifier=None)  # type: ignore[arg-type]
    await records.record_submission(
        RecordSubmissionInput(
            task_id=task_id,
            cycle_id=CYCLE_ID,
            subject_id="A1",
            phase_id="monitoring",
            kind="checkin",
            submitter_id="A1",
            payload={
                "goals": [
                    {"goal_id": "a-1", "progress": 0.7, "confidence": 4},
                    {"goal_id": "a-2", "progress": 1.0, "confidence": 5},
                ]
            },
            submitted_at=NOW - timedelta(hours=1),
            late=False,
        )
    )
    started = time.monotonic()
    after = await client.get("/v1/dashboards/teams/M1", headers=auth("M1"))
    assert time.monotonic() - started < 2

    ada_before = next(p for p in before.json()["people"] if p["employee_id"] == "A1")
    ada = next(p for p in after.json()["people"] if p["employee_id"] == "A1")
    assert ada_before["progress"] == pytest.approx(0.42)
    assert ada["progress"] == pytest.approx(0.6 * 0.7 + 0.4 * 1.0)
    assert [g["behind_plan"] for g in ada["goals"]] == [False, False]
    assert ada["last_checkin_at"] == (NOW - timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    assert ada["last_confidence"] == 4.5


async def test_a_webhook_progress_event_shows_on_the_dashboard_at_once(
    client: AsyncClient, team: str, auth: Token
) -> None:
    raw = json.dumps(
        {
            "event_id": "jira-1",
            "source": "project-tracker",
            "employee_id": "B1",
            "kind": "progress",
            "occurred_at": "2027-05-31T10:00:00Z",
            "goal_id": "b-1",
            "progress": 0.8,
        }
    ).encode()
    headers = {SIGNATURE_HEADER: sign(SECRET, raw, int(time.time()))}
    assert (
        await client.post("/v1/progress-events", content=raw, headers=headers)
    ).status_code == 202

    after = await client.get("/v1/dashboards/teams/M1", headers=auth("M1"))

    bo = next(p for p in after.json()["people"] if p["employee_id"] == "B1")
    assert bo["progress"] == 0.8


async def test_unknown_managers_and_cycles_are_404(
    client: AsyncClient, team: str, auth: Token
) -> None:
    missing = await client.get("/v1/dashboards/teams/NOBODY", headers=auth("H1", "hr-admin"))
    other = await client.get(
        "/v1/dashboards/teams/M1", params={"cycle_id": "other"}, headers=auth("M1")
    )
    hidden = await client.get("/v1/dashboards/teams/M1", headers=auth("A1"))

    assert missing.status_code == 404
    assert other.status_code == 404
    assert other.json()["error"]["type"] == "CycleNotFound"
    assert hidden.status_code == 404, "a report may not see their manager's dashboard"
    assert hidden.json()["error"]["type"] == missing.json()["error"]["type"] == "EmployeeNotFound"


async def test_data_subject_requests_cover_progress_events_and_anomalies(
    client: AsyncClient, team: str, auth: Token
) -> None:
    hr = auth("H1", "hr-admin")
    export = await client.get("/v1/employees/A1/export", headers=hr)
    assert export.status_code == 200, export.text
    sections = export.json()["sections"]
    assert len(sections["progress_events"]) == 2
    assert len(sections["anomalies"]) == 4
    assert {a["manager_id"] for a in sections["anomalies"]} == {"redacted"}

    erased = await client.post("/v1/employees/M1/erase", json={"reason": "DSR-1"}, headers=hr)
    assert erased.status_code == 200, erased.text
    with session_scope(team) as session:
        assert set(session.scalars(select(Anomaly.manager_id))) == {"erased"}

    erased = await client.post("/v1/employees/A1/erase", json={"reason": "DSR-2"}, headers=hr)
    assert erased.status_code == 200, erased.text
    with session_scope(team) as session:
        assert session.scalars(select(Anomaly)).all() == []
        assert session.scalars(select(ProgressEvent)).all() == []
