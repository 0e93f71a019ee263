"""`/v1/employees`: the HR list, one record, and pay only for whom may see it."""

from __future__ import annotations

import pytest
from httpx import AsyncClient
from sqlalchemy import select

from store.db import session_scope
from store.models import AuditEvent
from tests.api.conftest import Token
from tests.api.org import BY_NAME, CALLERS, SUBJECT, add_org

PAY = {"salary", "range_midpoint", "currency"}


@pytest.fixture
def org(db: str) -> str:
    add_org(db)
    return db


def headers(auth: Token, name: str) -> dict[str, str]:
    caller = BY_NAME[name]
    return auth(caller.employee_id, *caller.roles, departments=caller.departments)


@pytest.mark.parametrize(
    ("caller", "sees_pay"),
    [
        ("self", True),
        ("manager", False),
        ("skip-level", False),
        ("hrbp", True),
        ("hr-admin", True),
    ],
)
async def test_pay_only_for_self_hrbp_and_hr_admin(
    client: AsyncClient, org: str, auth: Token, caller: str, sees_pay: bool
) -> None:
    response = await client.get(f"/v1/employees/{SUBJECT}", headers=headers(auth, caller))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["employee_id"] == SUBJECT
    assert body["manager_id"] == "E003"
    if sees_pay:
        assert set(body) >= PAY
        assert body["salary"] == "80000.00"
    else:
        assert not PAY & set(body), "no pay keys at all, not even empty ones"
    with session_scope(org) as session:
        rows = session.scalars(select(AuditEvent)).all()
        assert [(r.action, r.subject_id) for r in rows] == (
            [("pay.read", SUBJECT)] if sees_pay else []
        )
        if sees_pay:
            assert rows[0].actor_id == BY_NAME[caller].employee_id


async def test_the_list_is_hr_admins_all_and_hrbps_their_departments(
    client: AsyncClient, org: str, auth: Token
) -> None:
    everyone = await client.get("/v1/employees?limit=200", headers=headers(auth, "hr-admin"))
    partnered = await client.get("/v1/employees", headers=headers(auth, "hrbp"))
    filtered = await client.get("/v1/employees?department=Sales", headers=headers(auth, "hrbp"))

    assert everyone.status_code == 200
    assert len(everyone.json()["items"]) == len(CALLERS) + 2
    assert [e["employee_id"] for e in partnered.json()["items"]] == [
        "E002",
        "E003",
        "E004",
        "E005",
    ]
    assert filtered.json()["items"] == [], "an HRBP never lists another department"
    for item in everyone.json()["items"]:
        assert not PAY & set(item), "the list never carries pay"


@pytest.mark.parametrize("caller", ["self", "manager", "skip-level", "ops", "peer"])
async def test_others_may_not_list(client: AsyncClient, org: str, auth: Token, caller: str) -> None:
    response = await client.get("/v1/employees", headers=headers(auth, caller))

    assert response.status_code == 403
    assert response.json()["error"]["type"] == "MissingRole"


async def test_the_list_pages_by_id(client: AsyncClient, org: str, auth: Token) -> None:
    admin = headers(auth, "hr-admin")
    seen: list[str] = []
    cursor = None
    while True:
        query = "/v1/employees?limit=4" + (f"&cursor={cursor}" if cursor else "")
        page = (await client.get(query, headers=admin)).json()
        seen += [e["employee_id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == sorted(seen)
    assert len(seen) == len(set(seen)) == 11


async def test_an_unknown_employee_is_404_for_hr_too(
    client: AsyncClient, org: str, auth: Token
) -> None:
    response = await client.get("/v1/employees/E999", headers=headers(auth, "hr-admin"))

    assert response.status_code == 404
    assert response.json()["error"] == {
        "type": "EmployeeNotFound",
        "message": "no employee E999",
        "details": {},
    }
