"""Broken object-level authorisation: every route that takes an id, asked by every caller.

The matrix is keyed by the app's own routes: a new `/v1` route with a path parameter
and no entry here fails `test_every_id_route_has_a_matrix_entry`. Each entry lists
targets (objects the id names) and, for each caller of `tests/api/org.py`, the answer:
`OK` (2xx), 403 (may not do this; nothing about the object is revealed) or 404 (may
not know the object exists: the very answer a missing id gets).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient

from api.permissions import RouteView, guarded_routes
from tests.api.conftest import T0, FakeTemporal, Token, add_tasks, make_task
from tests.api.goals_seed import PENDING_CHANGE, SUBJECT_GOAL, add_goals
from tests.api.org import BY_NAME, CALLERS, SUBJECT, add_org
from workflows.messages import ControlResult, CycleStatus, SubmitTaskInput, SubmitTaskResult

OK = 200
NAMES = [caller.name for caller in CALLERS]


def expect(default: int, **answers: int) -> dict[str, int]:
    """Every caller answers `default` except those named (underscores for dashes)."""
    named = {name.replace("_", "-"): status for name, status in answers.items()}
    assert set(named) <= set(NAMES), set(named) - set(NAMES)
    return {name: named.get(name, default) for name in NAMES}


@dataclass(frozen=True)
class Target:
    what: str
    params: dict[str, str]
    answers: dict[str, int]
    body: dict[str, Any] | None = None


SELF_REVIEW = f"annual-2027/{SUBJECT}/evaluation/self_review"
MANAGER_REVIEW = f"annual-2027/{SUBJECT}/evaluation/manager_review"
CALIBRATION = "annual-2027/@Engineering/evaluation/calibration"
SUBMISSION = {"payload": {"overall": 4}}

READERS = expect(404, self=OK, manager=OK, skip_level=OK, hrbp=OK, hr_admin=OK)
GOALS_MATRIX: dict[str, list[Target]] = {
    "GET /v1/cycles/{cycle_id}/objectives": [
        Target("a cycle's objectives tree (goals filtered)", {"cycle_id": "annual-2027"},
               expect(OK)),
    ],
    "POST /v1/cycles/{cycle_id}/objectives": [
        Target("a new org objective", {"cycle_id": "annual-2027"}, expect(403, hr_admin=OK),
               {"title": "Expand to Asia"}),
    ],
    "POST /v1/cycles/{cycle_id}/objectives/{objective_id}/change": [
        Target("an org objective", {"cycle_id": "annual-2027", "objective_id": "grow"},
               expect(403, hr_admin=OK), {"title": "Grow profitably", "reason": "r"}),
    ],
    "POST /v1/cycles/{cycle_id}/objectives/{objective_id}/drop": [
        Target("an org objective", {"cycle_id": "annual-2027", "objective_id": "grow"},
               expect(403, hr_admin=OK), {"reason": "r"}),
    ],
    "GET /v1/employees/{employee_id}/goals": [
        Target("the subject's goals", {"employee_id": SUBJECT}, READERS),
    ],
    "GET /v1/goals/{goal_id}": [
        Target("the subject's goal", {"goal_id": SUBJECT_GOAL}, READERS),
    ],
    "GET /v1/goals/{goal_id}/history": [
        Target("the subject's goal", {"goal_id": SUBJECT_GOAL}, READERS),
    ],
    "POST /v1/goals/{goal_id}/changes": [
        # The owner's change waits for the manager; the managers' and HR's apply (asked
        # again, the goal already is so: the change that made it is the answer).
        Target("the subject's approved goal", {"goal_id": SUBJECT_GOAL},
               expect(404, self=OK, manager=OK, skip_level=OK, hr_admin=OK, hrbp=403),
               {"title": "Ship it", "reason": "scope"}),
    ],
    "POST /v1/goals/{goal_id}/changes/{change_id}/decision": [
        # The first decider approves; the same decision again answers the decided change.
        Target("the subject's pending change",
               {"goal_id": SUBJECT_GOAL, "change_id": str(PENDING_CHANGE)},
               expect(404, manager=OK, skip_level=OK, hr_admin=OK, self=403, hrbp=403),
               {"decision": "approve"}),
    ],
    "POST /v1/cycles/{cycle_id}/goal-assignments": [
        # Everyone may ask; each gives goals only to whom they may (the rest is skipped).
        Target("a goal for the subject", {"cycle_id": "annual-2027"}, expect(OK),
               {"template": {"title": "Security", "type": "development", "weight": 5},
                "to": {"employee_ids": [SUBJECT]}, "reason": "policy"}),
    ],
    "GET /v1/cycles/{cycle_id}/alignment-coverage": [
        Target("a cycle's alignment coverage", {"cycle_id": "annual-2027"},
               expect(403, hrbp=OK, hrbp_other_dept=OK, hr_admin=OK)),
    ],
}  # fmt: skip


MATRIX: dict[str, list[Target]] = {
    "GET /v1/cycles/{cycle_id}": [
        Target(
            "a cycle (operational, no personal data)",
            {"cycle_id": "annual-2027"},
            expect(403, hrbp=OK, hrbp_other_dept=OK, hr_admin=OK, ops=OK),
        ),
    ],
    "GET /v1/tasks/{task_id:path}": [
        Target(
            "the subject's self-review",
            {"task_id": SELF_REVIEW},
            expect(404, self=OK, hrbp=OK, hr_admin=OK),
        ),
        Target(
            "the manager's review of the subject",
            {"task_id": MANAGER_REVIEW},
            expect(404, manager=OK, hrbp=OK, hr_admin=OK),
        ),
        Target(
            "Engineering's calibration (a group task, assigned to its head)",
            {"task_id": CALIBRATION},
            expect(404, skip_level=OK, hrbp=OK, hr_admin=OK),
        ),
    ],
    "POST /v1/tasks/{task_id:path}/submit": [
        Target(
            "the subject's self-review",
            {"task_id": SELF_REVIEW},
            expect(404, self=OK, hrbp=403, hr_admin=403),
            SUBMISSION,
        ),
        Target(
            "the manager's review of the subject",
            {"task_id": MANAGER_REVIEW},
            expect(404, manager=OK, hrbp=403, hr_admin=403),
            SUBMISSION,
        ),
    ],
    **{
        f"POST /v1/cycles/{{cycle_id}}{suffix}": [
            Target(
                f"an HR control of a running cycle ({suffix.strip('/') or 'cancel'})",
                {"cycle_id": "annual-2027", **params},
                expect(403, hr_admin=hr_admin),
                body,
            )
        ]
        for suffix, params, body, hr_admin in [
            (
                "/deadlines",
                {},
                {"phase_id": "evaluation", "new_due": "2099-01-01T00:00:00Z", "reason": "r"},
                OK,
            ),
            ("/phases/{phase_id}/close", {"phase_id": "evaluation"}, {"reason": "r"}, OK),
            ("/tasks/{task_id:path}/reopen", {"task_id": SELF_REVIEW}, {"reason": "r"}, OK),
            (
                "/tasks/{task_id:path}/reassign",
                {"task_id": SELF_REVIEW},
                {"new_assignee_id": "E005", "reason": "r"},
                OK,
            ),
            (
                "/participants/{employee_id}/cancel",
                {"employee_id": SUBJECT},
                {"reason": "r"},
                OK,
            ),
            ("/cancel", {}, {"reason": "r"}, OK),
            # A version that was never published: the HR admin learns that, nobody else.
            ("/migrate", {}, {"definition": "annual-review@9"}, 404),
        ]
    },
    "GET /v1/cycles/{cycle_id}/analytics": [
        Target(
            "a cycle's ratings, all departments",
            {"cycle_id": "annual-2027"},
            expect(403, hr_admin=OK),
        ),
    ],
    "GET /v1/cycles/{cycle_id}/calibration/{group}": [
        Target(
            "Engineering's calibration picture (its task is assigned to its head)",
            {"cycle_id": "annual-2027", "group": "Engineering"},
            expect(404, skip_level=OK, hrbp=OK, hr_admin=OK),
        ),
    ],
    "GET /v1/cycles/{cycle_id}/bias": [
        Target(
            "a cycle's reviewer statistics (names peer reviewers)",
            {"cycle_id": "annual-2027"},
            expect(403, hr_admin=OK),
        ),
    ],
    "GET /v1/definitions/{name}/{version}": [
        Target(
            "a published definition (no personal data)",
            {"name": "annual-review", "version": "1"},
            expect(403, hrbp=OK, hrbp_other_dept=OK, hr_admin=OK, ops=OK),
        ),
    ],
    "POST /v1/definitions/{name}/{version}/deprecate": [
        Target(
            "a published definition",
            {"name": "annual-review", "version": "1"},
            expect(403, hr_admin=OK),
            {"reason": "superseded"},
        ),
    ],
    "GET /v1/employees/{employee_id}": [
        Target(
            "the subject's record",
            {"employee_id": SUBJECT},
            expect(404, self=OK, manager=OK, skip_level=OK, hrbp=OK, hr_admin=OK),
        ),
    ],
    "GET /v1/employees/{employee_id}/performance-file": [
        Target(
            "the subject's performance file",
            {"employee_id": SUBJECT},
            expect(404, self=OK, manager=OK, skip_level=OK, hrbp=OK, hr_admin=OK),
        ),
    ],
    "GET /v1/employees/{employee_id}/performance-file/export": [
        Target(
            "the subject's whole performance file, exported",
            {"employee_id": SUBJECT},
            expect(404, self=OK, manager=OK, skip_level=OK, hrbp=OK, hr_admin=OK),
        ),
    ],
    "GET /v1/dashboards/teams/{manager_id}": [
        Target(
            "the subject's manager's team dashboard (E003 manages the subject)",
            {"manager_id": "E003"},
            expect(404, manager=OK, skip_level=OK, hrbp=OK, hr_admin=OK),
        ),
    ],
    "GET /v1/employees/{employee_id}/export": [
        Target("the subject's data", {"employee_id": SUBJECT}, expect(403, hr_admin=OK)),
    ],
    **GOALS_MATRIX,
    "POST /v1/employees/{employee_id}/erase": [
        Target(
            "the subject's data",
            {"employee_id": SUBJECT},
            expect(403, hr_admin=OK),
            {"reason": "DSR-2027-001"},
        ),
    ],
}


def id_routes(app: FastAPI) -> dict[str, RouteView]:
    routes: dict[str, RouteView] = {}
    for route in guarded_routes(app):
        if route.params:
            for method in route.methods:
                routes[f"{method} {route.path}"] = route
    return routes


def test_every_id_route_has_a_matrix_entry(app: FastAPI) -> None:
    routes = id_routes(app)

    assert set(routes) == set(MATRIX), (
        f"missing from MATRIX: {sorted(set(routes) - set(MATRIX))}; "
        f"stale in MATRIX: {sorted(set(MATRIX) - set(routes))}"
    )
    for key, targets in MATRIX.items():
        assert targets, key
        for target in targets:
            assert set(target.params) == routes[key].params, (key, target.what)


def url(path: str, params: dict[str, str]) -> str:
    for name, value in params.items():
        path = path.replace(f"{{{name}:path}}", value).replace(f"{{{name}}}", value)
    assert "{" not in path, path
    return path


def accepted(submission: SubmitTaskInput) -> SubmitTaskResult:
    return SubmitTaskResult(
        task_id=submission.task_id, status="submitted", late=False, accepted_at=T0
    )


@pytest.fixture
def world(seeded: str, temporal: FakeTemporal) -> str:
    add_org(seeded)
    add_tasks(
        seeded,
        make_task(SUBJECT, phase="evaluation", kind="self_review", form="self-review"),
        make_task(
            "E003",
            subject=SUBJECT,
            phase="evaluation",
            kind="manager_review",
            form="manager-review",
        ),
        make_task(
            "E002",
            subject="@Engineering",
            phase="evaluation",
            kind="calibration",
            form="calibration-adjustment",
        ),
    )
    temporal.update_outcomes["submit_task"] = accepted
    for control in (
        "extend_deadline",
        "close_phase",
        "reopen_task",
        "reassign_task",
        "cancel_participant",
        "cancel_cycle",
    ):
        temporal.update_outcomes[control] = ControlResult(detail="done", affected=1)
    temporal.query_outcomes["status"] = CycleStatus(
        cycle_id="annual-2027",
        definition_ref="annual-review@1",
        status="running",
        nominal_now=T0,
    )
    add_goals(seeded)
    return seeded


CASES = [
    pytest.param(key, index, id=f"{key} [{target.what}]")
    for key, targets in MATRIX.items()
    for index, target in enumerate(targets)
]


@pytest.mark.parametrize(("key", "index"), CASES)
async def test_bola_matrix(
    client: AsyncClient, world: str, auth: Token, key: str, index: int
) -> None:
    method, path = key.split(" ", 1)
    target = MATRIX[key][index]
    headers_for: Callable[[str], dict[str, str]] = lambda name: auth(  # noqa: E731
        BY_NAME[name].employee_id, *BY_NAME[name].roles, departments=BY_NAME[name].departments
    )
    # Refusals first: an allowed erasure would leave nothing for the others to be refused.
    order = sorted(NAMES, key=lambda name: target.answers[name] == OK)
    got: dict[str, int] = {}
    for name in order:
        response = await client.request(
            method, url(path, target.params), json=target.body, headers=headers_for(name)
        )
        got[name] = OK if response.is_success else response.status_code
        if response.status_code == 404:
            assert response.json()["error"]["type"].endswith("NotFound"), response.text
    assert got == target.answers


async def test_a_hidden_object_and_a_missing_one_answer_alike(
    client: AsyncClient, world: str, auth: Token
) -> None:
    peer = auth("E005")
    for hidden, missing in [
        (f"/v1/tasks/{SELF_REVIEW}", "/v1/tasks/annual-2027/E999/evaluation/self_review"),
        (f"/v1/employees/{SUBJECT}", "/v1/employees/E999"),
        (
            f"/v1/employees/{SUBJECT}/performance-file",
            "/v1/employees/E999/performance-file",
        ),
        (
            f"/v1/employees/{SUBJECT}/performance-file/export?format=html",
            "/v1/employees/E999/performance-file/export?format=html",
        ),
    ]:
        seen = (await client.get(hidden, headers=peer)).json()["error"]
        absent = (await client.get(missing, headers=peer)).json()["error"]
        assert seen["type"] == absent["type"]
        assert set(seen) == set(absent)
        assert seen["message"].split()[:2] == absent["message"].split()[:2]
