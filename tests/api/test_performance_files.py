"""`GET /v1/employees/{id}/performance-file`: a person's records across cycles, newest
first; who may read it, anonymous reviews, pay, paging and the audit trail; and its
export, the whole file by cycle as JSON or a printable HTML page."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from html import escape
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import select

from api.pagination import encode_cursor
from api.permissions import PERMISSIONS, Relation
from store.db import session_scope
from store.models import (
    Acknowledgment,
    AuditEvent,
    CalibrationChange,
    CheckIn,
    Employee,
    Goal,
    GoalChange,
    InterviewMinutes,
    PerformanceEvent,
    Rating,
    ResultProposal,
    Review,
    TalentDecision,
)
from tests.api.conftest import CYCLE_ID, T0, Token, add_cycle, make_task
from tests.api.org import BY_NAME, SUBJECT, add_org

OLD = "annual-2026"
NEW = CYCLE_ID
PEER, UPWARD = "E005", "E011"
"""The authors of the subject's peer and upward reviews: nobody but HR admins learns them."""
URL = f"/v1/employees/{SUBJECT}/performance-file"


def day(n: int) -> datetime:
    return T0 + timedelta(days=n)


def task_id(cycle: str, phase: str, kind: str, subject: str = SUBJECT) -> str:
    return f"{cycle}/{subject}/{phase}/{kind}"


def review(cycle: str, kind: str, reviewer: str, at: int, subject: str = SUBJECT) -> Review:
    return Review(
        task_id=task_id(cycle, "evaluation", f"{kind}_review", subject),
        cycle_id=cycle,
        subject_id=subject,
        reviewer_id=reviewer,
        kind=kind,
        ratings={"delivery": 4},
        overall=4.0,
        comments={"strengths": f"{kind} strengths"},
        at=day(at),
    )


def goal(cycle: str, goal_id: str, owner: str = SUBJECT) -> Goal:
    return Goal(
        id=goal_id,
        cycle_id=cycle,
        owner_id=owner,
        task_id=task_id(cycle, "goals", "goal_draft", owner),
        title=f"Goal {goal_id}",
        type="okr",
        weight=50,
        status="approved",
        progress=0.5,
    )


def event(key: str, kind: str, at: int, **data: Any) -> PerformanceEvent:
    return PerformanceEvent(
        event_key=key,
        employee_id=data.pop("employee_id", SUBJECT),
        cycle_id=NEW,
        at=day(at),
        kind=kind,
        ref=data.pop("ref", None),
        summary=f"{kind} happened",
        data=data,
    )


def result(cycle: str, at: int) -> ResultProposal:
    return ResultProposal(
        cycle_id=cycle,
        employee_id=SUBJECT,
        group="Engineering",
        rating=4,
        merit_percent=Decimal("3.5"),
        merit_amount=Decimal("2800.00"),
        bonus=Decimal("1000.00"),
        status="approved",
        updated_at=day(at),
    )


EXPECTED = [
    # (kind, cycle, day): newest first; ties broken by kind, then key, both descending.
    ("talent", NEW, 91),
    ("result", NEW, 90),
    ("acknowledgment", NEW, 81),
    ("minutes", NEW, 80),
    ("rating", NEW, 71),
    ("calibration", NEW, 70),
    ("review", NEW, 63),  # upward
    ("review", NEW, 62),  # peer
    ("review", NEW, 61),  # manager
    ("review", NEW, 60),  # self
    ("goal_change", NEW, 40),  # g-new-1's target raised, waiting for the manager
    ("event", NEW, 30),  # an achievement, the same instant as the check-in
    ("checkin", NEW, 30),
    ("event", NEW, 3),  # goals approved
    ("goal", NEW, 1),  # g-new-2
    ("goal", NEW, 1),  # g-new-1
    ("result", OLD, -30),
    ("minutes", OLD, -60),
    ("rating", OLD, -90),
    ("review", OLD, -100),
    ("checkin", OLD, -200),
    ("goal", OLD, -360),
]


