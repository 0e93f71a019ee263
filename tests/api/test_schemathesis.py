"""Schemathesis over the whole OpenAPI document, as each role and without a token.

Every operation of `/openapi.json` is run with generated requests (the schema's
examples, its coverage cases — boundaries and invalid values — and fuzzed ones) against
an app on the test store, seeded with the org of `tests/api/org.py`, a published
definition, a running cycle and tasks; path parameters are drawn from the real ids half
the time so that requests reach real objects, not only 404s. Temporal is `FakeTemporal`.

As every role: no 5xx; status codes, content types, headers and bodies as documented;
an authenticated request replayed without (or with a broken) token is refused
(`ignored_auth`). Without a token: every `/v1` operation answers 401.

Deterministic and bounded: a fixed seed, derandomised Hypothesis, a few examples per
operation, no example database. Each role is one test with a fresh store (`db` is
function-scoped), so destructive routes (erase, cancel) cannot leak into another role.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import strategies as st
from schemathesis import Case
from schemathesis.python import asgi

from api.auth import issue_dev_token
from perfloop.settings import Settings
from store.db import session_scope
from tests.api.conftest import (
    CYCLE_ID,
    T0,
    FakeTemporal,
    add_tasks,
    app_for,
    make_task,
)
from tests.api.goals_seed import PENDING_CHANGE, SUBJECT_GOAL, add_goals
from tests.api.org import BY_NAME, SUBJECT, add_org
from tests.api.seed import add, participant, phase
from workflows.messages import ControlResult, CycleStatus, SubmitTaskInput, SubmitTaskResult

ROLES: dict[str, str | None] = {
    # role -> caller of tests/api/org.py (None: no token at all)
    "employee": "peer",  # E005: no reports, one task of their own
    "manager": "manager",  # E003: E004 and E005 report to them
    "hrbp": "hrbp",  # H001: HRBP of Engineering
    "hr-admin": "hr-admin",  # H003
    "ops": "ops",  # O001
    "no-token": None,
}

SELF_REVIEW = f"{CYCLE_ID}/{SUBJECT}/evaluation/self_review"
MANAGER_REVIEW = f"{CYCLE_ID}/{SUBJECT}/evaluation/manager_review"
PEER_GOALS = f"{CYCLE_ID}/E005/goals/goal_draft"

REAL_IDS: dict[str, list[str]] = {
    "cycle_id": [CYCLE_ID],
    "employee_id": [SUBJECT, "E005", "E003", "E011"],
    "task_id": [SELF_REVIEW, MANAGER_REVIEW, PEER_GOALS],
    "phase_id": ["goals", "evaluation"],
    "group": ["Engineering"],
    "name": ["annual-review"],
    "version": ["1", "latest"],
    "objective_id": ["grow", "eng-1"],
    "goal_id": [SUBJECT_GOAL, "g-peer"],
    "change_id": [str(PENDING_CHANGE)],
}
"""Ids of seeded objects, per path parameter name."""

IDEMPOTENCY_KEY = "Idempotency-Key"
KEYS = itertools.count()
SEED = 20270104
MAX_EXAMPLES = 8


def valid_key(key: object) -> bool:
    return isinstance(key, str) and 1 <= len(key) <= 200 and key.isascii() and key.isprintable()


def accepted(submission: SubmitTaskInput) -> SubmitTaskResult:
    return SubmitTaskResult(
        task_id=submission.task_id, status="submitted", late=False, accepted_at=T0
    )


def seed_world(url: str, temporal: FakeTemporal) -> None:
    add_org(url)
    with session_scope(url) as session:
        add(
            session,
            participant(SUBJECT, manager="E003"),
            participant("E005", manager="E003"),
            phase(SUBJECT, "goals", "completed", day=10),
            phase(SUBJECT, "evaluation", "active", day=40),
            phase("E005", "goals", "active", day=10),
        )
    add_tasks(
        url,
        make_task(SUBJECT, phase="evaluation", kind="self_review", form="self-review"),
        make_task(
            "E003",
            subject=SUBJECT,
            phase="evaluation",
            kind="manager_review",
            form="manager-review",
        ),
        make_task("E005"),
    )
    add_goals(url, participants=False)
    temporal.update_outcomes["submit_task"] = accepted
    for control in (
        "extend_deadline",
        "close_phase",
        "reopen_task",
        "reassign_task",
        "cancel_participant",
        "cancel_cycle",
        "migrate_definition",
    ):
        temporal.update_outcomes[control] = ControlResult(detail="done", affected=1)
    temporal.query_outcomes["status"] = CycleStatus(
        cycle_id=CYCLE_ID, definition_ref="annual-review@1", status="running", nominal_now=T0
    )


def config(*, coverage: bool) -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "generation": {
                "mode": "all",
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
                # Tokens are the role's, sent explicitly; generated ones would only be noise.
                "with-security-parameters": False,
            },
            "phases": {"coverage": {"enabled": coverage}, "stateful": {"enabled": False}},
            "checks": CHECKS,
            "operations": OPERATIONS,
        }
    )


CHECKS = {
    # Schema-valid is not valid: cursors must be ones the API issued, a definition must
    # be a real one in YAML, due dates must lie ahead. The schema cannot say so, and
    # every such 422 is a correct refusal.
    "positive_data_acceptance": {"enabled": False},
}
OPERATIONS = [
    {
        # `{task_id:path}` takes slashes, so `GET /v1/tasks/{task_id}` serves this URL
        # too (as the task `<id>/submit`): the `Allow: GET, POST` of a 405 is true,
        # though the schema cannot express it.
        "include-name": "POST /v1/tasks/{task_id}/submit",
        "checks": {"allow_header_conformance": {"enabled": False}},
    }
]
COVERAGE_ROLES = frozenset({"hr-admin", "no-token"})
"""The coverage phase (every boundary and invalid value of every parameter, unexpected
methods) is most of the run's cost. The HR admin passes every role check, so their
requests reach validation and the services; without a token nothing may get past
authentication. The other roles get the schema's examples and fuzzed requests."""


