"""The simulated people's payloads: valid for every stock form, deterministic per seed,
and within the cycle's goal rules."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from definitions.loader import load_file, pin
from definitions.models import EvaluationPhase, GoalSettingPhase, InterviewPhase
from definitions.pinned import PinnedDefinition
from perfloop.fake_forms import (
    FakeFormError,
    SchemaFaker,
    TaskContext,
    fill_task,
    validation_errors,
)
from workflows.builtin_forms import (
    BUILTIN_FORMS,
    CALIBRATION,
    DECLINE,
    PEER_APPROVAL,
    PEER_NOMINATION,
    RESULTS_APPROVAL,
)
from workflows.phases.goal_setting import goal_rules

CYCLES = Path(__file__).resolve().parents[2] / "definitions" / "cycles"
STOCK = sorted(CYCLES.glob("*/v*.yaml"))

# The task kind a simulated person fills each stock form in as.
KIND_OF_FORM = {
    "goal-draft": "goal_draft",
    "goal-review": "goal_review",
    "goal-realign": "goal_realign",
    "department-objectives": "department_objectives",
    "checkin": "checkin",
    "self-review": "self_review",
    "manager-review": "manager_review",
    "peer-review": "peer_review",
    "upward-review": "upward_review",
    "calibration-adjustment": "calibration",
    "interview-minutes": "interview_minutes",
    "acknowledgment": "acknowledgment",
    "results-approval": "results_approval",
    CALIBRATION: "calibration",
    RESULTS_APPROVAL: "results_approval",
}

FORMS = CYCLES.parent / "forms"


@pytest.fixture(scope="module", params=STOCK, ids=lambda path: f"{path.parent.name}/{path.stem}")
def pinned(request: pytest.FixtureRequest) -> PinnedDefinition:
    path: Path = request.param
    return pin(load_file(path))


def context(pinned: PinnedDefinition, form_id: str, schema: dict[str, Any]) -> TaskContext:
    definition = pinned.definition
    goals = next((p for p in definition.phases if isinstance(p, GoalSettingPhase)), None)
    evaluation = next((p for p in definition.phases if isinstance(p, EvaluationPhase)), None)
    interview = next((p for p in definition.phases if isinstance(p, InterviewPhase)), None)
    kind = KIND_OF_FORM.get(form_id, form_id.replace("-", "_"))
    return TaskContext(
        kind=kind,
        form_schema=schema,
        subject_id="@Engineering" if kind in ("calibration", "department_objectives") else "E010",
        goal_setting=goals,
        competencies=[c.id for c in evaluation.competencies] if evaluation else (),
        sections=[s.id for s in interview.template] if interview else (),
        parent_ids=["engineering-1", "org-growth"],
        goal_ids=["g-1", "g-2"],
        ratings={"E010": 3, "E011": 4, "E012": 2},
    )


def test_every_form_of_every_stock_cycle_gets_valid_payloads(pinned: PinnedDefinition) -> None:
    rng = random.Random(11)
    forms = {**pinned.form_schemas, **BUILTIN_FORMS}
    for form_id, schema in forms.items():
        task = context(pinned, form_id, schema)
        for _ in range(25):
            payload = fill_task(task, rng)
            assert validation_errors(schema, payload) == [], (form_id, payload)
            if task.kind == "goal_draft" and task.goal_setting is not None:
                assert goal_rules(task.goal_setting)(payload) == [], payload


def test_payloads_are_deterministic_per_seed(pinned: PinnedDefinition) -> None:
    schema = pinned.form_schemas.get("goal-draft")
    if schema is None:
        pytest.skip("no goal-draft form")
    task = context(pinned, "goal-draft", schema)
    assert fill_task(task, random.Random(3)) == fill_task(task, random.Random(3))
    assert fill_task(task, random.Random(3)) != fill_task(task, random.Random(4))


def test_decisions_move_the_cycle_along() -> None:
    rng = random.Random(5)
    approval = TaskContext(
        kind="results_approval", form_schema=BUILTIN_FORMS[RESULTS_APPROVAL], subject_id="@Sales"
    )
    assert {fill_task(approval, rng)["decision"] for _ in range(30)} == {"approve"}


def test_a_schema_the_faker_cannot_satisfy_is_reported() -> None:
    schema = {"type": "object", "required": ["id"], "properties": {"id": {"pattern": "^Z{3}$"}}}
    with pytest.raises(FakeFormError):
        SchemaFaker(random.Random(1)).generate(
            {**schema, "properties": {"id": {"type": "string", "pattern": "^Z{3}$"}}}
        )


def test_360_tasks_are_filled() -> None:
    rng = random.Random(2)
    nomination = TaskContext(
        kind="peer_nomination",
        form_schema=BUILTIN_FORMS[PEER_NOMINATION],
        subject_id="E010",
        prefill={"peers": ["E011", "E012"]},
    )
    assert fill_task(nomination, rng) == {"peers": ["E011", "E012"]}
    approval = TaskContext(
        kind="peer_approval",
        form_schema=BUILTIN_FORMS[PEER_APPROVAL],
        subject_id="E010",
        prefill={"nominated": ["E011", "E012"]},
    )
    decisions = [fill_task(approval, rng) for _ in range(60)]
    assert {} in decisions
    assert any(d.get("remove") == ["E012"] for d in decisions)
    schema = json.loads((FORMS / "peer-review.schema.json").read_text())
    review = TaskContext(
        kind="peer_review",
        form_schema=schema,
        subject_id="E010",
        competencies=["collaboration"],
        may_decline=True,
    )
    payloads = [fill_task(review, rng) for _ in range(100)]
    declines = [p for p in payloads if p.get("decline") is True]
    assert 0 < len(declines) < 20
    assert all(validation_errors(BUILTIN_FORMS[DECLINE], p) == [] for p in declines)
    assert all(validation_errors(schema, p) == [] for p in payloads if p not in declines)