@pytest.fixture
def world(seeded: str) -> str:
    """Two cycles of E004's records, a timeline, and other people's rows around them."""
    add_org(seeded)
    with session_scope(seeded) as session:
        add_cycle(session, OLD)
        session.flush()
        for cycle, phase, kind, assignee, submitted in [
            (OLD, "goals", "goal_draft", SUBJECT, -360),
            (OLD, "monitor", "checkin", SUBJECT, -200),
            (OLD, "evaluation", "self_review", SUBJECT, -100),
            (OLD, "interview", "interview_minutes", "E003", -60),
            (NEW, "goals", "goal_draft", SUBJECT, 1),
            (NEW, "goals", "goal_review", "E003", 3),
            (NEW, "monitor", "checkin", SUBJECT, 30),
            (NEW, "evaluation", "self_review", SUBJECT, 60),
            (NEW, "evaluation", "manager_review", "E003", 61),
            (NEW, "evaluation", "peer_review", PEER, 62),
            (NEW, "evaluation", "upward_review", UPWARD, 63),
            (NEW, "interview", "interview_minutes", "E003", 80),
            (NEW, "interview", "acknowledgment", SUBJECT, 81),
        ]:
            session.add(
                make_task(
                    assignee,
                    subject=SUBJECT,
                    phase=phase,
                    kind=kind,
                    cycle_id=cycle,
                    status="submitted",
                    submitted_at=day(submitted),
                )
            )
        session.add(
            make_task(
                "E002",
                subject="@Engineering",
                phase="evaluation",
                kind="calibration",
                status="submitted",
                submitted_at=day(70),
            )
        )
        session.add_all(
            [
                goal(OLD, "g-old"),
                goal(NEW, "g-new-1"),
                goal(NEW, "g-new-2"),
                CheckIn(
                    task_id=task_id(OLD, "monitor", "checkin"),
                    cycle_id=OLD,
                    employee_id=SUBJECT,
                    payload={"notes": "old"},
                    at=day(-200),
                ),
                CheckIn(
                    task_id=task_id(NEW, "monitor", "checkin"),
                    cycle_id=NEW,
                    employee_id=SUBJECT,
                    payload={"notes": "on track"},
                    at=day(30),
                ),
                review(OLD, "self", SUBJECT, -100),
                review(NEW, "self", SUBJECT, 60),
                review(NEW, "manager", "E003", 61),
                review(NEW, "peer", PEER, 62),
                review(NEW, "upward", UPWARD, 63),
                Rating(
                    cycle_id=OLD,
                    employee_id=SUBJECT,
                    score=3.2,
                    rating=3,
                    label="Meets",
                    final_rating=3,
                    updated_at=day(-90),
                ),
                Rating(
                    cycle_id=NEW,
                    employee_id=SUBJECT,
                    score=3.4,
                    rating=3,
                    label="Meets",
                    calibrated_rating=4,
                    calibrated_by="E002",
                    calibration_reason="led the migration",
                    final_rating=4,
                    updated_at=day(71),
                ),
                CalibrationChange(
                    cycle_id=NEW,
                    employee_id=SUBJECT,
                    task_id=f"{NEW}/@Engineering/evaluation/calibration",
                    group="Engineering",
                    from_rating=3,
                    to_rating=4,
                    reason="led the migration",
                    calibrator_id="E002",
                    at=day(70),
                ),
                InterviewMinutes(
                    task_id=task_id(OLD, "interview", "interview_minutes"),
                    cycle_id=OLD,
                    employee_id=SUBJECT,
                    recorded_by="E003",
                    strengths="old strengths",
                    at=day(-60),
                ),
                InterviewMinutes(
                    task_id=task_id(NEW, "interview", "interview_minutes"),
                    cycle_id=NEW,
                    employee_id=SUBJECT,
                    recorded_by="E003",
                    strengths="ownership",
                    action_items=[{"title": "mentor someone", "owner": "employee"}],
                    at=day(80),
                ),
                Acknowledgment(
                    task_id=task_id(NEW, "interview", "acknowledgment"),
                    cycle_id=NEW,
                    employee_id=SUBJECT,
                    decision="acknowledge",
                    at=day(81),
                ),
                result(OLD, -30),
                result(NEW, 90),
                TalentDecision(
                    cycle_id=NEW,
                    employee_id=SUBJECT,
                    group="Engineering",
                    decision="promote",
                    note="ready for staff",
                    decided_by="E002",
                    task_id=f"{NEW}/@Engineering/results/results_approval",
                    at=day(91),
                ),
                GoalChange(
                    change_key="g-new-1-raise",
                    goal_id="g-new-1",
                    cycle_id=NEW,
                    owner_id=SUBJECT,
                    changed_by=SUBJECT,
                    action="changed",
                    changes={"weight": [50, 60]},
                    reason="more scope",
                    status="pending",
                    at=day(40),
                ),
                GoalChange(
                    change_key="g-peer-raise",
                    goal_id="g-peer",
                    cycle_id=NEW,
                    owner_id=PEER,
                    changed_by=PEER,
                    action="changed",
                    changes={"weight": [50, 60]},
                    at=day(41),
                ),
                event(
                    "goal-review",
                    "goal_review",
                    3,
                    ref=task_id(NEW, "goals", "goal_review"),
                    decision="approve",
                    submitted_by="E003",
                ),
                event("achievement", "achievement", 30, note="shipped v2"),
                # Written with the peer review: its record is the entry, and it names
                # the reviewer, so it never shows.
                event(
                    "peer-submission",
                    "peer_review",
                    62,
                    ref=task_id(NEW, "evaluation", "peer_review"),
                    submitted_by=PEER,
                ),
                # Somebody else's file.
                goal(NEW, "g-peer", owner=PEER),
                review(NEW, "peer", SUBJECT, 62, subject=PEER),
                event("peer-achievement", "achievement", 31, employee_id=PEER),
            ]
        )
    return seeded


