"""The stock cycles and task forms shipped in `definitions/`.

Every stock cycle loads (structure, forms and semantic checks), sits at the path its name
and version promise, and opens with the editor's schema line. Every form is a draft
2020-12 object schema used by at least one stock cycle, accepts a realistic payload and
refuses an obviously wrong one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from ruamel.yaml import YAML

from definitions.loader import load_file

DEFINITIONS = Path(__file__).resolve().parents[2] / "definitions"
CYCLES = sorted((DEFINITIONS / "cycles").glob("*/*.yaml"))
FORMS = sorted((DEFINITIONS / "forms").glob("*.schema.json"))
SCHEMA_LINE = "# yaml-language-server: $schema=../../schema/cycle.schema.json"
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"


def _cycle_id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def _form_id(path: Path) -> str:
    return path.name.removesuffix(".schema.json")


def _schema(form_id: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(
        (DEFINITIONS / "forms" / f"{form_id}.schema.json").read_text(encoding="utf-8")
    )
    return schema


def test_stock_files_exist() -> None:
    assert {_cycle_id(p) for p in CYCLES} >= {
        "annual-review/v1.yaml",
        "quarterly-okr/v1.yaml",
        "probation-review/v1.yaml",
    }
    assert FORMS, "no form files in definitions/forms"


@pytest.mark.parametrize("path", CYCLES, ids=_cycle_id)
def test_stock_cycle_loads(path: Path) -> None:
    loaded = load_file(path)

    definition = loaded.definition
    assert definition.metadata.name == path.parent.name
    assert path.stem == f"v{definition.metadata.version}"
    assert loaded.ref == f"{path.parent.name}@{path.stem[1:]}"
    assert path.read_text(encoding="utf-8").splitlines()[0] == SCHEMA_LINE
    assert set(loaded.form_schemas) == definition.form_ids()


@pytest.mark.parametrize("path", CYCLES, ids=_cycle_id)
def test_editor_schema_accepts_stock_cycle(path: Path) -> None:
    """What the schema line gives editors must not underline a valid stock cycle."""
    schema_file = DEFINITIONS / "schema" / "cycle.schema.json"
    if not schema_file.is_file():
        pytest.skip("definitions/schema/cycle.schema.json is not generated yet")
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    document = json.loads(json.dumps(YAML(typ="safe", pure=True).load(path), default=str))

    errors = [
        f"{list(error.absolute_path)}: {error.message}"
        for error in Draft202012Validator(schema).iter_errors(document)
    ]

    assert errors == []


@pytest.mark.parametrize("path", FORMS, ids=_form_id)
def test_form_is_a_draft_2020_12_object_schema(path: Path) -> None:
    schema = json.loads(path.read_text(encoding="utf-8"))

    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == DRAFT_2020_12
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert schema["title"]
    assert schema["description"]
    assert schema["required"], "a form with no required field accepts an empty submission"


def test_every_form_is_used_by_a_stock_cycle() -> None:
    used = {form.schema_file for path in CYCLES for form in load_file(path).definition.forms}
    orphans = sorted(path.name for path in FORMS if path.name not in used)
    assert orphans == [], f"forms no stock cycle references: {orphans}"


def test_every_form_has_sample_payloads() -> None:
    assert sorted(SAMPLES) == sorted(_form_id(p) for p in FORMS)


# --- sample payloads: (valid, invalid) per form ----------------------------------------

OKR_GOAL = {
    "title": "Halve the time to onboard a customer",
    "type": "okr",
    "weight": 50,
    "parent_id": "dept-eng-2",
    "key_results": [
        {"title": "Median onboarding time", "committed": True, "target": 3, "unit": "days"},
        {"title": "Self-serve setups", "committed": False, "target": 40, "unit": "%"},
    ],
}
KPI_GOAL = {
    "title": "Keep first response time low",
    "type": "kpi",
    "weight": 30,
    "parent_id": "dept-ops-1",
    "metric": "First response time",
    "unit": "hours",
    "direction": "lower",
    "threshold": 8,
    "target": 4,
    "stretch": 2,
}
DEVELOPMENT_GOAL = {
    "title": "Learn to facilitate design reviews",
    "type": "development",
    "weight": 20,
    "description": "Run three design reviews with coaching from a staff engineer.",
}
REVIEW = {
    "competencies": {"delivers-results": 4, "collaboration": 3, "growth": 5},
    "rating": 4,
    "strengths": "Drove the billing migration end to end.",
    "improvements": "Share plans earlier with adjacent teams.",
}

Sample = tuple[dict[str, Any], dict[str, Any], tuple[tuple[str | int, ...], str]]
"""(a valid payload, an invalid one, (where the one error is, its JSON Schema keyword))."""

SAMPLES: dict[str, Sample] = {
    "goal-draft": (
        {"goals": [OKR_GOAL, KPI_GOAL, DEVELOPMENT_GOAL]},
        # an OKR without key results
        {"goals": [{k: v for k, v in OKR_GOAL.items() if k != "key_results"}]},
        (("goals", 0), "required"),
    ),
    "goal-review": (
        {"decision": "approve"},
        # returned without saying why
        {"decision": "return"},
        ((), "required"),
    ),
    "goal-realign": (
        {
            "reason": "priority_change",
            "explanation": "The EU launch moved to Q3; the onboarding OKR replaces it.",
            "goals": [{**OKR_GOAL, "id": "G-17", "weight": 70}, {**KPI_GOAL, "id": "G-18"}],
        },
        {"reason": "priority_change", "explanation": "The launch moved to Q3.", "goals": []},
        (("goals",), "minItems"),
    ),
    "department-objectives": (
        {
            "objectives": [
                {
                    "title": "Make onboarding self-serve",
                    "parent_id": "org-1",
                    "owner": "E020",
                    "key_results": [
                        {"title": "Self-serve setups", "committed": True, "target": 50, "unit": "%"}
                    ],
                }
            ]
        },
        # every department objective supports a company objective
        {"objectives": [{"title": "Unaligned objective"}]},
        (("objectives", 0), "required"),
    ),
    "checkin": (
        {
            "goals": [
                {"goal_id": "G-17", "progress": 0.4, "confidence": 4},
                {"goal_id": "G-18", "progress": 0.1, "confidence": 2, "comment": "Hiring gap."},
            ],
            "blockers": [{"description": "Waiting for the pricing API", "help_needed": True}],
            "notes": "Good sprint otherwise.",
        },
        # progress is a fraction, not a percentage
        {"goals": [{"goal_id": "G-17", "progress": 40, "confidence": 4}]},
        (("goals", 0, "progress"), "maximum"),
    ),
    "coaching": (
        {
            "coaching_note": "The KPI slipped because of two open roles; we re-planned.",
            "agreed_actions": [
                {
                    "title": "Pair with support lead on triage",
                    "owner": "employee",
                    "due": "2027-06-30",
                }
            ],
            "goal_change_needed": False,
        },
        {
            "coaching_note": "We talked about the slipping KPI.",
            "agreed_actions": [{"title": "Something", "owner": "hr"}],
        },
        (("agreed_actions", 0, "owner"), "enum"),
    ),
    "peer-nomination": (
        {"peers": ["E031", "E044", "E052"]},
        {"peers": ["E031", "E031"]},
        (("peers",), "uniqueItems"),
    ),
    "self-review": (
        {**REVIEW, "achievements": "Shipped the new invoicing flow."},
        {**REVIEW, "rating": 6},
        (("rating",), "maximum"),
    ),
    "manager-review": (
        {k: v for k, v in REVIEW.items() if k != "competencies"},
        {**REVIEW, "competencies": {"collaboration": 3.5}},
        (("competencies", "collaboration"), "type"),
    ),
    "peer-review": (
        {k: v for k, v in REVIEW.items() if k != "rating"},
        {**REVIEW, "competencies": {"Not An Id": 3}},
        (("competencies",), "pattern"),  # of propertyNames
    ),
    "upward-review": (
        REVIEW,
        # anonymous: the reviewer's name is never part of the answer
        {**REVIEW, "reviewer": "E031"},
        ((), "additionalProperties"),
    ),
    "calibration-adjustment": (
        {
            "adjustments": [
                {
                    "employee_id": "E031",
                    "rating": 3,
                    "reason": "Goal attainment was 78%, in line with other 'meets' ratings.",
                }
            ],
            "notes": "Sales was above the guideline for rating 4 before the session.",
        },
        # a calibration change always has a reason
        {"adjustments": [{"employee_id": "E031", "rating": 4}]},
        (("adjustments", 0), "required"),
    ),
    "interview-minutes": (
        {
            "sections": {"look-back": "A strong year, the billing migration above all."},
            "strengths": "Ownership and delivery.",
            "development_areas": "Earlier stakeholder communication.",
            "action_items": [
                {
                    "title": "Present at the architecture forum",
                    "due": "2028-03-31",
                    "owner": "employee",
                }
            ],
            "agreed_next_goals": ["Lead the EU payments rollout"],
        },
        {
            "strengths": "Ownership.",
            "development_areas": "Communication.",
            "action_items": [{"title": "Present", "due": "31.3.2028", "owner": "employee"}],
        },
        (("action_items", 0, "due"), "pattern"),
    ),
    "acknowledgment": (
        {"decision": "acknowledge"},
        # disagreement needs a comment
        {"decision": "disagree"},
        ((), "required"),
    ),
    "potential-assessment": (
        {
            "potential": "high",
            "rationale": "Took over a second team mid-year and grew it quickly.",
            "readiness": "one_to_two_years",
        },
        {"potential": "very high", "rationale": "Took over a second team mid-year."},
        (("potential",), "enum"),
    ),
    "results-approval": (
        {"decision": "return", "comments": "Two Sales increases exceed the matrix; please fix."},
        {"decision": "maybe"},
        (("decision",), "enum"),
    ),
}


@pytest.mark.parametrize("form_id", sorted(SAMPLES))
def test_form_accepts_a_valid_payload(form_id: str) -> None:
    valid, _, _ = SAMPLES[form_id]
    validator = Draft202012Validator(_schema(form_id))

    errors = [error.message for error in validator.iter_errors(valid)]

    assert errors == []


@pytest.mark.parametrize("form_id", sorted(SAMPLES))
def test_form_refuses_an_invalid_payload(form_id: str) -> None:
    _, invalid, expected = SAMPLES[form_id]
    validator = Draft202012Validator(_schema(form_id))

    errors = [
        (tuple(error.absolute_path), error.validator) for error in validator.iter_errors(invalid)
    ]

    assert errors == [expected]


@pytest.mark.parametrize("form_id", sorted(SAMPLES))
def test_form_refuses_unknown_fields(form_id: str) -> None:
    valid, _, _ = SAMPLES[form_id]

    assert not Draft202012Validator(_schema(form_id)).is_valid({**valid, "unexpected": 1})


def test_goal_types_only_take_their_own_fields() -> None:
    validator = Draft202012Validator(_schema("goal-draft"))

    assert not validator.is_valid({"goals": [{**DEVELOPMENT_GOAL, "metric": "NPS"}]})
    assert not validator.is_valid({"goals": [{**KPI_GOAL, "key_results": OKR_GOAL["key_results"]}]})
    assert not validator.is_valid({"goals": [{k: v for k, v in KPI_GOAL.items() if k != "unit"}]})
    assert not validator.is_valid({"goals": [{**OKR_GOAL, "weight": 0}]})


def test_disagreeing_with_a_comment_is_accepted() -> None:
    validator = Draft202012Validator(_schema("acknowledgment"))

    assert validator.is_valid({"decision": "disagree", "comment": "The rating ignores Q4."})


def test_calibration_without_changes_is_accepted() -> None:
    validator = Draft202012Validator(_schema("calibration-adjustment"))

    assert validator.is_valid({"adjustments": []})


def test_nine_box_potential_field_matches_its_form() -> None:
    loaded = load_file(DEFINITIONS / "cycles" / "annual-review" / "v1.yaml")
    nine_box = getattr(loaded.definition.phase("results"), "nine_box", None)
    assert nine_box is not None

    form = loaded.form_schemas[nine_box.potential.form]
    field = form["properties"][nine_box.potential.field]

    assert field["enum"] == ["low", "medium", "high"]
