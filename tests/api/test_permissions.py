"""The authorisation model: every route declares one permission, relationships from the
org chart, 403 before 404, and request bodies that cannot carry what callers may not set."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, FastAPI
from httpx import AsyncClient
from sqlalchemy.orm import Session

from api.app import create_app
from api.auth import Principal, Role
from api.permissions import (
    PERMISSIONS,
    Relation,
    UndeclaredPermissionError,
    declared_permissions,
    ensure_declared,
    guarded_routes,
    permit,
    relations,
)
from api.schemas.common import RequestModel
from perfloop.settings import Settings
from store.db import session_scope
from store.models import Employee
from tests.api.conftest import Token, add_tasks, make_task
from tests.api.org import ENGINEERING, SALES, SUBJECT, add_org


def test_every_v1_route_declares_exactly_one_permission(app: FastAPI) -> None:
    routes = list(guarded_routes(app))

    assert len(routes) >= 11
    for route in routes:
        declared = declared_permissions(route)
        assert len(declared) == 1, (route.methods, route.path, declared)
        assert declared[0].name in PERMISSIONS


def test_an_app_with_an_undeclared_route_is_refused(app: FastAPI) -> None:
    sneaky = APIRouter(prefix="/v1")

    @sneaky.get("/salaries")
    def salaries() -> dict[str, int]:
        return {"E004": 80000}

    app.include_router(sneaky)

    with pytest.raises(UndeclaredPermissionError, match="GET /v1/salaries: none"):
        ensure_declared(app)


def test_a_route_declaring_two_permissions_is_refused(app: FastAPI) -> None:
    greedy = APIRouter(prefix="/v1", dependencies=[permit("audit:read")])

    @greedy.get("/both", dependencies=[permit("me:read")])
    def both() -> None:
        return None

    app.include_router(greedy)

    with pytest.raises(UndeclaredPermissionError, match="audit:read, me:read"):
        ensure_declared(app)


def test_create_app_checks_at_build_time(settings: Settings) -> None:
    # The shipped app builds: every route is declared (the check runs inside create_app).
    assert isinstance(create_app(settings), FastAPI)


def test_unknown_or_field_permissions_cannot_be_declared() -> None:
    with pytest.raises(KeyError):
        permit("salaries:read")
    with pytest.raises(KeyError):
        permit("employees:read-pay")


def test_field_permissions_need_only_what_their_route_computes() -> None:
    assert PERMISSIONS["employees:read-pay"].allow <= PERMISSIONS["employees:read"].allow
    assert Relation.MANAGER not in PERMISSIONS["employees:read-pay"].allow
    assert Relation.SKIP_LEVEL not in PERMISSIONS["employees:read-pay"].allow


def test_request_models_forbid_extra_fields(app: FastAPI) -> None:
    """Every request body refuses unknown fields: nobody can slip in a rating or pay."""
    bodies = [
        route.dependant.body_params[0].field_info.annotation
        for route in guarded_routes(app)
        if route.dependant.body_params
    ]
    assert bodies
    for body in bodies:
        assert isinstance(body, type), body
        assert issubclass(body, RequestModel), body
        assert body.model_config.get("extra") == "forbid", body


# --- relationships ----------------------------------------------------------------------


def principal(subject: str, *roles: Role, departments: tuple[str, ...] = ()) -> Principal:
    return Principal(
        subject=subject,
        roles=frozenset({Role.EMPLOYEE, *roles}),
        issuer="test",
        departments=frozenset(departments),
    )


@pytest.fixture
def org(seeded: str) -> str:
    add_org(seeded)
    return seeded


@pytest.mark.parametrize(
    ("caller", "expected"),
    [
        (principal(SUBJECT), {Relation.SELF}),
        (principal("E005"), set()),
        (principal("E003"), {Relation.MANAGER}),
        (principal("E002"), {Relation.SKIP_LEVEL}),
        (principal("E001"), {Relation.SKIP_LEVEL}),
        (principal("E010"), set()),
        (principal("H001", Role.HRBP, departments=(ENGINEERING,)), {Relation.HRBP}),
        (principal("H002", Role.HRBP, departments=(SALES,)), set()),
        # Departments without the role grant nothing.
        (principal("H002", departments=(ENGINEERING,)), set()),
        (principal("H003", Role.HR_ADMIN), {Relation.HR_ADMIN}),
        (principal("O001", Role.OPS), set()),
    ],
)
def test_relationships_come_from_the_org_chart(
    org: str, caller: Principal, expected: set[Relation]
) -> None:
    with session_scope(org) as session:
        assert relations(session, caller, SUBJECT) == expected


def test_reviewer_of_is_any_task_about_the_subject_or_the_task_in_hand(org: str) -> None:
    add_tasks(org, make_task("E005", subject=SUBJECT, phase="evaluation", kind="peer_review"))
    with session_scope(org) as session:
        peer = principal("E005")
        assert relations(session, peer, SUBJECT) == {Relation.REVIEWER}
        someone_elses = make_task("E011", subject=SUBJECT, kind="peer_review", seq=2)
        assert relations(session, peer, SUBJECT, task=someone_elses) == set()


def test_a_loop_in_the_org_chart_ends_the_walk(org: str, session: Session) -> None:
    with session_scope(org) as writer:
        boss = writer.get(Employee, "E001")
        assert boss is not None
        boss.manager_id = SUBJECT  # E004 -> E003 -> E002 -> E001 -> E004 ...
    caller = principal("E010")

    assert relations(session, caller, SUBJECT) == set()
    assert relations(session, principal("E001"), SUBJECT) == {Relation.SKIP_LEVEL}


# --- 403 or 404 ----------------------------------------------------------------------------


async def test_a_role_gated_route_is_403_before_any_lookup(
    client: AsyncClient, org: str, auth: Token
) -> None:
    for path in ("/v1/employees/E004/export", "/v1/employees/NOBODY/export", "/v1/audit"):
        response = await client.get(path, headers=auth("E003"))
        assert response.status_code == 403, path
        assert response.json()["error"]["type"] == "MissingRole"
        assert response.json()["error"]["details"] == {"required": ["hr-admin"]}


async def test_seeing_an_object_but_not_acting_on_it_is_403(
    client: AsyncClient, org: str, auth: Token
) -> None:
    [task_id] = add_tasks(org, make_task(SUBJECT, phase="evaluation", kind="self_review"))

    response = await client.post(
        f"/v1/tasks/{task_id}/submit", json={"payload": {}}, headers=auth("H003", "hr-admin")
    )

    assert response.status_code == 403
    assert response.json()["error"] == {
        "type": "NotAllowed",
        "message": "Submit a task's form: its assignee only: not allowed to you",
        "details": {"permission": "tasks:submit"},
    }


async def test_ops_reaches_operational_routes_only(
    client: AsyncClient, org: str, auth: Token
) -> None:
    ops = auth("O001", "ops")

    assert (await client.get("/v1/me", headers=ops)).status_code == 200
    assert (await client.get("/v1/employees", headers=ops)).status_code == 403
    assert (await client.get(f"/v1/employees/{SUBJECT}", headers=ops)).status_code == 404
    assert (await client.get("/v1/audit", headers=ops)).status_code == 403