def headers(auth: Token, name: str, **extra: str) -> dict[str, str]:
    caller = BY_NAME[name]
    return {**auth(caller.employee_id, *caller.roles, departments=caller.departments), **extra}


def shape(items: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
    return [
        (item["kind"], item["cycle_id"], (datetime.fromisoformat(item["at"]) - T0).days)
        for item in items
    ]


async def read(client: AsyncClient, headers: dict[str, str], query: str = "") -> dict[str, Any]:
    response = await client.get(f"{URL}?limit=200{query}", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def audit_rows(url: str) -> list[AuditEvent]:
    with session_scope(url) as session:
        return list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all())


# --- the list ------------------------------------------------------------------------------


async def test_one_list_newest_first_across_cycles(
    client: AsyncClient, world: str, auth: Token
) -> None:
    body = await read(client, headers(auth, "hr-admin"))

    assert body["employee_id"] == SUBJECT
    assert body["next_cursor"] is None
    items = body["items"]
    assert shape(items) == EXPECTED
    assert [i["data"]["goal_id"] for i in items if i["kind"] == "goal"] == [
        "g-new-2",
        "g-new-1",
        "g-old",
    ]
    assert len({item["id"] for item in items}) == len(items)
    assert "g-peer" not in str(items)
    assert "peer-achievement" not in str(items)
    by_summary = {item["summary"]: item for item in items if item["cycle_id"] == NEW}
    minutes = by_summary["Performance conversation recorded"]
    assert minutes["phase_id"] == "interview"
    assert minutes["author_id"] == "E003"
    assert minutes["data"]["action_items"] == [{"title": "mentor someone", "owner": "employee"}]
    calibration = by_summary["Rating changed in calibration from 3 to 4"]
    assert calibration["phase_id"] == "evaluation"
    assert calibration["data"]["reason"] == "led the migration"
    assert by_summary["Rated 4 (Meets)"]["phase_id"] is None
    approved = by_summary["goal_review happened"]
    assert approved["kind"] == "event"
    assert approved["author_id"] == "E003"
    assert approved["data"] == {"event": "goal_review", "decision": "approve"}
    events = [item["data"]["event"] for item in items if item["kind"] == "event"]
    assert events == ["achievement", "goal_review"], "a record's own event is not repeated"
    (change,) = [item for item in items if item["kind"] == "goal_change"]
    assert change["summary"] == "Goal changed (pending)"
    assert change["author_id"] == SUBJECT
    assert change["data"]["goal_id"] == "g-new-1"
    assert change["data"]["changes"] == {"weight": [50, 60]}
    assert change["data"]["reason"] == "more scope"


async def test_filters_by_cycle_and_kind(client: AsyncClient, world: str, auth: Token) -> None:
    hr = headers(auth, "hr-admin")

    old = await read(client, hr, f"&cycle_id={OLD}")
    reviews_and_ratings = await read(client, hr, "&kind=review&kind=rating")
    both = await read(client, hr, f"&cycle_id={OLD}&kind=goal")
    nothing = await read(client, hr, "&cycle_id=no-such-cycle")
    unknown = await client.get(f"{URL}?kind=salary", headers=hr)

    assert shape(old["items"]) == [entry for entry in EXPECTED if entry[1] == OLD]
    assert shape(reviews_and_ratings["items"]) == [
        entry for entry in EXPECTED if entry[0] in ("review", "rating")
    ]
    assert shape(both["items"]) == [("goal", OLD, -360)]
    assert nothing["items"] == []
    assert unknown.status_code == 422


@pytest.mark.parametrize("size", [1, 3, 7])
async def test_pages_follow_the_cursor_to_the_end(
    client: AsyncClient, world: str, auth: Token, size: int
) -> None:
    hr = headers(auth, "hr-admin")
    pages: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    while True:
        query = f"{URL}?limit={size}" + (f"&cursor={cursor}" if cursor else "")
        response = await client.get(query, headers=hr)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            break

    assert all(len(page) == size for page in pages[:-1])
    assert 0 < len(pages[-1]) <= size
    everything = [item for page in pages for item in page]
    assert shape(everything) == EXPECTED
    assert len({item["id"] for item in everything}) == len(EXPECTED)


async def test_paging_with_filters_and_bad_cursors(
    client: AsyncClient, world: str, auth: Token
) -> None:
    hr = headers(auth, "hr-admin")
    first = (await client.get(f"{URL}?kind=review&limit=2", headers=hr)).json()
    second = (
        await client.get(f"{URL}?kind=review&limit=2&cursor={first['next_cursor']}", headers=hr)
    ).json()
    capped = await client.get(f"{URL}?limit=100000", headers=hr)
    damaged = await client.get(f"{URL}?cursor=bm90LWEtY3Vyc29y", headers=hr)
    naive = await client.get(
        f"{URL}?cursor={encode_cursor({'at': '2027-01-01T00:00:00', 'kind': 'goal', 'key': '1'})}",
        headers=hr,
    )
    other_kind = await client.get(
        f"{URL}?cursor={encode_cursor({'at': T0.isoformat(), 'kind': 'salary', 'key': '1'})}",
        headers=hr,
    )

    assert [i["data"]["review_kind"] for i in first["items"] + second["items"]] == [
        "upward",
        "peer",
        "manager",
        "self",
    ]
    assert capped.status_code == 200
    assert len(capped.json()["items"]) == len(EXPECTED)
    for response in (damaged, naive, other_kind):
        assert response.status_code == 422
        assert response.json()["error"]["type"] == "InvalidCursor"


# --- who may read what -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("caller", "status"),
    [
        ("self", 200),
        ("manager", 200),
        ("skip-level", 200),
        ("hrbp", 200),
        ("hr-admin", 200),
        ("peer", 404),
        ("other-dept-manager", 404),
        ("hrbp-other-dept", 404),
        ("ops", 404),
    ],
)
async def test_who_may_read_the_file(
    client: AsyncClient, world: str, auth: Token, caller: str, status: int
) -> None:
    response = await client.get(URL, headers=headers(auth, caller))
    missing = await client.get("/v1/employees/E999/performance-file", headers=headers(auth, caller))

    assert response.status_code == status, response.text
    assert missing.status_code == 404
    if status == 404:
        assert response.json()["error"]["type"] == missing.json()["error"]["type"]
        assert (
            response.json()["error"]["message"].split()[:2]
            == (missing.json()["error"]["message"].split()[:2])
        )


