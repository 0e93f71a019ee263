"""`GET /v1/tasks/{id}` of a peer or upward review: the reviewer's identity stays with the
reviewer, and with an HR admin who says why (audited), never with the person reviewed."""

from __future__ import annotations

import pytest
from httpx import AsyncClient
from sqlalchemy import select

from store.db import session_scope
from store.models import AuditEvent
from tests.api.conftest import Token, add_tasks, make_task
from tests.api.org import BY_NAME, ENGINEERING, SUBJECT, add_org

REVIEWER = "E005"


@pytest.fixture
def peer_task(seeded: str) -> str:
    add_org(seeded)
    [task_id] = add_tasks(
        seeded,
        make_task(
            REVIEWER,
            subject=SUBJECT,
            phase="evaluation",
            kind="peer_review",
            form="peer-review",
            seq=1,
        ),
    )
    return task_id


def reveals(url: str) -> list[AuditEvent]:
    with session_scope(url) as session:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.action == "reviewer.reveal"))
        return list(rows)


async def test_the_reviewer_sees_their_own_task(
    client: AsyncClient, peer_task: str, auth: Token
) -> None:
    response = await client.get(f"/v1/tasks/{peer_task}", headers=auth(REVIEWER))
    assert response.status_code == 200, response.text
    assert response.json()["assignee_id"] == REVIEWER


async def test_an_hrbp_reads_the_task_without_its_reviewer(
    client: AsyncClient, peer_task: str, auth: Token
) -> None:
    hrbp = BY_NAME["hrbp"]
    headers = auth(hrbp.employee_id, "hrbp", departments=[ENGINEERING])
    response = await client.get(
        f"/v1/tasks/{peer_task}", headers={**headers, "X-Perfloop-Reason": "curious"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["assignee_id"] is None
    assert REVIEWER not in response.text


async def test_an_hr_admin_learns_the_reviewer_only_with_a_reason_and_it_is_audited(
    client: AsyncClient, peer_task: str, auth: Token, seeded: str
) -> None:
    admin = auth("H003", "hr-admin")
    silent = await client.get(f"/v1/tasks/{peer_task}", headers=admin)
    stated = await client.get(
        f"/v1/tasks/{peer_task}",
        headers={**admin, "X-Perfloop-Reason": "harassment complaint #42"},
    )

    assert silent.json()["assignee_id"] is None
    assert stated.json()["assignee_id"] == REVIEWER
    [row] = reveals(seeded)
    assert (row.actor_id, row.subject_id, row.reason) == (
        "H003",
        SUBJECT,
        "harassment complaint #42",
    )


@pytest.mark.parametrize("who", [SUBJECT, "E003", "E002"])
async def test_an_hr_admin_never_learns_their_own_or_their_reports_reviewers(
    client: AsyncClient, peer_task: str, auth: Token, seeded: str, who: str
) -> None:
    response = await client.get(
        f"/v1/tasks/{peer_task}",
        headers={**auth(who, "hr-admin"), "X-Perfloop-Reason": "I want to know"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["assignee_id"] is None
    assert reveals(seeded) == []
