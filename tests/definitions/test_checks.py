"""The semantic checks, one failing case per rule, through the real loader.

Each case starts from `valid_cycle()` (a complete five-phase cycle that passes every
check), changes one thing, loads it as JSON text (JSON is YAML) and expects a problem
with the given key path and message fragment, located at the line that holds the fault.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from definitions.errors import DefinitionError, Problem
from definitions.loader import LoadedDefinition, load_text

DRAFT = "https://json-schema.org/draft/2020-12/schema"


def _form(*properties: str) -> dict[str, Any]:
    return {
        "$schema": DRAFT,
        "type": "object",
        "properties": {name: {"type": "string"} for name in properties},
    }


FORMS: dict[str, dict[str, Any]] = {
    "goal-draft": _form("goals"),
    "checkin": _form("progress", "confidence"),
    "coaching": _form("notes"),
    "self-review": _form("rating", "comments"),
    "manager-review": _form("rating", "competencies", "comments"),
    "peer-review": _form("competencies", "comments"),
    "upward-review": _form("rating", "comments"),
    "nomination": _form("peers"),
    "calibration": _form("rating", "reason"),
    "minutes": _form("summary"),
    "acknowledgment": _form("agree"),
    "potential": _form("potential"),
}


def valid_cycle() -> dict[str, Any]:
    """A five-phase cycle that uses every checked feature and passes every check."""
    bands = ["low", "mid", "high"]
    return {
        "apiVersion": "perfloop.io/v1",
        "kind": "Cycle",
        "metadata": {
            "name": "annual-review",
            "version": 1,
            "title": "Annual review",
            "owner": "People Ops",
        },
        "calendar": {"start": "2027-01-04", "length": "P1Y", "timezone": "Europe/Berlin"},
        "roles": {"hr_admins": ["e-hr-1"], "hrbp": {"Engineering": ["e-hrbp-1"]}},
        "forms": [{"id": name, "schema_file": f"{name}.schema.json"} for name in FORMS],
        "phases": [
            {
                "id": "goals",
                "kind": "goal_setting",
                "window": {"opens": "P0D", "due": "P30D"},
                "reminders": [{"before_due": "P7D"}, {"after_open": "P3D"}],
                "escalation": {"after": "P3D", "to": "hrbp"},
                "when": "participant.tenure_days >= 30",
                "goal_types": ["okr", "kpi", "development"],
                "type_weights": {"okr": 50, "kpi": 30, "development": 20},
                "min_goals": 2,
                "min_goal_weight": 10,
                "forms": {"draft": "goal-draft"},
            },
            {
                "id": "monitoring",
                "kind": "monitoring",
                "window": {"opens": "P30D", "due": "P10M"},
                "checkins": {"cadence": "P2W", "form": "checkin"},
                "progress_sources": [
                    {"id": "jira", "kind": "webhook"},
                    {"id": "github", "kind": "github_issues", "url": "https://api.github.com"},
                ],
                "anomaly_rules": [
                    {
                        "id": "behind-plan",
                        "when": "progress < expected_by_now - 0.2",
                        "action": "coach",
                        "form": "coaching",
                    },
                    {
                        "id": "silent",
                        "when": "days_since_checkin > 21 && checkins_missed >= 2",
                        "action": "notify",
                    },
                ],
            },
            {
                "id": "evaluation",
                "kind": "evaluation",
                "window": {"opens": "P10M", "due": "P11M"},
                "sources": {
                    "goal_attainment": 40,
                    "self_review": 10,
                    "manager_review": 35,
                    "peer_review": 15,
                },
                "peers": {"min_peers": 3, "max_peers": 5},
                "anonymity": {"peers": {"scores_threshold": 3, "comments_threshold": 3}},
                "competencies": [
                    {"id": "delivery", "title": "Delivery"},
                    {"id": "collaboration", "title": "Collaboration"},
                ],
                "rating_scale": {
                    "levels": [
                        {"value": 1, "label": "Below", "min_score": 0, "max_score": 1.5},
                        {"value": 2, "label": "Partly meets", "min_score": 1.5, "max_score": 2.5},
                        {"value": 3, "label": "Meets", "min_score": 2.5, "max_score": 3.5},
                        {"value": 4, "label": "Exceeds", "min_score": 3.5, "max_score": 4.5},
                        {"value": 5, "label": "Outstanding", "min_score": 4.5, "max_score": 5},
                    ]
                },
                "calibration": {
                    "calibrators": ["hrbp"],
                    "guideline": [
                        {"rating": 1, "percent": 5},
                        {"rating": 2, "percent": 15},
                        {"rating": 3, "percent": 50},
                        {"rating": 4, "percent": 22.5},
                        {"rating": 5, "percent": 7.5},
                    ],
                    "form": "calibration",
                },
                "forms": {
                    "self_review": "self-review",
                    "manager_review": "manager-review",
                    "peer_review": "peer-review",
                    "nomination": "nomination",
                },
            },
            {
                "id": "interview",
                "kind": "interview",
                "window": {"opens": "P11M", "due": "P11M14D"},
                "template": [
                    {
                        "id": "look-back",
                        "title": "Looking back",
                        "prefill": [
                            "rating",
                            "goal_attainment",
                            "checkin_highlights",
                            "significant_events",
                        ],
                    },
                    {"id": "ahead", "title": "Looking ahead"},
                ],
                "minutes": {"form": "minutes"},
                "acknowledgment": {"form": "acknowledgment", "on_timeout": "hrbp"},
            },
            {
                "id": "results",
                "kind": "results",
                "window": {"opens": "P11M14D", "due": "P1Y"},
                "merit_matrix": {
                    "compa_ratio_bands": [
                        {"id": "low", "max": 0.9},
                        {"id": "mid", "min": 0.9, "max": 1.1},
                        {"id": "high", "min": 1.1},
                    ],
                    "rows": [
                        {
                            "rating": rating,
                            "increases": {
                                band: {"min_percent": rating - 1, "max_percent": rating + 1}
                                for band in bands
                            },
                        }
                        for rating in range(1, 6)
                    ],
                },
                "budget": {"percent_of_payroll": 3.5},
                "bonus": {
                    "formula": "base_salary * target_percent / 100 * (rating >= 4 ? 1.5 : 1)"
                },
                "nine_box": {
                    "performance": {"low": [1, 2], "medium": [3], "high": [4, 5]},
                    "potential": {"form": "potential"},
                },
                "succession": {"candidate_boxes": [{"performance": "high", "potential": "high"}]},
                "approval": {"by": "hrbp"},
            },
        ],
    }


def render(cycle: dict[str, Any]) -> str:
    return json.dumps(cycle, indent=2)


def load(
    cycle: dict[str, Any], tmp_path: Path, forms: dict[str, dict[str, Any]] | None = None
) -> LoadedDefinition:
    for name, schema in (forms or FORMS).items():
        (tmp_path / f"{name}.schema.json").write_text(json.dumps(schema), encoding="utf-8")
    return load_text(render(cycle), file="cycle.yaml", forms_dir=tmp_path)


def problems_of(
    cycle: dict[str, Any], tmp_path: Path, forms: dict[str, dict[str, Any]] | None = None
) -> list[Problem]:
    with pytest.raises(DefinitionError) as caught:
        load(cycle, tmp_path, forms)
    return list(caught.value.problems)


def line_of(text: str, needle: str, nth: int = 0) -> int:
    hits = [number for number, line in enumerate(text.splitlines(), 1) if needle in line]
    assert len(hits) > nth, f"{needle!r} occurs {len(hits)} times"
    return hits[nth]


# --- the baseline ---------------------------------------------------------------------


def test_the_baseline_passes_every_check(tmp_path: Path) -> None:
    loaded = load(valid_cycle(), tmp_path)
    assert [phase.kind for phase in loaded.definition.phases] == [
        "goal_setting",
        "monitoring",
        "evaluation",
        "interview",
        "results",
    ]


def test_check_definition_yields_nothing_for_the_baseline(tmp_path: Path) -> None:
    from definitions.checks import check_definition

    loaded = load(valid_cycle(), tmp_path)
    assert list(check_definition(loaded.definition, loaded.form_schemas)) == []


# --- one case per rule ----------------------------------------------------------------

Mutation = Callable[[dict[str, Any]], Any]


@dataclass(frozen=True)
class Case:
    id: str
    mutate: Mutation
    path: str
    message: str
    line: tuple[str, int] | None  # a needle on the fault's line, and which occurrence
    forms: dict[str, dict[str, Any]] | None = None
    offset: int = 0  # the fault's line relative to the needle's (an opening "{" line)


def phase(cycle: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(p for p in cycle["phases"] if p["kind"] == kind)


def drop_phase(cycle: dict[str, Any], kind: str) -> None:
    cycle["phases"] = [p for p in cycle["phases"] if p["kind"] != kind]


def setting(path: str, value: Any) -> Mutation:
    """`setting("evaluation.sources.peer_review", 10)`: set a key under the phase of that
    kind (the first part), creating nothing; `value` DELETE removes the key."""

    def mutate(cycle: dict[str, Any]) -> None:
        kind, *keys = path.split(".")
        node: Any = phase(cycle, kind)
        for key in keys[:-1]:
            node = node[int(key)] if isinstance(node, list) else node[key]
        last = keys[-1]
        if value is DELETE:
            del node[last]
        elif isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return mutate


DELETE = object()


def both(*mutations: Mutation) -> Mutation:
    def mutate(cycle: dict[str, Any]) -> None:
        for mutation in mutations:
            mutation(cycle)

    return mutate


def _two_monitoring(cycle: dict[str, Any]) -> None:
    extra = copy.deepcopy(phase(cycle, "monitoring"))
    extra["id"] = "monitoring-2"
    cycle["phases"].insert(2, extra)


def _swap_interview_results(cycle: dict[str, Any]) -> None:
    phases = cycle["phases"]
    phases[3], phases[4] = phases[4], phases[3]


def _add_form(cycle: dict[str, Any]) -> None:
    cycle["forms"].append({"id": "checkin", "schema_file": "checkin.schema.json"})


def _no_hrbp(cycle: dict[str, Any]) -> None:
    cycle["roles"] = {}


EVAL = "phases[2]"
RESULTS = "phases[4]"
MERIT = f"{RESULTS}.merit_matrix"

CASES = [
    # ids
    Case(
        "duplicate-phase-id",
        setting("results.id", "interview"),
        f"{RESULTS}.id",
        'duplicate phase id "interview" (also phases[3])',
        ('"id": "interview"', 1),
    ),
    Case(
        "duplicate-form-id",
        _add_form,
        "forms[12].id",
        'duplicate form id "checkin" (also forms[1])',
        ('"id": "checkin"', 1),
    ),
    Case(
        "duplicate-competency",
        setting("evaluation.competencies.1.id", "delivery"),
        f"{EVAL}.competencies[1].id",
        'duplicate competency id "delivery" (also competencies[0])',
        ('"id": "delivery"', 1),
    ),
    Case(
        "duplicate-anomaly-rule",
        setting("monitoring.anomaly_rules.1.id", "behind-plan"),
        "phases[1].anomaly_rules[1].id",
        'duplicate anomaly rule id "behind-plan" (also anomaly_rules[0])',
        ('"id": "behind-plan"', 1),
    ),
    Case(
        "duplicate-progress-source",
        setting("monitoring.progress_sources.1.id", "jira"),
        "phases[1].progress_sources[1].id",
        'duplicate progress source id "jira" (also progress_sources[0])',
        ('"id": "jira"', 1),
    ),
    Case(
        "duplicate-template-section",
        setting("interview.template.1.id", "look-back"),
        "phases[3].template[1].id",
        'duplicate template section id "look-back" (also template[0])',
        ('"id": "look-back"', 1),
    ),
    Case(
        "duplicate-compa-band",
        both(
            setting("results.merit_matrix.compa_ratio_bands.2.id", "mid"),
        ),
        f"{MERIT}.compa_ratio_bands[2].id",
        'duplicate compa-ratio band id "mid" (also compa_ratio_bands[1])',
        ('"id": "mid"', 1),
    ),
    Case(
        "duplicate-merit-row",
        setting("results.merit_matrix.rows.1.rating", 1),
        f"{MERIT}.rows[1].rating",
        "duplicate merit row for rating 1 (also rows[0])",
        ('"rating": 1,', 2),  # guideline, row 0, row 1
    ),
    Case(
        "duplicate-guideline",
        setting("evaluation.calibration.guideline.1.rating", 1),
        f"{EVAL}.calibration.guideline[1].rating",
        "duplicate guideline for rating 1 (also guideline[0])",
        ('"rating": 1,', 1),
    ),
    Case(
        "duplicate-label",
        setting("evaluation.rating_scale.levels.1.label", "below"),
        f"{EVAL}.rating_scale.levels[1].label",
        'duplicate label "below" (also levels[0])',
        ('"label": "below"', 0),
    ),
    Case(
        "repeated-goal-type",
        setting("goal_setting.goal_types", ["okr", "kpi", "development", "okr"]),
        "phases[0].goal_types[3]",
        '"okr" is listed twice (also goal_types[0])',
        ('"okr"', 1),
    ),
    # phases
    Case(
        "two-monitoring-phases",
        _two_monitoring,
        "phases[2].kind",
        "a cycle has at most one monitoring phase; phases[1] is one already",
        ('"kind": "monitoring"', 1),
    ),
    Case(
        "phase-order",
        _swap_interview_results,
        "phases[4].kind",
        'interview phase "interview" must come before results phase "results" (phases[3]); '
        "the order is goal_setting, monitoring, evaluation, interview, results",
        ('"kind": "interview"', 0),
    ),
    Case(
        "monitoring-needs-goal-setting",
        lambda c: drop_phase(c, "goal_setting"),
        "phases[0].kind",
        "a monitoring phase needs a goal_setting phase before it (there is none)",
        ('"kind": "monitoring"', 0),
    ),
    Case(
        "interview-needs-evaluation",
        lambda c: drop_phase(c, "evaluation"),
        "phases[2].kind",
        "an interview phase needs an evaluation phase before it (there is none)",
        ('"kind": "interview"', 0),
    ),
    # windows
    Case(
        "window-unplaceable",
        setting("results.window.due", "P8000Y"),
        f"{RESULTS}.window.due",
        "cannot place P8000Y on the calendar: year 10027 is out of range",
        ('"due": "P8000Y"', 0),
    ),
    Case(
        "calendar-unplaceable",
        lambda c: c["calendar"].update(length="P9999Y"),
        "calendar.length",
        "cannot place P9999Y on the calendar",
        ('"length": "P9999Y"', 0),
    ),
    Case(
        "opens-before-start",
        setting("goal_setting.window.opens", "2026-12-01"),
        "phases[0].window.opens",
        "opens 2026-12-01 is before the cycle starts (2027-01-04)",
        ('"opens": "2026-12-01"', 0),
    ),
    Case(
        "opens-after-end",
        setting("results.window", {"opens": "P1Y", "due": "P13M"}),
        f"{RESULTS}.window.opens",
        "opens P1Y (2028-01-04) is not before the cycle ends (2028-01-04 = 2027-01-04 + P1Y)",
        ('"opens": "P1Y"', 0),
    ),
    Case(
        "due-not-after-opens",
        setting("goal_setting.window.due", "P0D"),
        "phases[0].window.due",
        "due P0D (2027-01-04) must be after opens P0D (2027-01-04)",
        ('"due": "P0D"', 0),
    ),
    Case(
        "due-after-end",
        setting("results.window.due", "P13M"),
        f"{RESULTS}.window.due",
        "due P13M (2028-02-04) is after the cycle ends (2028-01-04 = 2027-01-04 + P1Y)",
        ('"due": "P13M"', 0),
    ),
    Case(
        "phase-opens-before-previous",
        setting("interview.window.opens", "P9M"),
        "phases[3].window.opens",
        'opens P9M (2027-10-04), before phase "evaluation" opens (P10M (2027-11-04)); '
        "phases open in the order they are listed",
        ('"opens": "P9M"', 0),
    ),
    Case(
        "reminder-before-due-too-long",
        setting("goal_setting.reminders.0.before_due", "P30D"),
        "phases[0].reminders[0].before_due",
        "reminder P30D before due falls before the window opens (the window is 30 days long)",
        ('"before_due": "P30D"', 0),
    ),
    Case(
        "reminder-after-open-too-long",
        setting("goal_setting.reminders.1.after_open", "P5W"),
        "phases[0].reminders[1].after_open",
        "reminder P5W after opening falls after the due date (the window is 30 days long)",
        ('"after_open": "P5W"', 0),
    ),
    Case(
        "checkin-cadence-too-long",
        setting("monitoring.checkins.cadence", "P300D"),
        "phases[1].checkins.cadence",
        "check-in cadence P300D is not shorter than the monitoring window (274 days)",
        ('"cadence": "P300D"', 0),
    ),
    # forms
    Case(
        "undeclared-form",
        setting("monitoring.checkins.form", "check-in"),
        "phases[1].checkins.form",
        'form "check-in" is not declared in forms (did you mean "checkin"?); declared: '
        "goal-draft, checkin, coaching",
        ('"form": "check-in"', 0),
    ),
    Case(
        "undeclared-approval-form",
        setting("results.approval.form", "approval"),
        f"{RESULTS}.approval.form",
        'form "approval" is not declared in forms',
        ('"form": "approval"', 0),
    ),
    Case(
        "self-review-weight-needs-form",
        setting("evaluation.forms.self_review", DELETE),
        f"{EVAL}.forms.self_review",
        "self_review weight 10 needs forms.self_review",
        ('"forms": {', 1),  # the key is missing: its parent's line
    ),
    Case(
        "scored-form-needs-rating",
        lambda c: None,
        f"{EVAL}.forms.manager_review",
        'form "manager-review" feeds the manager_review score but has neither a "rating" nor '
        'a "competencies" property (it has: comments)',
        ('"manager_review": "manager-review"', 0),
        forms={**FORMS, "manager-review": _form("comments")},
    ),
    Case(
        "potential-field-missing",
        setting("results.nine_box.potential.field", "potential_level"),
        f"{RESULTS}.nine_box.potential.field",
        'form "potential" has no property "potential_level" (it has: potential)',
        ('"field": "potential_level"', 0),
    ),
    # weights
    Case(
        "sources-sum",
        setting("evaluation.sources.peer_review", 10),
        f"{EVAL}.sources",
        "evaluation sources must sum to 100, got 95 (goal_attainment 40 + self_review 10 + "
        "manager_review 35 + peer_review 10)",
        ('"sources": {', 0),
    ),
    Case(
        "type-weight-outside-goal-types",
        setting("goal_setting.goal_types", ["okr", "kpi"]),
        "phases[0].type_weights.development",
        'type_weights names "development", which is not in goal_types (okr, kpi)',
        ('"development": 20', 0),
    ),
    Case(
        "type-weight-missing",
        setting("goal_setting.type_weights", {"okr": 70, "kpi": 30}),
        "phases[0].type_weights",
        'type_weights has no weight for goal type "development"',
        ('"type_weights": {', 0),
    ),
    Case(
        "type-weights-sum",
        setting("goal_setting.type_weights.okr", 60),
        "phases[0].type_weights",
        "type_weights must sum to 100, got 110 (okr 60 + kpi 30 + development 20)",
        ('"type_weights": {', 0),
    ),
    Case(
        "min-goals-overfill",
        both(setting("goal_setting.min_goals", 5), setting("goal_setting.min_goal_weight", 25)),
        "phases[0].min_goal_weight",
        "min_goals 5 x min_goal_weight 25 = 125, more than 100",
        ('"min_goal_weight": 25', 0),
    ),
    Case(
        "guideline-sum",
        setting("evaluation.calibration.guideline.4.percent", 10),
        f"{EVAL}.calibration.guideline",
        "calibration guideline percents must sum to 100, got 102.5 (rating 1: 5 + rating 2: 15 "
        "+ rating 3: 50 + rating 4: 22.5 + rating 5: 10)",
        ('"guideline": [', 0),
    ),
    Case(
        "goal-attainment-needs-goal-setting",
        both(lambda c: drop_phase(c, "goal_setting"), lambda c: drop_phase(c, "monitoring")),
        "phases[0].sources.goal_attainment",
        "goal_attainment weight 40 needs a goal_setting phase",
        ('"goal_attainment": 40', 0),
    ),
    # rating scale
    Case(
        "level-values-increase",
        setting("evaluation.rating_scale.levels.2.value", 2),
        f"{EVAL}.rating_scale.levels[2].value",
        "level values must increase strictly, got 2 after 2",
        ('"value": 2', 1),
    ),
    Case(
        "level-band-empty",
        setting("evaluation.rating_scale.levels.4.max_score", 4.5),
        f"{EVAL}.rating_scale.levels[4].max_score",
        "max_score 4.5 must be greater than min_score 4.5",
        ('"max_score": 4.5', 1),
    ),
    Case(
        "level-bands-contiguous",
        setting("evaluation.rating_scale.levels.1.min_score", 1.6),
        f"{EVAL}.rating_scale.levels[1].min_score",
        "min_score 1.6 must equal the max_score 1.5 of the level before: score bands are "
        "contiguous",
        ('"min_score": 1.6', 0),
    ),
    Case(
        "guideline-rating-off-scale",
        setting("evaluation.calibration.guideline.4.rating", 6),
        f"{EVAL}.calibration.guideline[4].rating",
        "rating 6 is not on the rating scale (1, 2, 3, 4, 5)",
        ('"rating": 6', 0),
    ),
    # peers and anonymity
    Case(
        "peer-weight-needs-peers",
        setting("evaluation.peers", DELETE),
        f"{EVAL}.peers",
        "peer_review weight 15 needs a peers section (who nominates, how many peers)",
        ('"id": "evaluation"', 0),  # absent key: the line of the phase's "{"
        offset=-1,
    ),
    Case(
        "anonymity-for-silent-group",
        setting("evaluation.anonymity.direct_reports", {"scores_threshold": 3}),
        f"{EVAL}.anonymity.direct_reports",
        "anonymity for direct_reports is set, but no direct_reports reviews are collected "
        "(upward_review weight is 0 and there is no forms.upward_review)",
        ('"direct_reports": {', 0),
    ),
    Case(
        "roll-into-itself",
        setting(
            "evaluation.anonymity.peers",
            {"below_threshold": "roll_into", "roll_into": "peers"},
        ),
        f"{EVAL}.anonymity.peers.roll_into",
        "peers may not roll into itself",
        ('"roll_into": "peers"', 0),
    ),
    Case(
        "roll-into-cycle",
        both(
            setting("evaluation.forms.upward_review", "upward-review"),
            setting(
                "evaluation.anonymity",
                {
                    "peers": {"below_threshold": "roll_into", "roll_into": "direct_reports"},
                    "direct_reports": {"below_threshold": "roll_into", "roll_into": "peers"},
                },
            ),
        ),
        f"{EVAL}.anonymity.peers.roll_into",
        "roll_into forms a cycle: peers -> direct_reports -> peers",
        ('"roll_into": "direct_reports"', 0),
    ),
    Case(
        "roll-into-silent-group",
        setting(
            "evaluation.anonymity.peers",
            {"below_threshold": "roll_into", "roll_into": "direct_reports"},
        ),
        f"{EVAL}.anonymity.peers.roll_into",
        "rolls into direct_reports, but no direct_reports reviews are collected",
        ('"roll_into": "direct_reports"', 0),
    ),
    # results
    Case(
        "merit-row-missing",
        lambda c: phase(c, "results")["merit_matrix"]["rows"].pop(),
        f"{MERIT}.rows",
        "merit matrix has no row for rating 5 (the rating scale has 1, 2, 3, 4, 5)",
        ('"rows": [', 0),
    ),
    Case(
        "merit-row-off-scale",
        setting("results.merit_matrix.rows.4.rating", 7),
        f"{MERIT}.rows[4].rating",
        "rating 7 is not on the rating scale (1, 2, 3, 4, 5)",
        ('"rating": 7', 0),
    ),
    Case(
        "merit-increase-missing-band",
        setting("results.merit_matrix.rows.0.increases.high", DELETE),
        f"{MERIT}.rows[0].increases",
        'no increase for compa-ratio band "high"; expected one per band: low, mid, high',
        ('"increases": {', 0),
    ),
    Case(
        "merit-increase-unknown-band",
        setting("results.merit_matrix.rows.0.increases.top", {"min_percent": 1, "max_percent": 2}),
        f"{MERIT}.rows[0].increases.top",
        'unknown compa-ratio band "top"; bands: low, mid, high',
        ('"top": {', 0),
    ),
    Case(
        "band-open-inside",
        setting("results.merit_matrix.compa_ratio_bands.1.min", DELETE),
        f"{MERIT}.compa_ratio_bands[1]",
        'band "mid" needs a min: only the first band may be open below',
        ('"id": "mid"', 0),
        offset=-1,
    ),
    Case(
        "band-open-above-inside",
        setting("results.merit_matrix.compa_ratio_bands.1.max", DELETE),
        f"{MERIT}.compa_ratio_bands[1]",
        'band "mid" needs a max: only the last band may be open above',
        ('"id": "mid"', 0),
        offset=-1,
    ),
    Case(
        "band-min-above-max",
        setting("results.merit_matrix.compa_ratio_bands.1.max", 0.8),
        f"{MERIT}.compa_ratio_bands[1].max",
        "max 0.8 must be greater than min 0.9",
        ('"max": 0.8', 0),
    ),
    Case(
        "bands-contiguous",
        setting("results.merit_matrix.compa_ratio_bands.2.min", 1.2),
        f"{MERIT}.compa_ratio_bands[2].min",
        'min 1.2 must equal the max 1.1 of band "mid" before it: bands are ascending and '
        "contiguous",
        ('"min": 1.2', 0),
    ),
    Case(
        "budget-needs-merit",
        setting("results.merit_matrix", DELETE),
        f"{RESULTS}.budget",
        "budget needs a merit_matrix (the budget caps merit increases)",
        ('"budget": {', 0),
    ),
    Case(
        "nine-box-off-scale",
        setting("results.nine_box.performance.high", [4, 5, 6]),
        f"{RESULTS}.nine_box.performance.high[2]",
        "rating 6 is not on the rating scale (1, 2, 3, 4, 5)",
        ('"high": [', 0),
        offset=3,
    ),
    Case(
        "nine-box-twice",
        setting("results.nine_box.performance.medium", [3, 4]),
        f"{RESULTS}.nine_box.performance.high[0]",
        "rating 4 is already in medium",
        ('"high": [', 0),
        offset=1,
    ),
    Case(
        "nine-box-missing",
        setting("results.nine_box.performance.medium", []),
        f"{RESULTS}.nine_box.performance",
        "rating 3 is in none of low, medium, high; every rating needs exactly one",
        ('"performance": {', 0),
    ),
    Case(
        "nine-box-ascending",
        both(
            setting("results.nine_box.performance.low", [3]),
            setting("results.nine_box.performance.medium", [1, 2]),
        ),
        f"{RESULTS}.nine_box.performance.medium",
        "medium ratings must all be above low ratings, got 1 in medium and 3 in low",
        ('"medium": [', 0),
    ),
    Case(
        "succession-needs-nine-box",
        setting("results.nine_box", DELETE),
        f"{RESULTS}.succession",
        "succession needs a nine_box (candidates are chosen by their 9-box position)",
        ('"succession": {', 0),
    ),
    # interview
    Case(
        "prefill-needs-monitoring",
        lambda c: drop_phase(c, "monitoring"),
        "phases[2].template[0].prefill[2]",
        "prefill checkin_highlights needs a monitoring phase",
        ('"checkin_highlights"', 0),
    ),
    Case(
        "prefill-needs-significant-events",
        setting("monitoring.significant_events", {"enabled": False}),
        "phases[3].template[0].prefill[3]",
        "prefill significant_events needs monitoring with significant_events enabled",
        ('"significant_events"', 1),
    ),
    # expressions
    Case(
        "phase-when-unknown-variable",
        setting("goal_setting.when", "tenure_days > 30"),
        "phases[0].when",
        'unknown variable "tenure_days"; a phase\'s when may use: participant',
        ('"when": "tenure_days > 30"', 0),
    ),
    Case(
        "anomaly-when-syntax",
        setting("monitoring.anomaly_rules.0.when", "progress < "),
        "phases[1].anomaly_rules[0].when",
        "CEL syntax error at column 12: the expression ends too early",
        ('"when": "progress < "', 0),
    ),
    Case(
        "anomaly-when-typo",
        setting("monitoring.anomaly_rules.0.when", "progres < 0.5"),
        "phases[1].anomaly_rules[0].when",
        'unknown variable "progres" (did you mean "progress"?); an anomaly rule\'s when may '
        "use: blocked_count, checkins_missed",
        ('"when": "progres < 0.5"', 0),
    ),
    Case(
        "bonus-formula-not-a-number",
        setting("results.bonus.formula", "rating >= 4"),
        f"{RESULTS}.bonus.formula",
        "the bonus formula must give a number, got true or false",
        ('"formula": "rating >= 4"', 0),
    ),
    # roles
    Case(
        "hrbp-routing-needs-people",
        _no_hrbp,
        "phases[0].escalation.to",
        "escalation to hrbp needs roles.hrbp (HR business partners per department) or "
        "roles.hr_admins, who stand in for departments without one; both are empty",
        ('"to": "hrbp"', 0),
    ),
    Case(
        "hrbp-department-empty",
        lambda c: c["roles"]["hrbp"].update(Sales=[]),
        "roles.hrbp.Sales",
        'no HR business partner listed for department "Sales"',
        ('"Sales": []', 0),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_each_rule_reports_its_fault_at_its_line(case: Case, tmp_path: Path) -> None:
    cycle = valid_cycle()
    case.mutate(cycle)
    problems = problems_of(cycle, tmp_path, case.forms)
    matching = [p for p in problems if p.path == case.path and case.message in p.message]
    assert matching, "\n".join(str(p) for p in problems)
    if case.line is not None:
        needle, nth = case.line
        expected = line_of(render(cycle), needle, nth) + case.offset
        lines = {p.line for p in matching}
        assert expected in lines, (expected, [str(p) for p in matching])
    assert all(p.file == "cycle.yaml" for p in problems)


# --- more than one case at a time, and what is not reported -------------------------


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    cycle = valid_cycle()
    setting("evaluation.sources.peer_review", 10)(cycle)
    setting("monitoring.checkins.form", "nope")(cycle)
    setting("results.bonus.formula", "bonus_pool * 2")(cycle)
    setting("goal_setting.window.due", "P0D")(cycle)
    problems = problems_of(cycle, tmp_path)
    assert {p.path for p in problems} == {
        f"{EVAL}.sources",
        "phases[1].checkins.form",
        f"{RESULTS}.bonus.formula",
        "phases[0].window.due",
    }
    assert [p.line for p in problems] == sorted(p.line or 0 for p in problems)


def test_a_missing_form_file_is_reported_once_by_the_loader(tmp_path: Path) -> None:
    forms = {name: schema for name, schema in FORMS.items() if name != "manager-review"}
    problems = problems_of(valid_cycle(), tmp_path, forms)
    assert len(problems) == 1, [str(p) for p in problems]
    assert "manager-review.schema.json" in problems[0].message


def test_weights_are_not_checked_for_forms_of_unweighted_sources(tmp_path: Path) -> None:
    cycle = valid_cycle()
    setting("evaluation.forms.upward_review", "upward-review")(cycle)
    forms = {**FORMS, "upward-review": _form("comments")}
    load(cycle, tmp_path, forms)  # upward_review weight 0: a comments-only form is fine


def test_hrbp_falls_back_to_hr_admins(tmp_path: Path) -> None:
    cycle = valid_cycle()
    cycle["roles"] = {"hr_admins": ["e-hr-1"]}
    load(cycle, tmp_path)


def test_a_roll_into_an_active_group_is_fine(tmp_path: Path) -> None:
    cycle = valid_cycle()
    setting("evaluation.forms.upward_review", "upward-review")(cycle)
    setting(
        "evaluation.anonymity",
        {
            "peers": {"scores_threshold": 3},
            "direct_reports": {"below_threshold": "roll_into", "roll_into": "peers"},
        },
    )(cycle)
    load(cycle, tmp_path)


def test_open_bands_only_at_the_ends_and_a_single_open_band(tmp_path: Path) -> None:
    cycle = valid_cycle()
    results = phase(cycle, "results")
    results["merit_matrix"]["compa_ratio_bands"] = [{"id": "all"}]
    for row in results["merit_matrix"]["rows"]:
        row["increases"] = {"all": {"min_percent": 0, "max_percent": 3}}
    load(cycle, tmp_path)


def test_dates_as_window_points(tmp_path: Path) -> None:
    cycle = valid_cycle()
    setting("goal_setting.window", {"opens": "2027-01-04", "due": "2027-02-03"})(cycle)
    load(cycle, tmp_path)


def test_phases_may_be_left_out(tmp_path: Path) -> None:
    cycle = valid_cycle()
    drop_phase(cycle, "goal_setting")
    drop_phase(cycle, "monitoring")
    drop_phase(cycle, "interview")
    setting("evaluation.sources", {"manager_review": 70, "self_review": 10, "peer_review": 20})(
        cycle
    )
    load(cycle, tmp_path)


def test_durations_the_engine_cannot_use_are_refused(tmp_path: Path) -> None:
    cycle = valid_cycle()
    setting("goal_setting.reminders.0.before_due", "PT200000M")(cycle)
    problems = problems_of(cycle, tmp_path)
    assert [(p.path, p.message) for p in problems] == [
        (
            "phases[0].reminders[0].before_due",
            'cannot use "PT200000M": duration part minutes=200000 is too large',
        )
    ]