@pytest.mark.parametrize("caller", ["self", "manager", "skip-level", "hrbp"])
async def test_peer_and_upward_reviewers_stay_anonymous(
    client: AsyncClient, world: str, auth: Token, caller: str
) -> None:
    response = await client.get(f"{URL}?limit=200", headers=headers(auth, caller))
    items = [i for i in response.json()["items"] if i["kind"] == "review"]
    named = {i["data"]["review_kind"]: i for i in items if not i["anonymous"]}
    anonymous = [i for i in items if i["anonymous"]]

    # One peer and one upward answer: the upward one rolls into peers (annual-review),
    # and two answers are under the peers' threshold of three: no answers are shown.
    assert len(anonymous) == 2
    for item in anonymous:
        assert item["author_id"] is None
        assert item["task_id"] is None, "the task id leads to its assignee"
        assert item["summary"] == "Peer feedback"
        assert item["data"]["review_kind"] == "peer"
        assert "fewer than the 3" in item["data"]["withheld"]
        assert {"ratings", "overall", "comments"}.isdisjoint(item["data"])
    assert named["self"]["author_id"] == SUBJECT
    assert named["self"]["anonymous"] is False
    assert named["manager"]["author_id"] == "E003"
    assert named["manager"]["task_id"] == task_id(NEW, "evaluation", "manager_review")
    assert named["manager"]["data"]["comments"] == {"strengths": "manager strengths"}
    for reviewer in (PEER, UPWARD):
        assert reviewer not in response.text, f"{reviewer} appears somewhere in the file"
    assert "upward strengths" not in response.text
    assert "peer strengths" not in response.text