@pytest.fixture(params=ROLES)
def role(request: pytest.FixtureRequest) -> str:
    """The role a test asks as; `api_schema` depends on it, which parametrises the test."""
    name: str = request.param
    # Schemathesis' pytest integration renames the node per operation through
    # `_nodeid`, which pytest 9.2 no longer has (it keeps `_id`): give it one.
    node: Any = request.node
    node._nodeid = node.nodeid
    return name


@pytest.fixture
def role_app(
    role: str, seeded: str, settings: Settings, temporal: FakeTemporal
) -> Iterator[FastAPI]:
    seed_world(seeded, temporal)
    app = app_for(settings, temporal)
    yield app
    # Schemathesis keeps each app's lifespan running until the process exits; end it now.
    asgi.shutdown_lifespans()


@pytest.fixture
def api_schema(role: str, role_app: FastAPI) -> schemathesis.BaseSchema:
    schema = schemathesis.openapi.from_asgi(
        "/openapi.json", role_app, config=config(coverage=role in COVERAGE_ROLES)
    )

    @schema.hook
    def flatmap_path_parameters(
        _: schemathesis.HookContext, parameters: dict[str, Any] | None
    ) -> st.SearchStrategy[dict[str, Any] | None]:
        names = parameters or {}
        real = {name: st.sampled_from(REAL_IDS[name]) for name in names if name in REAL_IDS}
        if not real:
            return st.just(parameters)
        given = {name: st.just(value) for name, value in names.items()}
        return st.one_of(st.just(parameters), st.fixed_dictionaries({**given, **real}))

    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)
def test_api_as(case: Case[Any], role: str, settings: Settings) -> None:
    if case.headers and valid_key(case.headers.get(IDEMPOTENCY_KEY)):
        # Generated keys repeat ("0"), which would make every later request a replay or
        # an `IdempotencyKeyReused`; a fresh key lets each request reach its route.
        case.headers[IDEMPOTENCY_KEY] = f"schemathesis-{next(KEYS)}"
    caller = BY_NAME[name] if (name := ROLES[role]) is not None else None
    if caller is None:
        response = case.call()
        # Methods the path does not serve answer 405 whoever asks; the rest need a token.
        if case.path.startswith("/v1/") and case.method.upper() == case.operation.method.upper():
            assert response.status_code == 401, f"{case.method} {case.formatted_path}"
        case.validate_response(response)
        return
    token = issue_dev_token(
        settings, caller.employee_id, caller.roles, departments=caller.departments
    )
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"})