async def test_a_group_at_its_threshold_shows_its_answers_but_not_their_authors(
    client: AsyncClient, world: str, auth: Token
) -> None:
    with session_scope(world) as session:
        for n, reviewer in enumerate(("E002", "E010")):
            row = review(NEW, "peer", reviewer, 64 + n)
            row.task_id = f"{row.task_id}-{n + 1}"
            row.comments = {"strengths": f"peer strengths {n}"}
            session.add(row)
    body = await read(client, headers(auth, "manager"), "&kind=review")
    anonymous = [i for i in body["items"] if i["anonymous"]]

    # Three peers and one upward answer rolled into them: four answers, scores and
    # comments shown (threshold 3), as peer feedback; nobody's name.
    assert len(anonymous) == 4
    assert all(i["data"]["review_kind"] == "peer" for i in anonymous)
    assert all(i["data"]["overall"] == 4.0 for i in anonymous)
    assert sorted(i["data"]["comments"]["strengths"] for i in anonymous) == [
        "peer strengths",
        "peer strengths 0",
        "peer strengths 1",
        "upward strengths",
    ]
    assert all(i["author_id"] is None and "withheld" not in i["data"] for i in anonymous)


async def test_hr_admins_see_who_wrote_anonymous_reviews(
    client: AsyncClient, world: str, auth: Token
) -> None:
    body = await read(client, headers(auth, "hr-admin"), "&kind=review")
    authors = {i["data"]["review_kind"]: (i["author_id"], i["anonymous"]) for i in body["items"]}

    assert authors["peer"] == (PEER, True)
    assert authors["upward"] == (UPWARD, True)


@pytest.mark.parametrize(
    ("who", "why"),
    [
        (SUBJECT, "an HR admin reading their own file"),
        ("E003", "an HR admin who is the person's manager"),
        ("E002", "an HR admin who is a manager further up"),
    ],
)
async def test_hr_admins_never_learn_their_own_or_their_reports_reviewers(
    client: AsyncClient, world: str, auth: Token, who: str, why: str
) -> None:
    body = await read(client, auth(who, "hr-admin"), "&kind=review")
    anonymous = [i for i in body["items"] if i["anonymous"]]

    assert len(anonymous) == 2, why
    assert all(item["author_id"] is None for item in anonymous), why


def test_the_file_rules_are_the_records_rules() -> None:
    """Pay and reviewer identity are field permissions within what the route computes."""
    readers = PERMISSIONS["performance-files:read"].allow
    assert PERMISSIONS["employees:read-pay"].allow <= readers
    assert PERMISSIONS["performance-files:read-reviewers"].allow == {Relation.HR_ADMIN}
    assert readers == PERMISSIONS["employees:read"].allow


@pytest.mark.parametrize(
    ("caller", "sees_pay"),
    [("self", True), ("hrbp", True), ("hr-admin", True), ("manager", False), ("skip-level", False)],
)
async def test_results_only_for_self_hrbp_and_hr_admins(
    client: AsyncClient, world: str, auth: Token, caller: str, sees_pay: bool
) -> None:
    everything = await read(client, headers(auth, caller))
    asked = await read(client, headers(auth, caller), "&kind=result")

    results = [i for i in everything["items"] if i["kind"] == "result"]
    if sees_pay:
        assert shape(everything["items"]) == EXPECTED
        assert [r["data"]["merit_amount"] for r in results] == ["2800.00", "2800.00"]
        assert results[0]["data"]["bonus"] == "1000.00"
        assert len(asked["items"]) == 2
        talent = [i for i in everything["items"] if i["kind"] == "talent"]
        assert [t["data"]["decision"] for t in talent] == ["promote"]
    else:
        assert shape(everything["items"]) == [
            e for e in EXPECTED if e[0] not in ("result", "talent")
        ]
        assert asked["items"] == [], "asking for results by name does not help"
        assert "2800" not in str(everything)
        assert "merit" not in str(everything)
        assert "promote" not in str(everything), "talent decisions go with the pay results"


# --- the audit trail ---------------------------------------------------------------------------


async def test_every_read_is_audited_with_what_it_showed(
    client: AsyncClient, world: str, auth: Token
) -> None:
    full = await client.get(
        URL,
        headers=headers(
            auth, "hrbp", **{"X-Perfloop-Reason": "promotion case 7", "X-Request-ID": "req-pf-1"}
        ),
    )
    assert full.status_code == 200

    rows = audit_rows(world)
    assert [row.action for row in rows] == [
        "performance-file.read",
        "minutes.read",
        "pay.read",
        "rating.read",
        "review.read",
    ]
    for row in rows:
        assert row.actor_id == "H001"
        assert row.actor_roles == ["employee", "hrbp"]
        assert (row.resource_type, row.resource_id, row.subject_id) == (
            "performance-file",
            SUBJECT,
            SUBJECT,
        )
        assert row.reason == "promotion case 7"
        assert row.request_id == "req-pf-1"


async def test_a_managers_read_records_no_pay_and_a_refused_one_nothing(
    client: AsyncClient, world: str, auth: Token
) -> None:
    await read(client, headers(auth, "manager"))
    managers = [row.action for row in audit_rows(world)]
    await read(client, headers(auth, "self"), "&kind=goal")
    own_goals = [row.action for row in audit_rows(world)][len(managers) :]
    refused = await client.get(URL, headers=headers(auth, "peer"))

    assert "pay.read" not in managers
    assert "review.read" in managers
    assert own_goals == ["performance-file.read"], "a read without sensitive entries, once"
    assert refused.status_code == 404
    assert len(audit_rows(world)) == len(managers) + 1


@pytest.mark.parametrize("caller", ["self", "manager", "hrbp"])
async def test_an_interview_answer_or_its_absence_is_in_the_file(
    client: AsyncClient, world: str, auth: Token, caller: str
) -> None:
    """A disagreement's comment, and an acknowledgment nobody gave in time (the event the
    `update_task` activity writes when the interview closes the task), for the person,
    their manager and their HRBP."""
    with session_scope(world) as session, session.begin():
        session.add_all(
            [
                Acknowledgment(
                    task_id=task_id(OLD, "interview", "acknowledgment"),
                    cycle_id=OLD,
                    employee_id=SUBJECT,
                    decision="disagree",
                    comment="The rating ignores the migration.",
                    at=day(-59),
                ),
                PerformanceEvent(
                    event_key=f"{task_id(NEW, 'interview', 'acknowledgment')}:closed:file",
                    employee_id=SUBJECT,
                    cycle_id=NEW,
                    at=day(89),
                    kind="acknowledgment_closed",
                    ref=task_id(NEW, "interview", "acknowledgment"),
                    summary="Interview minutes not acknowledged in time",
                    data={"reason": "not acknowledged in time"},
                ),
            ]
        )

    items = (await read(client, headers(auth, caller)))["items"]

    (disagreed,) = [i for i in items if i["kind"] == "acknowledgment" and i["cycle_id"] == OLD]
    assert disagreed["summary"] == "Disagreed with the conversation minutes"
    assert disagreed["data"] == {
        "decision": "disagree",
        "comment": "The rating ignores the migration.",
    }
    (missed,) = [
        i for i in items if i["kind"] == "event" and i["data"]["event"] == "acknowledgment_closed"
    ]
    assert missed["summary"] == "Interview minutes not acknowledged in time"
    assert missed["phase_id"] == "interview"
    assert missed["data"] == {
        "event": "acknowledgment_closed",
        "reason": "not acknowledged in time",
    }


# --- the export ----------------------------------------------------------------------------

EXPORT = f"{URL}/export"


async def export(client: AsyncClient, headers: dict[str, str], fmt: str) -> Any:
    response = await client.get(f"{EXPORT}?format={fmt}", headers=headers)
    assert response.status_code == 200, response.text
    return response


async def test_the_json_export_is_the_whole_file_by_cycle_oldest_first(
    client: AsyncClient, world: str, auth: Token
) -> None:
    paged = await read(client, headers(auth, "hr-admin"))
    response = await export(client, headers(auth, "hr-admin"), "json")

    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="performance-file-{SUBJECT}.json"'
    )
    body = response.json()
    assert (body["employee_id"], body["exported_by"]) == (SUBJECT, BY_NAME["hr-admin"].employee_id)
    assert body["employee_name"]
    assert datetime.fromisoformat(body["generated_at"]).tzinfo is not None
    assert [c["cycle_id"] for c in body["cycles"]] == [OLD, NEW]
    for cycle in body["cycles"]:
        ats = [item["at"] for item in cycle["items"]]
        assert ats == sorted(ats), "each cycle oldest first"
        assert {item["cycle_id"] for item in cycle["items"]} == {cycle["cycle_id"]}
    exported = [item for cycle in body["cycles"] for item in cycle["items"]]
    assert sorted(exported, key=lambda i: i["id"]) == sorted(
        paged["items"], key=lambda i: i["id"]
    ), "the same entries, shown the same way, as the pages"


async def test_the_export_walks_past_one_batch(
    client: AsyncClient, world: str, auth: Token, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.services import performance_files

    monkeypatch.setattr(performance_files, "EXPORT_BATCH", 3)
    body = (await export(client, headers(auth, "self"), "json")).json()

    assert len([i for c in body["cycles"] for i in c["items"]]) == len(EXPECTED)


@pytest.mark.parametrize("fmt", ["json", "html"])
async def test_the_export_keeps_the_files_redactions(
    client: AsyncClient, world: str, auth: Token, fmt: str
) -> None:
    response = await export(client, headers(auth, "manager"), fmt)

    for reviewer in (PEER, UPWARD):
        assert reviewer not in response.text, f"{reviewer} appears in the export"
    assert "peer strengths" not in response.text
    assert "2800" not in response.text, "no pay for managers"
    assert "ready for staff" not in response.text, "no talent decisions for managers"
    assert "fewer than the 3" in response.text, "anonymous answers under the threshold"


async def test_the_html_export_is_a_self_contained_printable_page(
    client: AsyncClient, world: str, auth: Token
) -> None:
    with session_scope(world) as session:
        row = session.get(Goal, "g-new-2")
        assert row is not None
        row.title = '<script>alert("x")</script> & <b>grow</b>'
    response = await export(client, headers(auth, "self"), "html")
    page = response.text

    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["content-disposition"].startswith("inline;")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert page.startswith("<!doctype html>")
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;grow&lt;/b&gt;" in page
    assert "<script" not in page.lower()
    assert "<b>" not in page
    for external in ("src=", "href=", "@import", "url("):
        assert external not in page, f"{external} would fetch something"
    assert "@media print" in page
    with session_scope(world) as session:
        person = session.get(Employee, SUBJECT)
        assert person is not None
        name = person.name
    assert f"<h1>Performance file of {escape(name)} ({SUBJECT})</h1>" in page
    assert f"for {SUBJECT}." in page, "who exported it"
    # Grouped by cycle in the order they began, each cycle oldest first.
    assert page.index(f"Cycle {OLD}") < page.index(f"Cycle {NEW}")
    new_part = page[page.index(f"Cycle {NEW}") :]
    assert (
        new_part.index("Goal g-new-1")
        < new_part.index("Check-in")
        < new_part.index("Performance conversation recorded")
    )


async def test_the_export_is_audited_and_refused_like_the_file(
    client: AsyncClient, world: str, auth: Token
) -> None:
    refused = await client.get(f"{EXPORT}?format=html", headers=headers(auth, "peer"))
    missing = await client.get(
        "/v1/employees/E999/performance-file/export", headers=headers(auth, "hr-admin")
    )
    assert refused.status_code == missing.status_code == 404
    assert refused.json()["error"]["type"] == missing.json()["error"]["type"]
    assert audit_rows(world) == []

    await export(client, headers(auth, "hrbp"), "html")

    assert [row.action for row in audit_rows(world)] == [
        "performance-file.export",
        "minutes.read",
        "pay.read",
        "rating.read",
        "review.read",
    ]
    assert {row.subject_id for row in audit_rows(world)} == {SUBJECT}


async def test_an_unknown_export_format_is_refused(
    client: AsyncClient, world: str, auth: Token
) -> None:
    response = await client.get(f"{EXPORT}?format=pdf", headers=headers(auth, "self"))

    assert response.status_code == 422
